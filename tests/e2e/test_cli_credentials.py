"""Credentials for other tools, end to end: ``objstore credential-process`` behind the real aws CLI (``aws s3 sync``
through a credential_process profile) and ``objstore dvc-remote`` behind real ``dvc push`` / ``dvc pull``, on the
S3 test server (SeaweedFS), and through the Naas test API with keys that really expire and are really renewed;
no credential on any process's command line, scanned while the tools run."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.harness.servers import ServerUnavailable, server_unavailable

ROOT = Path(__file__).resolve().parents[2]
NAAS_API_KEY = "naas-credentials-test-key"
LIFETIME = 8.0  # seconds a Naas key of these tests lives before the S3 server stops accepting it


def _registered() -> bool:
    from objstore.cli import app

    return "credential-process" in app._MODULE_OF


# Until app.py registers the commands, each Python started by these tests imports their module first (a
# sitecustomize that does nothing where objstore is not installed: the aws CLI's and DVC's own virtualenvs).
SHIM = ROOT / ".cache" / "credentials-shim"
OBJSTORE = [sys.executable, "-m", "objstore"]
# Settings of the machine that would change what the tools resolve.
UNSET = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_CA_BUNDLE",
    "REQUESTS_CA_BUNDLE",
    "OBJSTORE_URL",
    "NAAS_API_KEY",
    "NAAS_API_URL",
)


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in UNSET}
    env.update(
        HOME=str(tmp_path / "home"),
        OBJSTORE_CONFIG=str(tmp_path / "objstore.toml"),
        DVC_NO_ANALYTICS="1",
        AWS_EC2_METADATA_DISABLED="true",
    )
    (tmp_path / "home").mkdir(exist_ok=True)
    if not _registered():
        SHIM.mkdir(parents=True, exist_ok=True)
        (SHIM / "sitecustomize.py").write_text(
            "try:\n    import objstore.cli.credentials\nexcept ImportError:\n    pass\n", encoding="utf-8"
        )
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SHIM), env.get("PYTHONPATH")]))
    return {**env, **extra}


def run(
    command: list[str], env: dict[str, str], *, cwd: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, cwd=cwd, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"{shlex.join(command)} -> {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


class CommandLines:
    """Every process's command line, read from /proc while the tools run."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    with contextlib.suppress(OSError):  # a process that ended meanwhile
                        command = Path(f"/proc/{pid}/cmdline").read_bytes()
                        self.seen.add(command.replace(b"\0", b" ").decode("utf-8", "replace"))
            time.sleep(0.01)

    @contextlib.contextmanager
    def watching(self) -> Iterator[CommandLines]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join()

    def assert_none_of(self, secrets: list[str]) -> None:
        assert all(secrets), "every secret checked is a non-empty string"
        for line in self.seen:
            for secret in secrets:
                assert secret not in line, "a credential was on a command line"


def tool(name: str) -> str:
    from tests.harness.dvc import dvc_cli
    from tests.harness.peers import aws_cli

    try:
        return aws_cli() if name == "aws" else dvc_cli()
    except ServerUnavailable as exc:
        server_unavailable(f"{name} cli", str(exc))


@pytest.fixture
def short_naas(s3_server: Any) -> Iterator[Any]:
    """A Naas API whose keys live LIFETIME seconds: the S3 server refuses them from then on."""
    from tests.harness.naas_service import NaasService

    service = NaasService(s3_server, "naas-tests", api_key=NAAS_API_KEY, lifetime=LIFETIME, reuse=True).start()
    try:
        yield service
    finally:
        service.stop()


def naas_secrets(service: Any) -> list[str]:
    return [NAAS_API_KEY] + [part for key in service.issued for part in (key.access_key, key.secret_key)]


