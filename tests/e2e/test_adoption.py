"""Coming from ``aws s3 sync``: a first objstore push over a prefix the aws CLI filled sends no byte again.

The aws CLI (real, in a virtualenv of its own) uploads single-part objects whose etag is the MD5 of their bytes;
objstore's first push, with no state, compares each file's MD5 with the listed etag and records equal ones as
synced. Changed files (same size, other bytes) are sent.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

from objstore import ObjectStorageFactory
from tests.harness.peers import aws_cli


def _aws_sync(s3_server: Any, folder: Path, url: str, tmp_path: Path) -> None:
    credentials = tmp_path / "aws-credentials"  # a file, so no secret is on the command line
    credentials.write_text(
        f"[default]\naws_access_key_id = {s3_server.access_key_id}\n"
        f"aws_secret_access_key = {s3_server.secret_access_key}\n"
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    command = [
        aws_cli(),
        "s3",
        "sync",
        str(folder),
        url,
        "--endpoint-url",
        s3_server.endpoint_url,
        "--only-show-errors",
    ]
    subprocess.run(command, env=env, check=True, timeout=300, capture_output=True)


def test_a_first_push_after_aws_s3_sync_sends_nothing_but_what_changed(
    s3_server: Any, s3_bucket: str, tmp_path: Path
) -> None:
    folder = tmp_path / "data"
    for index in range(60):
        path = folder / f"d{index % 4}" / f"f{index}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"file {index}\n".encode() * (index + 1))
    prefix = f"adopted/{uuid.uuid4().hex}"
    _aws_sync(s3_server, folder, f"s3://{s3_bucket}/{prefix}", tmp_path)

    (folder / "d1" / "f1.txt").write_bytes(b"FILE 1\n" * 2)  # the same size, other bytes
    store = ObjectStorageFactory.ObjectStorageServiceS3(
        s3_server.access_key_id, s3_server.secret_access_key, s3_bucket, prefix, endpoint_url=s3_server.endpoint_url
    )
    report = store.push(folder, state_dir=tmp_path / "state")
    assert report.ok, report.failures
    assert report.bytes_transferred == len(b"FILE 1\n" * 2)
    assert report.counts.get("upload", 0) == 1
    assert store.get_object("d1", "f1.txt") == b"FILE 1\n" * 2

    again = store.push(folder, state_dir=tmp_path / "state")  # recorded as synced: nothing compared or sent
    assert (again.bytes_transferred, again.counts.get("upload", 0)) == (0, 0)


def test_a_first_pull_into_a_folder_aws_filled_reads_nothing_but_what_changed(
    s3_server: Any, s3_bucket: str, tmp_path: Path
) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    for index in range(20):
        (folder / f"f{index}.bin").write_bytes(bytes([index]) * (1000 + index))
    prefix = f"adopted/{uuid.uuid4().hex}"
    _aws_sync(s3_server, folder, f"s3://{s3_bucket}/{prefix}", tmp_path)
    (folder / "f3.bin").write_bytes(b"\xff" * 1003)  # changed locally: the pull brings the store's copy back
    store = ObjectStorageFactory.ObjectStorageServiceS3(
        s3_server.access_key_id, s3_server.secret_access_key, s3_bucket, prefix, endpoint_url=s3_server.endpoint_url
    )
    report = store.pull("", folder, state_dir=tmp_path / "state", force=True)
    assert report.ok, report.failures
    assert report.bytes_transferred == 1003
    assert (folder / "f3.bin").read_bytes() == bytes([3]) * 1003
