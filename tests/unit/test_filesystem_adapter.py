"""Filesystem store: containment (symlinks included), atomic writes, crash leftovers, sidecar metadata."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from objstore import (
    ConfigurationError,
    InvalidKey,
    ObjectAlreadyExists,
    ObjectNotFound,
    ObjectStorageError,
    ObjectStorageService,
    PermissionDenied,
    TransientError,
)
from objstore.adapters.filesystem import INTERNAL_DIR, FilesystemAdapter
from objstore.adapters.localfs import Stage
from objstore.domain.models import ReadOptions
from objstore.testing.hostile import HOSTILE_KEYS, HOSTILE_PREFIXES


def snapshot(folder: Path) -> dict[str, str]:
    """Every path below ``folder`` (not following links) with a digest of what it is."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            found[str(path)] = "link->" + os.readlink(path)
        elif path.is_file():
            found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            found[str(path)] = "dir"
    return found


def attempts(store: ObjectStorageService, prefix: str, key: str) -> list[Callable[[], object]]:
    """Every way a key can cause a write or a delete."""
    return [
        lambda: store.put_object(prefix, key, b"pwned"),
        lambda: store.put_object_stream(prefix, key, io.BytesIO(b"pwned")),
        lambda: store.copy_object("", "secret-link.txt", prefix, key),
        lambda: store.delete_object(prefix, key),
        lambda: store.delete_objects(prefix, [key]),
    ]


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"do not touch")
    root.mkdir()
    (root / "escape").symlink_to(outside, target_is_directory=True)
    (root / "secret-link.txt").symlink_to(outside / "secret.txt")
    (root / "dangling").symlink_to(tmp_path / "nowhere")
    return root, outside


def test_nothing_is_written_outside_the_root_for_any_hostile_key_or_planted_link(
    tmp_path: Path, layout: tuple[Path, Path]
) -> None:
    root, _ = layout
    store = ObjectStorageService(FilesystemAdapter(root))
    before = snapshot(tmp_path)
    before = {path: digest for path, digest in before.items() if f"{os.sep}{INTERNAL_DIR}" not in path}

    through_links = ["escape/new.txt", "escape/secret.txt", "escape/sub/new.txt", "dangling/x", "escape"]
    for key in list(HOSTILE_KEYS) + through_links:
        for prefix in ("", "escape", "sub", *HOSTILE_PREFIXES):
            for attempt in attempts(store, prefix, key):
                with contextlib.suppress(ObjectStorageError):
                    attempt()

    after = {path: digest for path, digest in snapshot(tmp_path).items() if f"{os.sep}{INTERNAL_DIR}" not in path}
    outside_changes = {
        path
        for path in set(before) ^ set(after) | {p for p in before if before[p] != after.get(p)}
        if not path.startswith(str(root) + os.sep)
    }
    assert outside_changes == set()
    assert (tmp_path / "outside" / "secret.txt").read_bytes() == b"do not touch"
    assert sorted(p.name for p in (tmp_path / "outside").iterdir()) == ["secret.txt"]


def test_reads_through_a_link_out_of_the_root_are_refused(layout: tuple[Path, Path]) -> None:
    root, _ = layout
    store = ObjectStorageService(FilesystemAdapter(root))
    with pytest.raises(PermissionDenied):
        store.get_object("escape", "secret.txt")
    with pytest.raises(PermissionDenied):
        store.get_object("", "secret-link.txt")
    with pytest.raises(PermissionDenied):
        store.head_object("", "secret-link.txt")
    with pytest.raises(PermissionDenied), store.get_object_stream("", "secret-link.txt"):
        pass
    with pytest.raises(PermissionDenied):
        store.put_object("escape", "new.txt", b"x")
    assert store.list_objects("escape") == []
    assert [info.key for info in store.iter_objects("")] == []


def test_links_inside_the_root_are_followed_and_cycles_are_not(tmp_path: Path) -> None:
    root = tmp_path / "root"
    store = ObjectStorageService(FilesystemAdapter(root))
    store.put_object("data", "a.txt", b"a")
    (root / "data" / "loop").symlink_to(root / "data", target_is_directory=True)
    (root / "alias.txt").symlink_to(root / "data" / "a.txt")
    assert store.get_object("", "alias.txt") == b"a"
    keys = [info.key for info in store.iter_objects("")]
    assert keys == ["alias.txt", "data/a.txt"]


