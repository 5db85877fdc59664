"""The rclone / aws sync options end to end on a real S3 server (SeaweedFS): --size-only, --ignore-existing,
--update, --backup-dir and --min-size."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from objstore import ObjectStorageService
from tests.conformance.test_s3 import s3_adapter
from tests.harness.files import write_tree as tree


@pytest.fixture
def store(s3_server: Any, s3_bucket: str) -> ObjectStorageService:
    return ObjectStorageService(s3_adapter(s3_server, s3_bucket))


def contents(store: ObjectStorageService, prefix: str) -> dict[str, bytes]:
    cut = len(prefix) + 1
    return {info.key[cut:]: store.get_object("", info.key) for info in store.iter_objects(prefix)}


def modified(path: Path, hours: float) -> None:
    """Set a file's modification time ``hours`` from now (negative: in the past)."""
    when = time.time() + hours * 3600
    os.utime(path, (when, when))


def test_size_only_leaves_a_same_size_edit_on_s3(store: ObjectStorageService, tmp_path: Path) -> None:
    folder, state = tree(tmp_path / "src", {"a.txt": b"v1", "b.txt": b"b"}), tmp_path / "state"
    store.push(folder, "data", state_dir=state)
    (folder / "a.txt").write_bytes(b"v2")
    (folder / "b.txt").write_bytes(b"bigger")
    report = store.push(folder, "data", state_dir=state, size_only=True)
    assert report.ok, report.summary()
    assert contents(store, "data") == {"a.txt": b"v1", "b.txt": b"bigger"}


def test_ignore_existing_never_overwrites_on_s3(store: ObjectStorageService, tmp_path: Path) -> None:
    store.put_object("data", "a.txt", b"remote")
    folder = tree(tmp_path / "src", {"a.txt": b"local", "b.txt": b"new"})
    report = store.push(folder, "data", state_dir=tmp_path / "state", ignore_existing=True)
    assert report.ok, report.summary()
    assert contents(store, "data") == {"a.txt": b"remote", "b.txt": b"new"}


def test_update_skips_what_is_newer_on_s3(store: ObjectStorageService, tmp_path: Path) -> None:
    folder, state = tree(tmp_path / "src", {"a.txt": b"v1"}), tmp_path / "state"
    store.push(folder, "data", state_dir=state)
    (folder / "a.txt").write_bytes(b"v2, older than the upload")
    modified(folder / "a.txt", -1)
    skipped = store.push(folder, "data", state_dir=state, update=True)
    assert skipped.ok, skipped.summary()
    assert skipped.counts == {"skip": 1}
    assert contents(store, "data") == {"a.txt": b"v1"}
    modified(folder / "a.txt", 1)
    sent = store.push(folder, "data", state_dir=state, update=True)
    assert sent.ok, sent.summary()
    assert sent.counts == {"upload": 1}
    assert contents(store, "data") == {"a.txt": b"v2, older than the upload"}


def test_backup_dir_keeps_overwritten_and_deleted_objects_on_s3(store: ObjectStorageService, tmp_path: Path) -> None:
    files = {"a.txt": b"v1", "gone.txt": b"g", "sub/b.txt": b"b1"}
    folder, state = tree(tmp_path / "src", files), tmp_path / "state"
    store.push(folder, "data", state_dir=state)
    (folder / "a.txt").write_bytes(b"v2")
    (folder / "sub" / "b.txt").write_bytes(b"b2")
    (folder / "gone.txt").unlink()
    report = store.push(folder, "data", state_dir=state, backup_dir="backup/2026", suffix=".old")
    assert report.ok, report.summary()
    assert contents(store, "data") == {"a.txt": b"v2", "sub/b.txt": b"b2"}
    assert contents(store, "backup/2026") == {"a.txt.old": b"v1", "gone.txt.old": b"g", "sub/b.txt.old": b"b1"}
    store.put_object("data", "a.txt", b"v3")
    pulled = store.pull("data", folder, state_dir=state, backup_dir=str(tmp_path / "local-backup"))
    assert pulled.ok, pulled.summary()
    assert (folder / "a.txt").read_bytes() == b"v3"
    assert (tmp_path / "local-backup" / "a.txt").read_bytes() == b"v2"


def test_min_size_leaves_small_objects_out_on_s3(store: ObjectStorageService, tmp_path: Path) -> None:
    store.put_object("data", "small-remote.txt", b"s")  # left out: not deleted by the mirror
    folder = tree(tmp_path / "src", {"small.txt": b"s", "big.bin": b"b" * 4096})
    report = store.push(folder, "data", state_dir=tmp_path / "state", min_size=1024)
    assert report.ok, report.summary()
    assert contents(store, "data") == {"big.bin": b"b" * 4096, "small-remote.txt": b"s"}
