"""Hostile local trees and hostile keys: a sync never writes or deletes outside its folder, never loses a file to
a name collision, names every key it could not sync (exit code 1), and keeps its state out of the data."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from objstore import ObjectStorageFactory
from objstore.adapters.memory import MemoryAdapter
from objstore.domain.models import ReadOptions
from objstore.domain.service import ObjectStorageService
from objstore.ports.storage import ForwardingAdapter

OBJSTORE = [sys.executable, "-m", "objstore"]


def run(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*OBJSTORE, *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **env}
    )


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    return {"OBJSTORE_HOME": str(tmp_path / "home"), "OBJSTORE_URL": "", "OBJSTORE_STATE_DIR": ""}


@pytest.fixture
def bucket(moto_s3: Any) -> str:
    name = f"hostile-{uuid.uuid4().hex[:12]}"
    moto_s3.client().create_bucket(Bucket=name)
    return name


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --- confinement ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", ["sub", "a/b", "a/b/c/d"])
def test_a_pull_never_writes_or_deletes_through_a_linked_folder(
    tmp_path: Path, home: dict[str, str], depth: str
) -> None:
    store_root = tmp_path / "store"
    store = ObjectStorageFactory.from_url(f"file://{store_root}")
    store.put_object("p", f"{depth}/file.txt", b"from the store")
    store.put_object("p", "top.txt", b"top")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "file.txt").write_bytes(b"outside: must survive")
    (outside / "other.txt").write_bytes(b"outside: must survive too")
    dest = tmp_path / "dest"
    link = dest / depth
    link.parent.mkdir(parents=True)
    link.symlink_to(outside, target_is_directory=True)
    before = snapshot(outside)
    for flags in ([], ["--delete", "--force"], ["--no-follow-symlinks", "--delete"]):
        result = run("pull", f"file://{store_root}", str(dest), "--prefix", "p", *flags, env=home)
        assert result.returncode == 1, result.stderr
        assert f"{depth}/file.txt" in result.stderr
        assert "symbolic link" in result.stderr
        assert snapshot(outside) == before
        assert link.is_symlink()
        assert (dest / "top.txt").read_bytes() == b"top"


def test_a_link_planted_during_a_pull_is_not_written_through(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    memory = MemoryAdapter()
    for key in ("a.txt", "sub/b.txt", "sub/deeper/c.txt"):
        memory.put_object("", key, key.encode())

    class PlantsALink(ForwardingAdapter):
        """Swaps dest/sub for a link to the outside folder once the plan is made, before the reads."""

        planted = False

        def open_object(self, prefix: str, key: str, options: ReadOptions) -> Any:
            if not self.planted and (dest / "sub").exists():
                self.planted = True
                for path in sorted((dest / "sub").rglob("*"), reverse=True):
                    path.rmdir() if path.is_dir() else path.unlink()
                (dest / "sub").rmdir()
                (dest / "sub").symlink_to(outside, target_is_directory=True)
            return self.inner.open_object(prefix, key, options)

    store = ObjectStorageService(PlantsALink(memory))
    store.pull("", dest, jobs=1, state_dir=tmp_path / "state")  # first pull creates dest/sub
    memory.put_object("", "sub/b.txt", b"changed")
    memory.put_object("", "sub/deeper/c.txt", b"changed")
    report = store.pull("", dest, jobs=1, state_dir=tmp_path / "state")
    assert list(outside.iterdir()) == []
    assert not report.ok


# --- collisions -----------------------------------------------------------------------------------------------


def test_an_object_and_a_folder_of_the_same_name_are_reported_and_never_lost(
    moto_s3: Any, bucket: str, tmp_path: Path, home: dict[str, str]
) -> None:
    client = moto_s3.client()
    client.put_object(Bucket=bucket, Key="p/x", Body=b"the file x")
    client.put_object(Bucket=bucket, Key="p/x/y", Body=b"inside the folder x")
    client.put_object(Bucket=bucket, Key="p/x-1", Body=b"sorts between")
    client.put_object(Bucket=bucket, Key="p/z", Body=b"ordinary")
    env = {**home, **moto_s3.env()}
    url = f"s3://{bucket}?endpoint_url={moto_s3.endpoint_url}"
    dest = tmp_path / "dest"
    pulled = run("pull", url, str(dest), "--prefix", "p", "--json", env=env)
    assert pulled.returncode == 1
    assert '"x"' in pulled.stdout
    assert '"x/y"' in pulled.stdout
    assert "x" not in os.listdir(dest)  # neither the file nor the folder was made
    assert (dest / "x-1").read_bytes() == b"sorts between"
    assert (dest / "z").read_bytes() == b"ordinary"
    # Nothing was recorded as synced for them: a push of the folder plans no delete of either.
    pushed = run("push", str(dest), url, "--prefix", "p", "--dry-run", env=env)
    assert "delete" not in pushed.stdout
    run("push", str(dest), url, "--prefix", "p", env=env)
    keys = {item["Key"] for item in client.list_objects_v2(Bucket=bucket)["Contents"]}
    assert {"p/x", "p/x/y", "p/x-1", "p/z"} <= keys
    # A local file standing where the store now has a folder is kept (it is not a copy the last sync made).
    (dest / "w").write_bytes(b"a local file")
    client.put_object(Bucket=bucket, Key="p/w/inner", Body=b"remote folder")
    again = run("pull", url, str(dest), "--prefix", "p", env=env)
    assert again.returncode == 1
    assert (dest / "w").read_bytes() == b"a local file"


# --- keys that cannot be files ----------------------------------------------------------------------------------


def test_keys_that_cannot_be_local_files_are_named_and_fail_the_run(
    moto_s3: Any, bucket: str, tmp_path: Path, home: dict[str, str]
) -> None:
    client = moto_s3.client()
    bad = ["p/a/../b.txt", "p/a//b.txt", "p/ctrl\x01.txt", "p/.objstore/syncing/evil.sqlite"]
    for key in [*bad, "p/good.txt", "p/folder/", "p/"]:
        client.put_object(Bucket=bucket, Key=key, Body=b"" if key.endswith("/") else b"data")
    env = {**home, **moto_s3.env()}
    url = f"s3://{bucket}?endpoint_url={moto_s3.endpoint_url}"
    dest = tmp_path / "dest"
    result = run("pull", url, str(dest), "--prefix", "p", "--json", env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    import json

    report = json.loads(result.stdout)
    named = set(report["skipped"])
    assert {"a/../b.txt", "a//b.txt", ".objstore/syncing/evil.sqlite"} <= named
    assert any(key.startswith("ctrl") for key in named)
    assert not any("folder" in key for key in named)  # folder markers are folders, not failures
    assert snapshot(dest) == {"good.txt": b"data"}
    text = run("pull", url, str(dest), "--prefix", "p", env=env)
    assert text.returncode == 1
    assert "a/../b.txt" in text.stderr
    # A push mirrors the folder but never deletes what it could not have pulled.
    run("push", str(dest), url, "--prefix", "p", "--force", env=env)
    keys = {item["Key"] for item in client.list_objects_v2(Bucket=bucket)["Contents"]}
    assert {"p/a/../b.txt", "p/a//b.txt", "p/.objstore/syncing/evil.sqlite"} <= keys


def test_a_backslash_key_round_trips_on_aws_rules(moto_s3: Any, bucket: str) -> None:
    store = ObjectStorageFactory.from_url(f"s3://{bucket}", endpoint_url=moto_s3.endpoint_url, **_creds(moto_s3))
    moto_s3.client().put_object(Bucket=bucket, Key="reports\\2026.csv", Body=b"windows")
    assert store.get_object("", "reports\\2026.csv") == b"windows"
    store.copy_object("", "reports\\2026.csv", "", "copy\\2026.csv")
    assert [info.key for info in store.iter_objects("")] == ["copy\\2026.csv", "reports\\2026.csv"]
    store.delete_object("", "reports\\2026.csv")
    assert store.delete_objects("", ["copy\\2026.csv"]).ok
    assert store.list_objects("") == []


def _creds(moto_s3: Any) -> dict[str, str]:
    return {"access_key_id": moto_s3.access_key_id, "secret_access_key": moto_s3.secret_access_key}


def test_a_backslash_is_a_literal_file_name_character_in_a_sync(tmp_path: Path, home: dict[str, str]) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / "reports\\2026.csv").write_bytes(b"csv")
    store = f"file://{tmp_path / 'store'}"
    assert run("push", str(source), store, env=home).returncode == 0
    dest = tmp_path / "dest"
    assert run("pull", store, str(dest), env=home).returncode == 0
    assert os.listdir(dest) == ["reports\\2026.csv"]


# --- state outside the data -------------------------------------------------------------------------------------


def test_a_push_leaves_a_read_only_source_as_it_was(tmp_path: Path, home: dict[str, str]) -> None:
    source = tmp_path / "snapshot"
    (source / "sub").mkdir(parents=True)
    (source / "a.txt").write_bytes(b"a")
    (source / "sub" / "b.txt").write_bytes(b"b")
    for path in (source / "sub", source):
        path.chmod(0o555)
    listing = sorted(os.walk(source))
    store = f"file://{tmp_path / 'store'}"
    try:
        dry = run("push", str(source), store, "--dry-run", env=home)
        assert dry.returncode == 0, dry.stderr
        assert not (tmp_path / "home").exists()  # a dry run creates nothing anywhere, no state either
        first = run("push", str(source), store, env=home)
        assert first.returncode == 0, first.stderr
        again = run("push", str(source), store, "--json", env=home)
        assert '"upload"' not in again.stdout  # the state (outside the folder) says nothing changed
        assert sorted(os.walk(source)) == listing
    finally:
        for path in (source, source / "sub"):
            path.chmod(0o755)


def test_two_folders_and_two_stores_never_share_a_state(tmp_path: Path, home: dict[str, str]) -> None:
    stores = [f"file://{tmp_path / name}" for name in ("s1", "s2")]
    folders = [tmp_path / name for name in ("f1", "f2")]
    for folder in folders:
        folder.mkdir()
        (folder / "same.txt").write_bytes(folder.name.encode())
    for store in stores:
        for folder in folders:
            assert run("push", str(folder), store, "--prefix", folder.name, env=home).returncode == 0
    states = list((tmp_path / "home" / "state" / "sync").glob("*.sqlite"))
    assert len(states) == 4


def test_an_in_tree_state_of_an_older_version_is_moved_out_once(tmp_path: Path, home: dict[str, str]) -> None:
    import hashlib
    import sqlite3

    store = ObjectStorageFactory.from_url(f"file://{tmp_path / 'store'}")
    source = tmp_path / "source"
    source.mkdir()
    (source / "a.txt").write_bytes(b"a")
    report = store.push(source, state_dir=tmp_path / "old")
    assert report.ok
    # Put that state where older versions kept it, as they named it.
    legacy = source / ".objstore" / "sync"
    legacy.mkdir(parents=True)
    digest = hashlib.sha256(f"{store.store_identity}|".encode()).hexdigest()[:24]
    state_file = next((tmp_path / "old" / "sync").glob("*.sqlite"))
    with sqlite3.connect(state_file) as db, sqlite3.connect(legacy / f"{digest}.sqlite") as copy:
        db.backup(copy)
    report = store.push(source, state_dir=tmp_path / "new", dry_run=True)
    assert report.counts == {"skip": 1}  # read in place by a dry run, which moves nothing
    assert (legacy / f"{digest}.sqlite").exists()
    report = store.push(source, state_dir=tmp_path / "new")
    assert report.counts == {"skip": 1}
    assert not (source / ".objstore").exists()  # moved out, and the empty folder removed
    assert len(list((tmp_path / "new" / "sync").glob("*.sqlite"))) == 1


def test_read_commands_create_nothing(tmp_path: Path, home: dict[str, str]) -> None:
    missing = tmp_path / "no-such-folder"
    for command in (["ls", "-s", f"file://{missing}"], ["cat", "x", "-s", f"file://{missing}"]):
        result = run(*command, env=home)
        assert result.returncode != 0
        assert "objstore: error:" in result.stderr
    existing = tmp_path / "store"
    existing.mkdir()
    for command in (["ls", "-s", f"file://{existing}"], ["stat", "x", "-s", f"file://{existing}"]):
        run(*command, env=home)
    assert not missing.exists()
    assert list(existing.iterdir()) == []
    assert not (tmp_path / "home").exists()


# --- signals and concurrent stores --------------------------------------------------------------------------------


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_push_exits_128_plus_the_signal_and_a_rerun_completes(
    tmp_path: Path, home: dict[str, str], signum: int, code: int
) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for index in range(400):
        (source / f"f{index:04}.bin").write_bytes(os.urandom(20_000))
    store = f"file://{tmp_path / 'store'}"
    env = {**os.environ, **home, "OBJSTORE_FAULTS": "latency=0.01-0.02,seed=1"}
    proc = subprocess.Popen(
        [*OBJSTORE, "push", str(source), store, "-j", "2"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    time.sleep(2.0)
    proc.send_signal(signum)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert b"interrupted" in err
    rerun = run("push", str(source), store, env=home)
    assert rerun.returncode == 0, rerun.stderr
    restored = tmp_path / "restored"
    assert run("pull", store, str(restored), env=home).returncode == 0
    assert snapshot(restored) == snapshot(source)


def test_stores_opened_on_a_new_folder_at_the_same_moment_all_work(tmp_path: Path) -> None:
    import threading

    from objstore.adapters.filesystem import FilesystemAdapter

    for attempt in range(20):
        root = tmp_path / f"new-{attempt}"
        errors: list[BaseException] = []
        barrier = threading.Barrier(8)

        def open_and_write(
            index: int, root: Path = root, errors: list[BaseException] = errors, barrier: Any = barrier
        ) -> None:
            barrier.wait()
            try:
                FilesystemAdapter(root).put_object("", f"k{index}", b"v")
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=open_and_write, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(os.listdir(root)) == 9  # 8 objects and objstore's own folder
