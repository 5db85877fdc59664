"""The sync executor on in-memory stores: conflicts, keep-both, incomplete syncs, blocked copies."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import objstore
from objstore import ObjectStorageFactory, ObjectStorageService, TransientError
from objstore.adapters.filesystem import FilesystemAdapter
from objstore.adapters.memory import MemoryAdapter
from objstore.domain.models import ObjectInfo, WriteOptions
from objstore.ports.storage import ForwardingAdapter, Readable


def stores() -> tuple[ObjectStorageService, ObjectStorageService]:
    return ObjectStorageFactory.ObjectStorageServiceMemory(), ObjectStorageFactory.ObjectStorageServiceMemory()


def test_two_way_without_a_record_never_overwrites_different_contents(tmp_path: Path) -> None:
    a, b = stores()
    a.put_object("", "k.txt", b"AAAA")
    b.put_object("", "k.txt", b"BBBB")
    a.put_object("", "same.txt", b"SAME")
    b.put_object("", "same.txt", b"SAME")
    report = objstore.sync(a, b, two_way=True, state_path=tmp_path / "state.sqlite")
    assert "k.txt" in report.conflicts
    assert "same.txt" not in report.conflicts
    assert b.get_object("", "k.txt") == b"BBBB"
    assert a.get_object("", "k.txt") == b"AAAA"


def test_keep_both_keeps_both(tmp_path: Path) -> None:
    a, b = stores()
    a.put_object("", "doc.txt", b"v1")
    state = tmp_path / "state.sqlite"
    objstore.sync(a, b, two_way=True, state_path=state)
    a.put_object("", "doc.txt", b"edited on a")
    b.put_object("", "doc.txt", b"edited on b")
    report = objstore.sync(a, b, two_way=True, conflict="keep-both", state_path=state)
    assert report.ok, report.summary()
    assert b.get_object("", "doc.txt") == b"edited on a"
    kept = [key for key in a.list_objects("") if key.startswith("doc.conflict-")]
    assert len(kept) == 1
    assert a.get_object("", kept[0]) == b"edited on b"


def test_a_sync_with_failures_is_not_recorded_as_complete(tmp_path: Path) -> None:
    class FailsOnce(ForwardingAdapter):
        failed = False

        def write_object(self, prefix: str, key: str, stream: Readable, options: WriteOptions) -> ObjectInfo:
            if key == "b.txt" and not self.failed:
                self.failed = True
                raise TransientError("reset")
            return self.inner.write_object(prefix, key, stream, options)

    source = ObjectStorageFactory.ObjectStorageServiceMemory()
    for key in ("a.txt", "b.txt"):
        source.put_object("", key, key.encode())
    dest = ObjectStorageService(FailsOnce(MemoryAdapter()))
    state = tmp_path / "state.sqlite"
    first = objstore.sync(source, dest, state_path=state)
    assert "b.txt" in first.failures
    second = objstore.sync(source, dest, state_path=state)
    assert second.ok, second.summary()
    assert not second.conflicts
    assert dest.get_object("", "b.txt") == b"b.txt"


def test_a_retried_filesystem_commit_keeps_its_metadata(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    adapter = FilesystemAdapter(tmp_path)
    store = ObjectStorageService(adapter)
    real = os.replace
    calls = {"n": 0}

    def pruned_once(src: Any, dst: Any, **kwargs: Any) -> None:
        # The first rename of the object finds its folder pruned by a concurrent delete.
        if str(dst).endswith("note.txt") and calls["n"] == 0:
            calls["n"] += 1
            raise FileNotFoundError(2, "No such file or directory")
        real(src, dst, **kwargs)

    monkeypatch.setattr(os, "replace", pruned_once)
    store.put_object("folder", "note.txt", b"content", metadata={"kept": "yes"})
    monkeypatch.undo()
    assert store.get_object("folder", "note.txt") == b"content"
    assert dict(store.head_object("folder", "note.txt").metadata) == {"kept": "yes"}


def test_a_destination_change_made_during_the_sync_is_not_overwritten(tmp_path: Path) -> None:
    source = ObjectStorageFactory.ObjectStorageServiceMemory()
    source.put_object("", "a.txt", b"from the source")
    source.put_object("", "new.txt", b"new from the source")
    memory = MemoryAdapter()
    memory.put_object("", "a.txt", b"old")

    class ChangedMeanwhile(ForwardingAdapter):
        """Someone writes both keys after the listing, just before the sync's writes arrive."""

        def write_object(self, prefix: str, key: str, stream: Readable, options: WriteOptions) -> ObjectInfo:
            self.inner.put_object(prefix, key, b"someone else's " + key.encode())
            return self.inner.write_object(prefix, key, stream, options)

    dest = ObjectStorageService(ChangedMeanwhile(memory))
    report = objstore.sync(source, dest, state_path=tmp_path / "state.sqlite")
    assert set(report.failures) == {"a.txt", "new.txt"}
    assert memory.get_object("", "a.txt") == b"someone else's a.txt"
    assert memory.get_object("", "new.txt") == b"someone else's new.txt"
    forced = objstore.sync(source, dest, force=True, state_path=tmp_path / "forced.sqlite")
    assert forced.ok
    assert memory.get_object("", "a.txt") == b"from the source"