def test_the_internal_folder_is_hidden_and_reserved(tmp_path: Path) -> None:
    store = ObjectStorageService(FilesystemAdapter(tmp_path))
    store.put_object("", "visible", b"x")
    assert store.list_objects("") == ["visible"]
    with pytest.raises(InvalidKey):
        store.put_object(INTERNAL_DIR, "lock", b"x")
    with pytest.raises(InvalidKey):
        store.get_object("", f"{INTERNAL_DIR}/lock")
    assert store.list_objects(INTERNAL_DIR) == []


def test_no_temporary_file_is_left_after_writes_and_failures(tmp_path: Path) -> None:
    adapter = FilesystemAdapter(tmp_path)
    store = ObjectStorageService(adapter)
    store.put_object("p", "k", b"x" * 100_000)
    with pytest.raises(ObjectStorageError):
        store.put_object("p", "k", b"y", if_match="not-the-etag")

    class Broken:
        def read(self, n: int = -1) -> bytes:
            raise OSError("boom")

    with pytest.raises(ObjectStorageError):
        store.put_object_stream("p", "k2", Broken())
    assert os.listdir(tmp_path / INTERNAL_DIR / "tmp") == []
    assert store.list_objects("p") == ["p/k"]


def test_temporaries_of_a_killed_writer_are_removed_on_the_next_start(tmp_path: Path) -> None:
    FilesystemAdapter(tmp_path)
    # A process that is surely gone: one we started and waited for.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    stale = tmp_path / INTERNAL_DIR / "tmp" / f"{dead_pid}-deadbeef"
    stale.parent.mkdir(parents=True)  # made by the first write: a store only read creates nothing
    stale.write_bytes(b"partial")
    mine = tmp_path / INTERNAL_DIR / "tmp" / f"{os.getpid()}-inflight"
    mine.write_bytes(b"in flight")
    FilesystemAdapter(tmp_path)
    assert not stale.exists()
    assert mine.exists()  # a live writer's file is left alone


def test_a_killed_writer_never_leaves_a_partial_object(tmp_path: Path) -> None:
    script = (
        "import sys, time\n"
        "from objstore.adapters.filesystem import FilesystemAdapter\n"
        "from objstore import ObjectStorageService\n"
        "store = ObjectStorageService(FilesystemAdapter(sys.argv[1]))\n"
        "class Slow:\n"
        "    def read(self, n=-1):\n"
        "        print('writing', flush=True); time.sleep(0.05); return b'z' * 65536\n"
        "store.put_object_stream('', 'victim', Slow())\n"
    )
    store = ObjectStorageService(FilesystemAdapter(tmp_path))
    store.put_object("", "victim", b"complete old version")
    proc = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for _ in range(5):
        proc.stdout.readline()
    proc.kill()
    proc.wait()
    assert store.get_object("", "victim") == b"complete old version"
    FilesystemAdapter(tmp_path)  # the next start cleans up
    assert os.listdir(tmp_path / INTERNAL_DIR / "tmp") == []


def test_readers_only_ever_see_whole_versions(tmp_path: Path) -> None:
    store = ObjectStorageService(FilesystemAdapter(tmp_path, fsync=False))
    versions = [bytes([index]) * 300_000 for index in range(10)]
    store.put_object("", "hot", versions[0])
    stop = threading.Event()
    seen: list[bytes] = []

    def reader() -> None:
        while not stop.is_set():
            seen.append(store.get_object("", "hot"))

    thread = threading.Thread(target=reader)
    thread.start()
    for content in versions * 3:
        store.put_object("", "hot", content)
    stop.set()
    thread.join()
    assert seen
    assert all(content in versions for content in seen)


def test_metadata_written_by_objstore_is_dropped_when_another_tool_rewrites_the_file(tmp_path: Path) -> None:
    store = ObjectStorageService(FilesystemAdapter(tmp_path))
    store.put_object("", "doc.txt", b"original", metadata={"author": "ann"})
    assert store.head_object("", "doc.txt").checksum_sha256 == hashlib.sha256(b"original").hexdigest()
    (tmp_path / "doc.txt").write_bytes(b"edited by hand")
    info = store.head_object("", "doc.txt")
    assert info.checksum_sha256 is None  # never a stale checksum
    assert dict(info.metadata) == {}
    assert info.size == len(b"edited by hand")


