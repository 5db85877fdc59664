"""``objstore doctor`` and ``objstore completion`` end to end, on the S3 test server (SeaweedFS) and a folder store:
each check's line, the exit code of the first failure, a dead endpoint reported in seconds, no secret printed,
and no probe object left behind."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.harness.servers import free_port

# The command line, with the doctor and completion modules imported (as objstore.cli's __init__ does once they
# are registered there), run as the installed ``objstore`` script is: its program name decides the completion
# variable.
OBJSTORE = [
    sys.executable,
    "-c",
    "import objstore.cli.doctor, objstore.cli.completion; from objstore.cli import main; main(prog_name='objstore')",
]
# The machine's CA bundles are for other servers; the test server speaks plain HTTP.
UNSET = ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "AWS_PROFILE", "OBJSTORE_URL", "NAAS_API_KEY")


def run(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    child = {name: value for name, value in os.environ.items() if name not in UNSET}
    return subprocess.run([*OBJSTORE, *args], capture_output=True, text=True, timeout=timeout, env={**child, **env})


def lines(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """Each check's line, by the check's name."""
    found = {}
    for line in result.stdout.splitlines():
        status, _, rest = line.partition(" ")
        name = rest.strip().split(":", 1)[0]
        found[name] = f"{status} {rest.strip()}"
    return found


@pytest.fixture
def s3_env(s3_server: Any, tmp_path: Path) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": s3_server.access_key_id,
        "AWS_SECRET_ACCESS_KEY": s3_server.secret_access_key,
        "AWS_ENDPOINT_URL": s3_server.endpoint_url,
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "OBJSTORE_HOME": str(tmp_path / "home"),
        "OBJSTORE_CONFIG": str(tmp_path / "config.toml"),
    }


def folder_url(bucket: str) -> str:
    return f"s3://{bucket}/doctor-{uuid.uuid4().hex}?hierarchical=true"


def test_doctor_passes_on_seaweedfs(s3_server: Any, s3_bucket: str, s3_env: dict[str, str]) -> None:
    url = folder_url(s3_bucket)
    result = run("doctor", env={**s3_env, "OBJSTORE_URL": url})
    assert result.returncode == 0, result.stdout + result.stderr
    checks = lines(result)
    assert list(checks) == ["configuration", "credentials", "reachability", "authentication", "clock", "write"]
    assert checks["configuration"].startswith("ok configuration: s3://")
    assert "(from OBJSTORE_URL)" in checks["configuration"]
    assert checks["credentials"] == "ok credentials: from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)"
    assert checks["reachability"].startswith("ok reachability: 127.0.0.1:")
    assert checks["authentication"].startswith("ok authentication: allowed to list")
    assert checks["clock"].startswith("ok clock: within")
    assert checks["write"] == "skip write: skipped write check (--write tries one small object)"
    assert result.stdout.splitlines()[0].startswith("ok   configuration: ")
    assert s3_server.secret_access_key not in result.stdout + result.stderr


def test_doctor_of_a_named_remote_as_json(s3_server: Any, s3_bucket: str, s3_env: dict[str, str]) -> None:
    Path(s3_env["OBJSTORE_CONFIG"]).write_text(
        f'[remotes.backup]\nurl = "s3://{s3_bucket}/doctor-{uuid.uuid4().hex}"\nhierarchical = true\n'
    )
    result = run("doctor", "backup:sub", "--json", env=s3_env)
    assert result.returncode == 0, result.stdout + result.stderr
    checks = json.loads(result.stdout)
    assert [check["status"] for check in checks] == ["ok", "ok", "ok", "ok", "ok", "skip"]
    assert "remote 'backup'" in checks[0]["detail"]
    assert "/sub" in checks[0]["detail"]


def test_a_wrong_secret_fails_authentication_with_exit_3_and_no_secret_shown(
    s3_server: Any, s3_bucket: str, s3_env: dict[str, str]
) -> None:
    wrong = "wrong-" + uuid.uuid4().hex
    env = {**s3_env, "AWS_SECRET_ACCESS_KEY": wrong, "OBJSTORE_URL": folder_url(s3_bucket)}
    result = run("doctor", env=env)
    assert result.returncode == 3, result.stdout + result.stderr
    checks = lines(result)
    assert checks["authentication"].startswith("FAIL authentication: the store refused the credentials")
    assert " - check the credentials" in checks["authentication"]
    assert checks["credentials"].startswith("ok credentials: from the environment")
    shown = result.stdout + result.stderr
    assert wrong not in shown
    assert s3_server.secret_access_key not in shown


def test_a_dead_endpoint_fails_reachability_within_seconds(s3_bucket: str, s3_env: dict[str, str]) -> None:
    port = free_port()
    env = {**s3_env, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "OBJSTORE_URL": folder_url(s3_bucket)}
    started = time.monotonic()
    result = run("doctor", "--write", env=env)
    elapsed = time.monotonic() - started
    assert elapsed < 20, elapsed
    assert result.returncode == 1, result.stdout + result.stderr
    checks = lines(result)
    assert checks["reachability"].startswith(f"FAIL reachability: cannot reach 127.0.0.1:{port}: ")
    assert checks["authentication"].startswith("skip authentication: not tried")
    assert checks["write"].startswith("skip write: not tried")


@contextlib.contextmanager
def server_with_clock_off_by(seconds: float) -> Iterator[str]:
    """An HTTP server whose Date header is ``seconds`` ahead, refusing every request (403)."""

    class Refusing(BaseHTTPRequestHandler):
        def answer(self) -> None:
            self.send_response_only(403)
            self.send_header("Date", formatdate(time.time() + seconds, usegmt=True))
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_HEAD = do_PUT = answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("seconds", "line"),
    [
        (-600, r"FAIL clock: the local clock is 60[01] s ahead of"),
        (90, r"warn clock: the local clock is (89|90) s behind"),
    ],
)
def test_clock_skew_is_reported(seconds: float, line: str, tmp_path: Path) -> None:
    env = {
        "AWS_ACCESS_KEY_ID": "DOCTORTESTKEY",
        "AWS_SECRET_ACCESS_KEY": "doctor-test-secret",
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "OBJSTORE_HOME": str(tmp_path / "home"),
    }
    with server_with_clock_off_by(seconds) as endpoint:
        result = run("doctor", "s3://bucket/dir", env={**env, "AWS_ENDPOINT_URL": endpoint})
    assert result.returncode == 3, result.stdout + result.stderr  # the refused listing comes first
    checks = lines(result)
    assert checks["authentication"].startswith("FAIL authentication: not allowed to list")
    assert re.match(line, checks["clock"]), checks["clock"]  # the Date header has whole seconds: one either way


@pytest.mark.parametrize("url", ["s3://", "nosuch://bucket/dir", "s3://bucket/dir#fragment"])
def test_a_malformed_url_is_a_configuration_failure_with_exit_2(url: str, tmp_path: Path) -> None:
    result = run("doctor", url, env={"OBJSTORE_HOME": str(tmp_path / "home")}, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout.startswith("FAIL configuration: ")
    assert " - fix the URL given" in result.stdout
    assert len(result.stdout.splitlines()) == 1


def test_write_leaves_no_probe_object(s3_server: Any, s3_bucket: str, s3_env: dict[str, str]) -> None:
    prefix = f"doctor-{uuid.uuid4().hex}"
    result = run("doctor", f"s3://{s3_bucket}/{prefix}?hierarchical=true", "--write", env=s3_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert lines(result)["write"].startswith("ok write: wrote and deleted a ")
    assert ".objstore-doctor-" in result.stdout
    listed = s3_server.client().list_objects_v2(Bucket=s3_bucket, Prefix=prefix)
    assert [item["Key"] for item in listed.get("Contents", [])] == []


def test_doctor_of_the_default_folder_store(tmp_path: Path) -> None:
    result = run("doctor", "--write", env={"OBJSTORE_HOME": str(tmp_path / "home")}, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    checks = lines(result)
    assert "(from the default store" in checks["configuration"]
    assert checks["credentials"] == "ok credentials: none needed (a local folder store)"
    assert checks["clock"].startswith("skip clock:")
    assert checks["write"].startswith("ok write: wrote and deleted")
    store = tmp_path / "home" / "store"
    assert not [path for path in store.rglob("*") if path.is_file() and ".objstore-doctor-" in path.name]


def test_the_bash_completion_script_and_what_it_asks_for(tmp_path: Path) -> None:
    script = run("completion", "bash", env={})
    assert script.returncode == 0, script.stderr
    assert "_OBJSTORE_COMPLETE" in script.stdout
    assert "complete " in script.stdout
    # What the script runs on Tab: the commands that start with what was typed.
    asked = run(env={"_OBJSTORE_COMPLETE": "bash_complete", "COMP_WORDS": "objstore doc", "COMP_CWORD": "1"})
    assert "plain,doctor" in asked.stdout.splitlines()


def test_completion_guesses_the_shell_from_the_environment() -> None:
    assert "compdef" in run("completion", env={"SHELL": "/usr/bin/zsh"}).stdout
    assert "complete --no-files --command objstore" in run("completion", env={"SHELL": "/usr/bin/fish"}).stdout
    unknown = run("completion", env={"SHELL": "/bin/tcsh"})
    assert unknown.returncode == 2
    assert "objstore completion bash|zsh|fish" in unknown.stderr