def wait_until_expired(service: Any) -> None:
    """Until every key issued so far has been revoked by the S3 server."""
    deadline = time.monotonic() + LIFETIME + 20
    while not all(key.revoked for key in service.issued):
        assert time.monotonic() < deadline, "the Naas keys were not revoked"
        time.sleep(0.2)
    time.sleep(1.5)  # the S3 server applies the revocation within about a second


# --- credential-process ----------------------------------------------------------------------------------------


def test_static_keys_of_an_s3_store_are_printed_without_an_expiration(tmp_path: Path) -> None:
    env = environment(tmp_path, AWS_ACCESS_KEY_ID="AKIDSTATICEXAMPLE", AWS_SECRET_ACCESS_KEY="static-secret-example")
    result = run([*OBJSTORE, "credential-process", "s3://bucket/prefix?endpoint_url=http://127.0.0.1:9"], env)
    assert json.loads(result.stdout) == {
        "Version": 1,
        "AccessKeyId": "AKIDSTATICEXAMPLE",
        "SecretAccessKey": "static-secret-example",
    }
    assert result.stderr == ""


def test_errors_are_one_line_with_the_exit_codes_of_every_command(tmp_path: Path, naas_service: Any) -> None:
    env = environment(tmp_path)
    other = run([*OBJSTORE, "credential-process", "gs://bucket/p"], env, check=False)
    assert (other.returncode, other.stdout) == (2, "")
    assert other.stderr.startswith("objstore: error: ")
    assert other.stderr.count("\n") == 1
    none = run([*OBJSTORE, "credential-process", "s3://bucket/p?endpoint_url=http://127.0.0.1:9"], env, check=False)
    assert (none.returncode, none.stdout) == (2, "")
    assert "no S3 credentials found" in none.stderr
    refused = run(
        [*OBJSTORE, "credential-process", "naas://ws/storage"],
        {**env, "NAAS_API_KEY": "wrong-key", "NAAS_API_URL": naas_service.url},
        check=False,
    )
    assert (refused.returncode, refused.stdout) == (3, "")
    assert refused.stderr.startswith("objstore: error: authentication failed")
    assert refused.stderr.count("\n") == 1
    loop = run(
        [*OBJSTORE, "credential-process", "naas://ws/storage"],
        {**env, "OBJSTORE_CREDENTIAL_PROCESS_ACTIVE": "s3://other\nnaas://ws/storage"},
        check=False,
    )
    assert loop.returncode == 2
    assert "started by itself" in loop.stderr