def test_files_put_there_by_other_tools_are_objects(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "made-by-hand.csv").write_bytes(b"a,b\n")
    (tmp_path / "bad\nname").write_bytes(b"unaddressable")
    (tmp_path / "empty-folder").mkdir()
    store = ObjectStorageService(FilesystemAdapter(tmp_path))
    assert store.list_objects("") == ["sub/"]
    assert store.get_object("sub", "made-by-hand.csv") == b"a,b\n"
    assert [info.key for info in store.iter_objects("")] == ["sub/made-by-hand.csv"]


def test_a_folder_is_not_an_object_and_is_not_deleted(tmp_path: Path) -> None:
    store = ObjectStorageService(FilesystemAdapter(tmp_path))
    store.put_object("folder", "child", b"x")
    with pytest.raises(ObjectNotFound):
        store.delete_object("", "folder")
    assert store.get_object("folder", "child") == b"x"


def test_a_segment_longer_than_the_filesystem_allows_is_an_invalid_key(tmp_path: Path) -> None:
    store = ObjectStorageService(FilesystemAdapter(tmp_path))
    with pytest.raises(InvalidKey):
        store.put_object("", "n" * 300, b"x")


def test_root_problems_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        FilesystemAdapter(tmp_path / "missing", create=False)
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(ConfigurationError):
        FilesystemAdapter(tmp_path / "file")
    with pytest.raises(ConfigurationError):
        FilesystemAdapter(tmp_path, colour="blue")


def test_a_planted_internal_link_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    (root / INTERNAL_DIR).symlink_to(outside, target_is_directory=True)
    with pytest.raises(ConfigurationError):
        FilesystemAdapter(root)
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize(
    ("code", "expected"),
    [(30, PermissionDenied), (13, PermissionDenied), (28, ObjectStorageError), (122, ObjectStorageError)],
)
def test_filesystem_refusals_are_typed_and_change_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, expected: type[Exception]
) -> None:
    store = ObjectStorageService(FilesystemAdapter(tmp_path))
    store.put_object("", "keep", b"x")

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(expected) as caught:
        store.put_object("", "keep", b"y")
    monkeypatch.undo()
    assert os.strerror(code) in str(caught.value)
    assert store.get_object("", "keep") == b"x"
    assert os.listdir(tmp_path / INTERNAL_DIR / "tmp") == []


def test_a_read_describes_the_file_it_opened_not_the_one_there_now(tmp_path: Path) -> None:
    adapter = FilesystemAdapter(tmp_path, fsync=False)
    store = ObjectStorageService(adapter)
    store.put_object("", "doc.txt", b"first version", content_type="text/plain", metadata={"author": "ann"})
    before = store.head_object("", "doc.txt")
    with adapter.open_object("", "doc.txt", ReadOptions()) as opened:
        store.put_object("", "doc.txt", b"second, longer version")  # replaced while it is open
        assert opened.info == before  # size, etag, content type and metadata of the version being read
        assert opened.stream.read() == b"first version"
    with adapter.open_object("", "doc.txt", ReadOptions(3, 8)) as opened:
        assert opened.info.size == len(b"second, longer version")  # the whole object's size, not the range's
        assert opened.stream.read() == b"ond, "


def test_a_write_survives_a_delete_pruning_its_folder_before_the_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapter = FilesystemAdapter(tmp_path, fsync=False)
    store = ObjectStorageService(adapter)
    store.put_object("p/q", "other", b"x")
    write_sidecar = adapter._write_sidecar_temporary

    def pruned_meanwhile(*args: Any) -> str:
        # A concurrent delete of the folder's last object prunes it between its creation and our rename.
        store.delete_object("p/q", "other")
        assert not (tmp_path / "p").exists()
        return write_sidecar(*args)

    monkeypatch.setattr(adapter, "_write_sidecar_temporary", pruned_meanwhile)
    store.put_object("p/q", "k", b"mine", metadata={"kept": "yes"})
    assert store.get_object("p/q", "k") == b"mine"
    assert dict(store.head_object("p/q", "k").metadata) == {"kept": "yes"}
    assert os.listdir(tmp_path / INTERNAL_DIR / "tmp") == []


