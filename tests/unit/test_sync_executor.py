"""The executor over the in-memory state fake: what it records, what it leaves, and the order it does things in."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from objstore import ObjectStorageFactory, ObjectStorageService, TransientError
from objstore.adapters.memory import MemoryAdapter
from objstore.domain.models import ObjectInfo, WriteOptions
from objstore.ports.storage import ForwardingAdapter, Readable
from objstore.syncing import (
    Filters,
    LocalFolder,
    LocalSide,
    MemorySyncState,
    StoreSide,
    SyncOptions,
    SyncReport,
    run_sync,
)
from objstore.syncing.local import local_token
from tests.harness.files import write_tree as tree


def push(folder: Path, store: ObjectStorageService, state: MemorySyncState, **options: Any) -> SyncReport:
    return run_sync(LocalSide(LocalFolder(folder)), StoreSide(store, "", Filters()), state, SyncOptions(**options))


def pull(store: ObjectStorageService, folder: Path, state: MemorySyncState, **options: Any) -> SyncReport:
    folder.mkdir(exist_ok=True)  # as ObjectStorageService.pull does
    local = LocalSide(LocalFolder(folder, writable=True))
    return run_sync(
        StoreSide(store, "", Filters()),
        local,
        state,
        SyncOptions(delete=False, **options),
        swap_state=True,
        copy_label="download",
    )


def test_a_push_records_both_sides_tokens_and_marks_the_sync_complete(tmp_path: Path) -> None:
    folder = tree(tmp_path / "src", {"a.txt": b"a", "sub/b.txt": b"bb"})
    store = ObjectStorageFactory.ObjectStorageServiceMemory()
    state = MemorySyncState()
    report = push(folder, store, state)
    assert report.ok
    assert report.counts == {"upload": 2}
    assert report.bytes_transferred == 3
    assert state.has_synced()
    assert [prior.key for prior in state] == ["a.txt", "sub/b.txt"]
    prior = state.get("sub/b.txt")
    assert prior is not None
    assert prior.source_token == local_token(os.stat(folder / "sub" / "b.txt"))
    assert prior.dest_token == store.head_object("", "sub/b.txt").etag


def test_an_unchanged_second_run_moves_nothing_and_a_pull_reuses_the_push_state(tmp_path: Path) -> None:
    folder = tree(tmp_path / "src", {"a.txt": b"a", "b.txt": b"b"})
    store = ObjectStorageFactory.ObjectStorageServiceMemory()
    state = MemorySyncState()
    push(folder, store, state)
    recorded = dict(state.records)
    events: list[tuple[str, str, int]] = []
    again = run_sync(
        LocalSide(LocalFolder(folder)),
        StoreSide(store, "", Filters()),
        state,
        SyncOptions(),
        progress=lambda event, key, size: events.append((event, key, size)),
    )
    assert again.counts == {"skip": 2}
    assert again.bytes_transferred == 0
    assert events == [("skip", "a.txt", 0), ("skip", "b.txt", 0), ("planned", "", 0)]
    back = pull(store, folder, state)
    assert back.counts == {"skip": 2}, back.summary()
    assert state.records == recorded  # still in the push's orientation


def test_a_dry_run_plans_and_changes_neither_side_nor_the_state(tmp_path: Path) -> None:
    folder = tree(tmp_path / "src", {"a.txt": b"a"})
    store = ObjectStorageFactory.ObjectStorageServiceMemory()
    store.put_object("", "extra.txt", b"x")
    state = MemorySyncState()
    report = push(folder, store, state, dry_run=True, force=True)
    assert [(action.kind.value, action.key) for action in report.plan] == [
        ("upload", "a.txt"),
        ("delete", "extra.txt"),
    ]
    assert store.list_objects("") == ["extra.txt"]
    assert state.records == {}
    assert not state.has_synced()


def test_deletes_wait_for_a_sync_without_failures(tmp_path: Path) -> None:
    class FailsOnce(ForwardingAdapter):
        failed = False

        def write_object(self, prefix: str, key: str, stream: Readable, options: WriteOptions) -> ObjectInfo:
            if not self.failed:
                self.failed = True
                raise TransientError("reset")
            return self.inner.write_object(prefix, key, stream, options)

    folder = tree(tmp_path / "src", {"new.txt": b"n"})
    memory = MemoryAdapter()
    memory.put_object("", "old.txt", b"o")
    store = ObjectStorageService(FailsOnce(memory))
    state = MemorySyncState()
    first = push(folder, store, state, max_delete="100%")
    assert set(first.failures) == {"new.txt"}
    assert first.deletes_refused
    assert "failed" in first.deletes_refused
    assert memory.exists("", "old.txt")
    assert not state.has_synced()
    second = push(folder, store, state, max_delete="100%")
    assert second.ok, second.summary()
    assert memory.list_objects("") == ["new.txt"]
    assert state.has_synced()
    assert list(state.records) == ["new.txt"]


def test_a_local_copy_the_last_pull_wrote_gives_way_to_a_folder_of_its_name(tmp_path: Path) -> None:
    store = ObjectStorageFactory.ObjectStorageServiceMemory()
    store.put_object("", "thing", b"a file")
    folder, state = tmp_path / "dest", MemorySyncState()
    pull(store, folder, state)
    store.delete_object("", "thing")
    store.put_object("", "thing/inside.txt", b"now a folder")
    report = pull(store, folder, state)
    assert report.ok, report.summary()
    assert (folder / "thing" / "inside.txt").read_bytes() == b"now a folder"
    assert list(state.records) == ["thing/inside.txt"]  # the file that gave way is forgotten


@pytest.mark.parametrize("edited", [True, False], ids=["edited since", "no record"])
def test_any_other_local_file_in_the_way_of_a_folder_is_kept(tmp_path: Path, edited: bool) -> None:
    store = ObjectStorageFactory.ObjectStorageServiceMemory()
    store.put_object("", "thing", b"a file")
    folder, state = tmp_path / "dest", MemorySyncState()
    pull(store, folder, state)
    if edited:
        (folder / "thing").write_bytes(b"edited locally")
    else:
        state.forget("thing")
    store.delete_object("", "thing")
    store.put_object("", "thing/inside.txt", b"now a folder")
    report = pull(store, folder, state)
    assert "not a copy the last sync made" in report.failures["thing/inside.txt"]
    assert (folder / "thing").is_file()
