"""`make storage-push` / `make storage-pull` end to end, through make itself: what the README tells users to run."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.harness.files import s3_child_env

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def make(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


@pytest.fixture
def env(s3_server: Any, tmp_path: Path) -> dict[str, str]:
    return s3_child_env(s3_server, tmp_path)


def test_a_url_with_an_ampersand_and_a_folder_with_spaces_arrive_intact(
    env: dict[str, str], s3_server: Any, tmp_path: Path
) -> None:
    bucket = f"make-{uuid.uuid4().hex[:10]}"  # created by the push itself: create_bucket=true after the '&'
    folder = tmp_path / "my storage"
    (folder / "sub dir").mkdir(parents=True)
    (folder / "sub dir" / "it's here.txt").write_text("made by make")
    store = f"s3://{bucket}/p q?hierarchical=true&create_bucket=true"
    pushed = make("storage-push", f"STORE={store}", f"STORAGE={folder}", env=env)
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    body = s3_server.client().get_object(Bucket=bucket, Key="p q/sub dir/it's here.txt")["Body"].read()
    assert body == b"made by make"
    back = tmp_path / "pulled back"
    pulled = make("storage-pull", f"STORE={store}", f"STORAGE={back}", "ARGS=--quiet --checksum", env=env)
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    assert (back / "sub dir" / "it's here.txt").read_text() == "made by make"


def test_a_failing_push_makes_make_fail(env: dict[str, str], tmp_path: Path) -> None:
    folder = tmp_path / "storage"
    folder.mkdir()
    (folder / "a.txt").write_text("a")
    missing = f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/p?hierarchical=true&retry=false"
    result = make("storage-push", f"STORE={missing}", f"STORAGE={folder}", env=env)
    assert result.returncode != 0
    assert "objstore: error:" in result.stderr
    assert "bucket does not exist" in result.stderr


def test_args_pass_options_without_globbing(env: dict[str, str], tmp_path: Path, s3_server: Any) -> None:
    folder = tmp_path / "storage"
    folder.mkdir()
    (folder / "keep.txt").write_text("k")
    (folder / "drop.md").write_text("d")  # unglobbed, *.md leaves it out; globbed in make's folder, README.md
    bucket = s3_server.make_bucket(f"make-{uuid.uuid4().hex[:10]}")
    store = f"s3://{bucket}/p?hierarchical=true"
    result = make("storage-push", f"STORE={store}", f"STORAGE={folder}", "ARGS=--exclude *.md", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    keys = [item["Key"] for item in s3_server.client().list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == ["p/keep.txt"]