def test_a_path_removed_by_another_program_during_the_commit_is_a_retryable_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapter = FilesystemAdapter(tmp_path, fsync=False)
    store = ObjectStorageService(adapter)
    place = adapter._place
    calls: list[str] = []

    def folder_removed_by_hand(full: str, stage: Stage, *args: Any) -> None:
        calls.append(full)
        os.rmdir(tmp_path / "p")  # not objstore: the commit lock does not hold it off
        place(full, stage, *args)

    monkeypatch.setattr(adapter, "_place", folder_removed_by_hand)
    with pytest.raises(TransientError):
        store.put_object("p", "k", b"mine")
    assert len(calls) == 2  # the race settled once, then handed to the retry layer: no loop here
    assert not (tmp_path / "p").exists()
    assert os.listdir(tmp_path / INTERNAL_DIR / "tmp") == []


def test_writes_and_deletes_never_go_through_a_link_to_a_folder_outside(layout: tuple[Path, Path]) -> None:
    root, outside = layout
    store = ObjectStorageService(FilesystemAdapter(root))
    for key in ("new.txt", "secret.txt", "sub/new.txt"):
        with pytest.raises(PermissionDenied, match="symbolic link"):
            store.put_object("escape", key, b"pwned")
        with pytest.raises(PermissionDenied, match="symbolic link"):
            store.put_object_stream("escape", key, io.BytesIO(b"pwned"))
    with pytest.raises(PermissionDenied, match="symbolic link"):
        store.delete_object("escape", "secret.txt")
    assert store.delete_objects("escape", ["secret.txt"]).errors
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_bytes() == b"do not touch"


def test_a_link_to_a_folder_inside_the_root_is_read_through_but_never_written_or_deleted_through(
    tmp_path: Path,
) -> None:
    root = tmp_path / "root"
    store = ObjectStorageService(FilesystemAdapter(root))
    store.put_object("data", "a.txt", b"a")
    (root / "alias").symlink_to(root / "data", target_is_directory=True)
    assert store.get_object("alias", "a.txt") == b"a"
    assert [info.key for info in store.iter_objects("")] == ["alias/a.txt", "data/a.txt"]
    with pytest.raises(PermissionDenied):
        store.put_object("alias", "b.txt", b"b")
    with pytest.raises(PermissionDenied):
        store.put_object("alias", "a.txt", b"overwritten", if_none_match="*")
    with pytest.raises(PermissionDenied):
        store.delete_object("alias", "a.txt")
    assert sorted(p.name for p in (root / "data").iterdir()) == ["a.txt"]
    assert store.get_object("data", "a.txt") == b"a"


def test_a_link_standing_at_the_name_is_replaced_not_followed(layout: tuple[Path, Path]) -> None:
    root, outside = layout
    store = ObjectStorageService(FilesystemAdapter(root))
    store.put_object("", "secret-link.txt", b"mine")
    assert not (root / "secret-link.txt").is_symlink()
    assert store.get_object("", "secret-link.txt") == b"mine"
    assert (outside / "secret.txt").read_bytes() == b"do not touch"
    store.delete_object("", "dangling")  # the link itself goes; nothing it names is touched
    assert not os.path.lexists(root / "dangling")


def test_a_folder_swapped_for_a_link_during_a_write_is_not_written_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    outside.mkdir()
    adapter = FilesystemAdapter(root, fsync=False)
    store = ObjectStorageService(adapter)
    store.put_object("p", "old", b"x")
    write_sidecar = adapter._write_sidecar_temporary

    def swapped_meanwhile(*args: Any) -> str:
        (root / "p").rename(tmp_path / "moved")  # between the walk to the folder and the rename into it
        (root / "p").symlink_to(outside, target_is_directory=True)
        return write_sidecar(*args)

    monkeypatch.setattr(adapter, "_write_sidecar_temporary", swapped_meanwhile)
    store.put_object("p", "k", b"mine")
    assert list(outside.iterdir()) == []
    assert (tmp_path / "moved" / "k").read_bytes() == b"mine"  # the folder it walked to, wherever it went
    monkeypatch.undo()
    with pytest.raises(PermissionDenied):
        store.put_object("p", "k2", b"again")
    assert list(outside.iterdir()) == []


def test_a_file_standing_where_a_folder_goes_is_a_typed_error(tmp_path: Path) -> None:
    store = ObjectStorageService(FilesystemAdapter(tmp_path))
    store.put_object("", "a", b"file")
    with pytest.raises(ObjectAlreadyExists, match="'a' exists"):
        store.put_object("a", "b", b"x")
    with pytest.raises(ObjectNotFound):
        store.delete_object("a", "b")
    assert store.get_object("", "a") == b"file"