def test_naas_credentials_expire_in_utc_and_the_command_starts_fast(tmp_path: Path, naas_service: Any) -> None:
    from tests.conftest import NAAS_API_KEY as FIXTURE_KEY

    env = environment(tmp_path, NAAS_API_KEY=FIXTURE_KEY, NAAS_API_URL=naas_service.url)
    command = [*OBJSTORE, "credential-process", f"naas://ws-{uuid.uuid4().hex[:6]}/storage"]
    run(command, env)  # the API's first key for the test: issuing it is the test server's work, not ours
    started = time.perf_counter()
    result = run([sys.executable, "-X", "importtime", *command[1:]], env)
    elapsed = time.perf_counter() - started
    document = json.loads(result.stdout)
    assert set(document) == {"Version", "AccessKeyId", "SecretAccessKey", "Expiration"}
    assert document["Version"] == 1
    assert document["Expiration"].endswith("Z")
    expires = datetime.strptime(document["Expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert 1800 < (expires - datetime.now(timezone.utc)).total_seconds() <= 3600
    issued = naas_service.issued[-1]
    assert (document["AccessKeyId"], document["SecretAccessKey"]) == (issued.access_key, issued.secret_key)
    # Fast: no S3 SDK is loaded to ask the Naas API (importtime lists every module imported).
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert not {"boto3", "botocore", "objstore.adapters.s3"} & imported
    print(f"credential-process for Naas: {elapsed:.2f} s with -X importtime")
    assert elapsed < 3.0


def test_aws_s3_sync_through_a_credential_process_profile_renews_expiring_naas_keys(
    tmp_path: Path, s3_server: Any, short_naas: Any
) -> None:
    aws = tool("aws")
    workspace, storage = f"ws-{uuid.uuid4().hex[:6]}", "datasets"
    url = f"naas://{workspace}/{storage}"
    config = tmp_path / "aws-config"
    config.write_text(
        "[profile workspace]\n"
        f"credential_process = {shlex.join([*OBJSTORE, 'credential-process', url])}\n"
        "region = us-east-1\n"
        f"endpoint_url = {s3_server.endpoint_url}\n",
        encoding="utf-8",
    )
    env = environment(tmp_path, AWS_CONFIG_FILE=str(config), NAAS_API_KEY=NAAS_API_KEY, NAAS_API_URL=short_naas.url)
    target = f"s3://naas-tests/{workspace}/{storage}/synced"
    first, second = tmp_path / "first", tmp_path / "second"
    for folder, names in ((first, ["a.csv", "b/c.csv"]), (second, ["d.csv"])):
        for name in names:
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(f"{name}\n1,2,3\n")
    sync = [aws, "--profile", "workspace", "s3", "sync"]
    with CommandLines().watching() as lines:
        run([*sync, str(first), target], env)
        keys_before = len(short_naas.issued)
        wait_until_expired(short_naas)
        run([*sync, str(second), target], env)
        listed = run([aws, "--profile", "workspace", "s3", "ls", "--recursive", target + "/"], env)
    assert any("credential-process" in line for line in lines.seen), "the watcher saw the credential process"
    lines.assert_none_of(naas_secrets(short_naas))
    assert len(short_naas.issued) > keys_before, "new keys were fetched after the first ones expired"
    names = sorted(line.split()[-1] for line in listed.stdout.splitlines())
    assert names == [f"{workspace}/{storage}/synced/{name}" for name in ("a.csv", "b/c.csv", "d.csv")]


# --- dvc-remote ------------------------------------------------------------------------------------------------


def dvc_repo(dvc: str, tmp_path: Path, env: dict[str, str]) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    run([dvc, "init", "--no-scm", "-q"], env, cwd=repo)
    (repo / "data").mkdir()
    (repo / "data" / "table.csv").write_text("a,b\n1,2\n")
    (repo / "data" / "blob.bin").write_bytes(os.urandom(300_000))
    run([dvc, "add", "-q", "data"], env, cwd=repo)
    return repo


def push_forget_pull(dvc: str, repo: Path, env: dict[str, str], between: Callable[[], None] | None = None) -> None:
    """dvc push; the cache and the data deleted; dvc pull brings them back identical."""
    expected = {path.name: path.read_bytes() for path in (repo / "data").iterdir()}
    run([dvc, "push", "-q"], env, cwd=repo)
    shutil.rmtree(repo / ".dvc" / "cache")
    shutil.rmtree(repo / "data")
    if between is not None:
        between()
    run([dvc, "pull", "-q"], env, cwd=repo)
    assert {path.name: path.read_bytes() for path in (repo / "data").iterdir()} == expected


def test_dvc_remote_refuses_outside_a_repository_and_to_replace_without_force(tmp_path: Path) -> None:
    env = environment(tmp_path, AWS_ACCESS_KEY_ID="AKIDSTATICEXAMPLE", AWS_SECRET_ACCESS_KEY="static-secret-example")
    url = "s3://bucket/p?endpoint_url=http://127.0.0.1:9"
    outside = run([*OBJSTORE, "dvc-remote", "store", url], env, cwd=tmp_path, check=False)
    assert (outside.returncode, outside.stdout) == (2, "")
    assert "not in a DVC repository" in outside.stderr
    (tmp_path / ".dvc").mkdir()
    run([*OBJSTORE, "dvc-remote", "store", url, "--default"], env, cwd=tmp_path)
    again = run([*OBJSTORE, "dvc-remote", "store", url], env, cwd=tmp_path, check=False)
    assert again.returncode == 2
    assert "--force" in again.stderr
    run(
        [*OBJSTORE, "dvc-remote", "store", "s3://other/q?endpoint_url=http://127.0.0.1:9", "--force"], env, cwd=tmp_path
    )
    assert "url = s3://other/q" in (tmp_path / ".dvc" / "config").read_text()
    assert "remote = store" in (tmp_path / ".dvc" / "config").read_text()


def test_dvc_push_and_pull_with_keys_in_config_local_only(tmp_path: Path, s3_server: Any, s3_bucket: str) -> None:
    dvc = tool("dvc")
    env = environment(tmp_path)
    repo = dvc_repo(dvc, tmp_path, env)
    prefix = f"dvc-{uuid.uuid4().hex[:8]}"
    keys = {"AWS_ACCESS_KEY_ID": s3_server.access_key_id, "AWS_SECRET_ACCESS_KEY": s3_server.secret_access_key}
    url = f"s3://{s3_bucket}/{prefix}?endpoint_url={s3_server.endpoint_url}"
    with CommandLines().watching() as lines:
        run([*OBJSTORE, "dvc-remote", "store", url, "--default", "--credentials", "keys"], {**env, **keys}, cwd=repo)
        shared = (repo / ".dvc" / "config").read_text()
        local = repo / ".dvc" / "config.local"
        assert s3_server.secret_access_key not in shared
        assert s3_server.access_key_id not in shared
        assert s3_server.secret_access_key in local.read_text()
        assert stat.S_IMODE(local.stat().st_mode) == 0o600
        listed = run([dvc, "remote", "list"], env, cwd=repo).stdout
        assert f"s3://{s3_bucket}/{prefix}" in listed
        push_forget_pull(dvc, repo, env)  # DVC has no key but config.local's
    lines.assert_none_of([s3_server.access_key_id, s3_server.secret_access_key])
    assert any("dvc" in line and "push" in line for line in lines.seen), "the watcher saw dvc push"
    client = s3_server.client()
    stored = client.list_objects_v2(Bucket=s3_bucket, Prefix=prefix + "/").get("KeyCount", 0)
    assert stored >= 3  # the two files and the folder's listing, content-addressed


def test_dvc_push_and_pull_through_naas_renew_expiring_keys(tmp_path: Path, s3_server: Any, short_naas: Any) -> None:
    dvc = tool("dvc")
    env = environment(tmp_path, NAAS_API_KEY=NAAS_API_KEY, NAAS_API_URL=short_naas.url)
    repo = dvc_repo(dvc, tmp_path, env)
    workspace = f"ws-{uuid.uuid4().hex[:6]}"
    url = f"naas://{workspace}/models/dvc?endpoint_url={s3_server.endpoint_url}"
    with CommandLines().watching() as lines:
        made = run([*OBJSTORE, "dvc-remote", "naas", url, "--default"], env, cwd=repo)
        assert f"url = s3://naas-tests/{workspace}/models/dvc" in made.stdout
        shared = (repo / ".dvc" / "config").read_text()
        local = (repo / ".dvc" / "config.local").read_text()
        assert "profile = objstore-naas" in local
        assert "access_key_id" not in local + shared
        profile = (repo / ".dvc" / "objstore-aws-config").read_text()
        assert "credential_process" in profile
        assert NAAS_API_KEY not in profile
        before_pull: list[int] = []

        def expire() -> None:
            wait_until_expired(short_naas)
            before_pull.append(len(short_naas.issued))

        push_forget_pull(dvc, repo, env, between=expire)
    lines.assert_none_of(naas_secrets(short_naas))
    assert any("credential-process" in line for line in lines.seen), "the watcher saw the credential process"
    assert len(short_naas.issued) > before_pull[0], "dvc pull ran on keys fetched after the first ones expired"
    assert "/objstore-aws-config" in (repo / ".dvc" / ".gitignore").read_text()
