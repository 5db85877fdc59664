"""The sync-state port: the SQLite adapter and the in-memory fake keep the same contract."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from objstore.syncing.planner import Prior
from objstore.syncing.sqlite_state import SyncState
from objstore.syncing.state import MemorySyncState, SwappedState, SyncStatePort


@pytest.fixture(params=["sqlite", "memory"])
def make_state(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], SyncStatePort]]:
    opened: list[SyncState] = []

    def make() -> SyncStatePort:
        if request.param == "memory":
            return MemorySyncState()
        state = SyncState(tmp_path / "state.sqlite")
        opened.append(state)
        return state

    yield make
    for state in opened:
        state.close()


def test_records_stream_back_in_code_point_order(make_state: Callable[[], SyncStatePort]) -> None:
    state = make_state()
    for key in ("b", "a/z", "a", "\u00e9", "A"):
        state.record(key, f"s-{key}", f"d-{key}", None)
    assert [prior.key for prior in state] == ["A", "a", "a/z", "b", "\u00e9"]
    assert state.get("a/z") == Prior("a/z", "s-a/z", "d-a/z", None)


def test_a_record_is_replaced_and_forgotten(make_state: Callable[[], SyncStatePort]) -> None:
    state = make_state()
    state.record("k", "s1", "d1", "hash1")
    state.record("k", "s2", "d2", "hash2")
    assert list(state) == [Prior("k", "s2", "d2", "hash2")]
    state.forget("k")
    state.forget("never recorded")
    assert list(state) == []
    assert state.get("k") is None


def test_a_completed_sync_is_remembered_apart_from_the_records(make_state: Callable[[], SyncStatePort]) -> None:
    state = make_state()
    assert not state.has_synced()
    state.mark_synced()  # an empty tree leaves no records, and was still synced
    assert state.has_synced()
    assert list(state) == []


def test_the_sqlite_state_survives_a_restart_and_a_dry_run_reads_it_without_writing(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "state.sqlite"
    state = SyncState(path)
    for index in range(1500):  # more than a page, and more than a commit interval
        state.record(f"k{index:05}", "s", "d", None)
    state.mark_synced()
    state.close()
    files = sorted(p.name for p in path.parent.iterdir())
    read_only = SyncState(path, read_only=True)
    assert read_only.has_synced()
    assert len(list(read_only)) == 1500
    assert read_only.get("k00042") == Prior("k00042", "s", "d", None)
    read_only.close()
    assert sorted(p.name for p in path.parent.iterdir()) == files


def test_a_swapped_state_reads_and_writes_the_other_way_round() -> None:
    raw = MemorySyncState([Prior("k", "local", "remote", "h")], synced=True)
    swapped = SwappedState(raw)
    assert list(swapped) == [Prior("k", "remote", "local", "h")]
    assert swapped.get("k") == Prior("k", "remote", "local", "h")
    assert swapped.get("missing") is None
    assert swapped.has_synced()
    swapped.record("new", "remote-2", "local-2", None)
    assert raw.get("new") == Prior("new", "local-2", "remote-2", None)  # kept in the push's orientation
    swapped.forget("k")
    assert [prior.key for prior in raw] == ["new"]
