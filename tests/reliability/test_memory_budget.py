"""One memory budget for a whole sync: pushing and pulling many large files stays under a fixed ceiling.

The CLI runs in a child process with default options (8 jobs); its peak RSS is read from the kernel's
accounting of that one child (``os.wait4``), so neither the test process nor the S3 server counts. The child is
started by ``bench/launcher.py``, the benchmarks' small launcher: Linux carries a process's peak RSS across
``exec``, so a child forked straight from this test process (hundreds of MiB after a whole suite) would start
with the test process's peak as its own. The figure is quoted in docs/reliability.md ("Memory budget").
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

MiB = 1024 * 1024
FILES = 6
FILE_SIZE = 200 * MiB
CEILING_MIB = 256  # the documented ceiling for default options
OBJSTORE = Path(sys.executable).with_name("objstore")
LAUNCHER = Path(__file__).resolve().parents[2] / "bench" / "launcher.py"

pytestmark = pytest.mark.slow


def make_files(folder: Path) -> None:
    """Six 200 MiB files of random bytes, cheaply: one random MiB per file, written 200 times."""
    folder.mkdir()
    for index in range(FILES):
        block = os.urandom(MiB)
        with open(folder / f"large-{index}.bin", "wb") as handle:
            for _ in range(FILE_SIZE // MiB):
                handle.write(block)


def run_measured(args: list[str], env: dict[str, str], log: Path) -> tuple[int, float]:
    """Run the CLI through the launcher; return its exit code and its own peak RSS in MiB (this child only)."""
    request = {"argv": [str(OBJSTORE), *args], "env": env, "stdout": str(log), "timeout": 600}
    answer = subprocess.run(
        [sys.executable, str(LAUNCHER)],
        input=json.dumps(request) + "\n",
        capture_output=True,
        text=True,
        check=True,
        timeout=660,
    )
    result = json.loads(answer.stdout.splitlines()[-1])
    assert not result["timed_out"], f"objstore {args[0]} did not end within 600 s"
    if result["code"] != 0:
        log.write_text(log.read_text() + result["stderr"])
    return int(result["code"]), float(result["maxrss_kib"]) / 1024  # ru_maxrss is in KiB on Linux


@pytest.fixture
def cli_env(s3_server: Any, tmp_path: Path) -> dict[str, str]:
    """Credentials and endpoint only in the environment, as a user would give them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OBJSTORE_"))}
    env.update(
        {
            "AWS_ACCESS_KEY_ID": s3_server.access_key_id,
            "AWS_SECRET_ACCESS_KEY": s3_server.secret_access_key,
            "AWS_ENDPOINT_URL": s3_server.endpoint_url,
            "AWS_DEFAULT_REGION": "us-east-1",
            "OBJSTORE_HOME": str(tmp_path / "home"),
            "OBJSTORE_STATE_DIR": str(tmp_path / "state"),
        }
    )
    return env


def test_a_push_and_a_pull_of_six_200_mib_files_stay_under_the_ceiling(
    s3_server: Any, s3_bucket: str, cli_env: dict[str, str], tmp_path: Path
) -> None:
    source, target = tmp_path / "source", tmp_path / "target"
    prefix = f"memory-{uuid.uuid4().hex}"
    url = f"s3://{s3_bucket}/{prefix}"
    make_files(source)
    try:
        code, push_peak = run_measured(["push", str(source), url], cli_env, tmp_path / "push.log")
        assert code == 0, (tmp_path / "push.log").read_text()
        listed = s3_server.client().list_objects_v2(Bucket=s3_bucket, Prefix=f"{prefix}/")
        assert sorted((item["Key"], item["Size"]) for item in listed.get("Contents", [])) == [
            (f"{prefix}/large-{index}.bin", FILE_SIZE) for index in range(FILES)
        ]
        code, pull_peak = run_measured(["pull", url, str(target)], cli_env, tmp_path / "pull.log")
        assert code == 0, (tmp_path / "pull.log").read_text()
        for index in range(FILES):
            name = f"large-{index}.bin"
            assert (target / name).stat().st_size == FILE_SIZE
            with open(source / name, "rb") as expected, open(target / name, "rb") as got:
                assert expected.read(MiB) == got.read(MiB)
        print(f"peak RSS: push {push_peak:.0f} MiB, pull {pull_peak:.0f} MiB (ceiling {CEILING_MIB} MiB)")
        assert push_peak < CEILING_MIB, f"the push peaked at {push_peak:.0f} MiB"
        assert pull_peak < CEILING_MIB, f"the pull peaked at {pull_peak:.0f} MiB"
    finally:
        shutil.rmtree(source, ignore_errors=True)
        shutil.rmtree(target, ignore_errors=True)
        client = s3_server.client()
        for index in range(FILES):
            client.delete_object(Bucket=s3_bucket, Key=f"{prefix}/large-{index}.bin")
