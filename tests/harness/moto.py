"""moto_server on loopback: an S3 server that keeps keys SeaweedFS refuses or rewrites (``a/../b``, ``a//b``,
control characters, backslashes, an object and a folder of the same name), for the tests of such keys.

Not a conformance target (no authentication, in memory), only a real HTTP S3 endpoint with AWS's key rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import boto3

from tests.harness.servers import ManagedServer, find_or_install, free_port

ACCESS_KEY = "moto-access-key"
SECRET_KEY = "moto-secret-key"  # noqa: S105 - moto accepts any


@dataclass(frozen=True)
class MotoServer:
    endpoint_url: str
    access_key_id: str = ACCESS_KEY
    secret_access_key: str = SECRET_KEY

    def client(self) -> object:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            region_name="us-east-1",
        )

    def env(self) -> dict[str, str]:
        """The environment a CLI run needs (credentials never on its command line)."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_DEFAULT_REGION": "us-east-1",
        }


def start_moto(log_dir: Path) -> tuple[ManagedServer, MotoServer]:
    executable = find_or_install("moto_server", "moto[server]")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    value = MotoServer(endpoint)

    def ready() -> bool:
        value.client().list_buckets()  # type: ignore[attr-defined]
        return True

    server = ManagedServer(
        "moto_server", [executable, "-H", "127.0.0.1", "-p", str(port)], log_dir=log_dir, ready=ready
    ).start()
    return server, value