def test_a_local_edit_made_during_a_pull_is_not_overwritten(tmp_path: Path) -> None:
    from objstore.syncing.local import LocalFolder, local_token

    folder = LocalFolder(tmp_path)
    (tmp_path / "notes.txt").write_text("listed version")
    listed = local_token(os.stat(tmp_path / "notes.txt"))
    (tmp_path / "notes.txt").write_text("edited during the pull!")
    import io

    with pytest.raises(FileExistsError, match="changed locally"):
        folder.write("notes.txt", io.BytesIO(b"remote"), None, expect=listed)
    assert (tmp_path / "notes.txt").read_text() == "edited during the pull!"
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]  # no temporary file left, no state folder


def test_downloads_are_written_out_of_sight_and_a_killed_writers_leftovers_are_removed(tmp_path: Path) -> None:
    import io

    from objstore.syncing.local import TEMPORARY, LocalFolder

    (tmp_path / "sub").mkdir()
    gone_pid = 2**22 + 7  # above the kernel's pid limit: certainly not running
    abandoned = [
        tmp_path / "sub" / f"{TEMPORARY}{gone_pid}-abc",
        tmp_path / f"{TEMPORARY}{gone_pid}-d",
    ]
    for path in abandoned:
        path.write_bytes(b"half a file")
    live = tmp_path / "sub" / f"{TEMPORARY}{os.getpid()}-mine"
    live.write_bytes(b"being written by a running process")
    folder = LocalFolder(tmp_path)
    assert [entry.key for entry in folder.entries()] == []  # temporary files are never entries
    folder.write("sub/new.txt", io.BytesIO(b"whole"), None)
    assert (tmp_path / "sub" / "new.txt").read_bytes() == b"whole"
    assert not any(path.exists() for path in abandoned)
    assert live.exists()  # its writer is still running
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == sorted(["new.txt", live.name])


def test_the_deepest_tree_keys_allow_is_walked_and_what_lies_deeper_is_reported(tmp_path: Path) -> None:
    from objstore.syncing.local import LocalFolder

    root = tmp_path / "tree"
    deep = root.joinpath(*["d"] * 510)  # "d/" x 510 + "bottom.txt": 1,030 bytes, over the key limit
    (deep / "d" / "d").mkdir(parents=True)
    (deep / "bottom.txt").write_bytes(b"too deep")
    (root.joinpath(*["d"] * 500) / "ok.txt").write_bytes(b"deep")
    (root / "d" / "top.txt").write_bytes(b"top")
    (root / "a.txt").write_bytes(b"a")
    folder = LocalFolder(root)
    keys = [entry.key for entry in folder.entries()]
    ok = "d/" * 500 + "ok.txt"
    assert keys == ["a.txt", ok, "d/top.txt"]  # key order: "d/d/..." sorts before "d/top.txt"
    assert any("d/" * 510 in key and "no object key can carry" in why for key, why in folder.skipped.items())
    store = ObjectStorageFactory.from_url("memory://")
    report = store.push(str(root), "")
    assert store.get_object("", ok) == b"deep"
    assert report.skipped
    assert not report.ok


def test_case_and_normalisation_twins_are_not_pulled_into_a_folding_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a filesystem that folds case and normalisation (macOS, Windows), twins would overwrite each other."""
    import unicodedata

    from objstore.syncing.local import LocalFolder

    store = ObjectStorageFactory.from_url("memory://")
    nfc, nfd = (unicodedata.normalize(form, "caf\u00e9.txt") for form in ("NFC", "NFD"))
    for key in ("Report.csv", "report.csv", nfc, nfd, "plain.txt"):
        store.put_object("", key, key.encode())
    monkeypatch.setattr(LocalFolder, "folding", lambda self: (True, True))
    report = store.pull("", tmp_path / "dest", state_dir=tmp_path / "state")
    assert set(report.skipped) == {"Report.csv", "report.csv", nfc, nfd}
    assert not report.ok
    assert os.listdir(tmp_path / "dest") == ["plain.txt"]
    monkeypatch.undo()
    assert LocalFolder(tmp_path / "dest").folding() == (False, False)  # this machine's filesystem folds neither
    assert os.listdir(tmp_path / "dest") == ["plain.txt"]  # the probe left nothing
