"""The rclone / aws options of push, pull and sync: comparisons, size / age / key-list filters, backups, --bwlimit."""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import objstore
from objstore import ConfigurationError, ObjectStorageFactory, ObjectStorageService
from objstore.adapters.memory import MemoryAdapter
from objstore.ports.storage import ForwardingAdapter
from objstore.syncing import (
    ActionKind,
    Comparison,
    Entry,
    Filters,
    MemorySyncState,
    RateLimit,
    SyncSettings,
    plan_one_way,
    resolve_settings,
)
from objstore.syncing import executor as executor_module
from tests.harness.files import write_tree as tree

DAY = 86_400 * 10**9


def memory() -> ObjectStorageService:
    return ObjectStorageFactory.ObjectStorageServiceMemory()


def contents(store: ObjectStorageService, prefix: str = "") -> dict[str, bytes]:
    cut = len(prefix) + 1 if prefix else 0
    return {info.key[cut:]: store.get_object("", info.key) for info in store.iter_objects(prefix)}


def age(path: Path, days: float) -> None:
    """Set a file's modification time ``days`` ago (negative: in the future)."""
    when = time.time() - days * 86_400
    os.utime(path, (when, when))


def one_way(source: list[Entry], dest: list[Entry], compare: Comparison) -> list[tuple[str, str, str]]:
    actions = plan_one_way(source, dest, MemorySyncState(), delete=True, prior_sync=False, compare=compare)
    return [(action.kind.value, action.key, action.reason) for action in actions]


# --- one definition of the settings ---------------------------------------------------------------------------


def test_every_entry_point_takes_the_same_settings_and_refuses_others(tmp_path: Path) -> None:
    store, folder = memory(), tree(tmp_path / "src", {"a.txt": b"a"})
    bogus: dict[str, Any] = {"size_olny": True}
    with pytest.raises(TypeError, match="size_olny"):
        store.push(folder, state_dir=tmp_path / "state", **bogus)
    with pytest.raises(TypeError, match="size_olny"):
        store.pull("", tmp_path / "dest", state_dir=tmp_path / "state", **bogus)
    with pytest.raises(TypeError, match="size_olny"):
        objstore.sync(store, memory(), state_dir=tmp_path / "state", **bogus)
    assert not (tmp_path / "dest").exists()  # refused before anything ran
    settings: SyncSettings = {"size_only": True, "jobs": 2, "exclude": ["*.tmp"], "min_size": 1}
    options, filters = resolve_settings(settings, delete=False)
    assert (options.size_only, options.jobs, options.delete) == (True, 2, False)
    assert not filters.allows("x.tmp")
    assert filters.judges_entries


@pytest.mark.parametrize(
    "settings",
    [
        {"size_only": True, "checksum": True},
        {"min_size": 10, "max_size": 5},
        {"min_size": -1},
        {"min_age": timedelta(days=2), "max_age": timedelta(days=1)},
        {"bwlimit": 0},
        {"suffix": "a/b"},
    ],
    ids=["size-only+checksum", "min>max", "negative size", "min-age>max-age", "bwlimit 0", "suffix slash"],
)
def test_settings_that_cannot_mean_anything_are_refused(settings: SyncSettings) -> None:
    with pytest.raises(ConfigurationError):
        resolve_settings(settings, delete=True)


@pytest.mark.parametrize("name", ["size_only", "ignore_existing", "update", "backup_dir", "suffix"])
def test_one_way_options_are_refused_on_a_two_way_sync(tmp_path: Path, name: str) -> None:
    value: Any = "x" if name in ("backup_dir", "suffix") else True
    with pytest.raises(ConfigurationError, match="two-way"):
        objstore.sync(memory(), memory(), two_way=True, state_dir=tmp_path, **{name: value})


# --- --size-only, --ignore-existing, --update ---------------------------------------------------------------------


def test_the_planner_holds_back_what_the_comparisons_say() -> None:
    src = [Entry("new.txt", 3, "s1", 2 * DAY), Entry("same.txt", 3, "s2", 2 * DAY), Entry("size.txt", 4, "s3", DAY)]
    dst = [Entry("same.txt", 3, "d2", DAY), Entry("size.txt", 5, "d3", 2 * DAY)]
    assert one_way(src, dst, Comparison(size_only=True)) == [
        ("upload", "new.txt", "new on the source"),
        ("skip", "same.txt", "same size (--size-only)"),
        ("upload", "size.txt", "differs (size)"),
    ]
    assert one_way(src, dst, Comparison(ignore_existing=True))[1:] == [
        ("skip", "same.txt", "exists on the destination (--ignore-existing)"),
        ("skip", "size.txt", "exists on the destination (--ignore-existing)"),
    ]
    updated = one_way(src, dst, Comparison(update=True))
    assert updated[1][0] == "upload"  # the destination's copy is older
    assert updated[2] == ("skip", "size.txt", "newer on the destination (--update)")
    assert one_way(src, dst, Comparison())[1][0] == "upload"  # without them, contents are compared


def test_size_only_skips_a_same_size_edit(tmp_path: Path) -> None:
    store, folder = memory(), tree(tmp_path / "src", {"a.txt": b"v1", "b.txt": b"b"})
    state = tmp_path / "state"
    store.push(folder, state_dir=state)
    (folder / "a.txt").write_bytes(b"v2")
    (folder / "b.txt").write_bytes(b"longer")
    report = store.push(folder, state_dir=state, size_only=True)
    assert report.ok, report.summary()
    assert report.counts == {"skip": 1, "upload": 1}
    assert contents(store) == {"a.txt": b"v1", "b.txt": b"longer"}
    assert store.push(folder, state_dir=state).counts == {"upload": 1, "skip": 1}  # not recorded as synced


def test_ignore_existing_never_overwrites_on_either_direction(tmp_path: Path) -> None:
    store, folder = memory(), tree(tmp_path / "src", {"a.txt": b"local", "b.txt": b"new"})
    store.put_object("", "a.txt", b"remote")
    report = store.push(folder, state_dir=tmp_path / "state", ignore_existing=True)
    assert report.ok, report.summary()
    assert contents(store) == {"a.txt": b"remote", "b.txt": b"new"}
    store.put_object("", "c.txt", b"only remote")
    pulled = store.pull("", folder, state_dir=tmp_path / "state2", ignore_existing=True)
    assert pulled.ok, pulled.summary()
    assert (folder / "a.txt").read_bytes() == b"local"
    assert (folder / "c.txt").read_bytes() == b"only remote"


def test_update_keeps_a_newer_local_copy_on_a_pull(tmp_path: Path) -> None:
    store = memory()
    store.put_object("", "newer.txt", b"remote")
    store.put_object("", "older.txt", b"remote")
    folder = tree(tmp_path / "dest", {"newer.txt": b"local edit", "older.txt": b"stale"})
    age(folder / "newer.txt", -1)  # modified after the store's copy
    age(folder / "older.txt", 1)
    report = store.pull("", folder, state_dir=tmp_path / "state", update=True)
    assert report.ok, report.summary()
    assert (folder / "newer.txt").read_bytes() == b"local edit"
    assert (folder / "older.txt").read_bytes() == b"remote"


def test_update_between_stores_compares_last_modified(tmp_path: Path) -> None:
    source, dest = memory(), memory()
    dest.put_object("", "k.txt", b"dest, written first")
    time.sleep(0.002)
    source.put_object("", "k.txt", b"source, written later")
    source.put_object("", "j.txt", b"source, written first")
    time.sleep(0.002)
    dest.put_object("", "j.txt", b"dest, written later")
    report = objstore.sync(source, dest, state_dir=tmp_path, update=True)
    assert report.ok, report.summary()
    assert contents(dest) == {"j.txt": b"dest, written later", "k.txt": b"source, written later"}


# --- sizes, ages and a list of keys -------------------------------------------------------------------------------


def test_filters_judge_sizes_and_ages_of_entries() -> None:
    now = datetime(2026, 1, 10, tzinfo=timezone.utc)
    at = int(now.timestamp() * 1e9)
    filters = Filters.of(min_size=2, max_size=4, min_age=timedelta(days=1), max_age=timedelta(days=5), now=now)
    assert filters.admits(Entry("k", 3, "t", at - 2 * DAY))
    assert not filters.admits(Entry("k", 1, "t", at - 2 * DAY))  # too small
    assert not filters.admits(Entry("k", 5, "t", at - 2 * DAY))  # too large
    assert not filters.admits(Entry("k", 3, "t", at - DAY // 2))  # too new (--min-age)
    assert not filters.admits(Entry("k", 3, "t", at - 6 * DAY))  # too old (--max-age)
    assert filters.admits(Entry("k", 3, "t", None))  # no time: ages cannot judge it
    assert not Filters.of().judges_entries


def test_min_and_max_size_leave_keys_out_on_both_sides(tmp_path: Path) -> None:
    store = memory()
    folder = tree(tmp_path / "src", {"tiny": b"1", "mid": b"1234567890", "big": b"x" * 100})
    store.put_object("", "remote-big", b"y" * 100)  # left out: not deleted
    store.put_object("", "remote-mid", b"y" * 10)  # taken part: deleted by the mirror
    report = store.push(folder, state_dir=tmp_path / "state", min_size=5, max_size=50, force=True)
    assert report.ok, report.summary()
    assert sorted(contents(store)) == ["mid", "remote-big"]
    (folder / "mid").write_bytes(b"m" * 100)  # the source's entry decides: now too large, so kept as it was
    again = store.push(folder, state_dir=tmp_path / "state", max_size=50)
    assert contents(store)["mid"] == b"1234567890"
    assert again.ok, again.summary()
    assert "delete" not in again.counts
    excluded = store.push(folder, state_dir=tmp_path / "state", max_size=50, delete_excluded=True, force=True)
    assert excluded.ok, excluded.summary()
    assert sorted(contents(store)) == ["tiny"]


def test_min_and_max_age_pick_entries_by_modification_time(tmp_path: Path) -> None:
    folder = tree(tmp_path / "src", {"old.txt": b"o", "new.txt": b"n"})
    age(folder / "old.txt", 10)
    older, newer = memory(), memory()
    older.push(folder, state_dir=tmp_path / "a", min_age=timedelta(days=1))
    newer.push(folder, state_dir=tmp_path / "b", max_age=timedelta(days=1))
    assert list(contents(older)) == ["old.txt"]
    assert list(contents(newer)) == ["new.txt"]


def test_files_from_takes_only_the_listed_keys_with_the_other_filters(tmp_path: Path) -> None:
    store = memory()
    folder = tree(tmp_path / "src", {"a.txt": b"a", "b.log": b"b", "sub/c.txt": b"c", "d.txt": b"d"})
    store.put_object("", "remote.txt", b"kept: not listed")
    files = ["a.txt", "/sub/c.txt", "b.log", "missing.txt"]
    report = store.push(folder, state_dir=tmp_path / "state", files_from=files, exclude=["*.log"])
    assert report.ok, report.summary()
    assert sorted(contents(store)) == ["a.txt", "remote.txt", "sub/c.txt"]


# --- --backup-dir and --suffix ------------------------------------------------------------------------------------


def test_push_keeps_what_it_overwrites_and_deletes_in_the_backup_dir(tmp_path: Path) -> None:
    store, state = memory(), tmp_path / "state"
    folder = tree(tmp_path / "src", {"a.txt": b"v1", "gone.txt": b"g", "same.txt": b"s"})
    store.push(folder, "data", state_dir=state)
    (folder / "a.txt").write_bytes(b"v2")
    (folder / "gone.txt").unlink()
    report = store.push(folder, "data", state_dir=state, backup_dir="old", suffix=".bak")
    assert report.ok, report.summary()
    assert report.counts["backup"] == 2
    assert contents(store, "data") == {"a.txt": b"v2", "same.txt": b"s"}
    assert contents(store, "old") == {"a.txt.bak": b"v1", "gone.txt.bak": b"g"}


def test_a_suffix_alone_keeps_backups_beside_their_keys_and_out_of_the_sync(tmp_path: Path) -> None:
    store, state = memory(), tmp_path / "state"
    folder = tree(tmp_path / "src", {"a.txt": b"v1"})
    store.push(folder, "data", state_dir=state, suffix="~")
    (folder / "a.txt").write_bytes(b"v2")
    store.push(folder, "data", state_dir=state, suffix="~")
    assert contents(store, "data") == {"a.txt": b"v2", "a.txt~": b"v1"}
    again = store.push(folder, "data", state_dir=state, suffix="~", delete_excluded=True)
    assert again.ok, again.summary()
    assert contents(store, "data") == {"a.txt": b"v2", "a.txt~": b"v1"}  # never taken for an extra


def test_pull_keeps_what_it_overwrites_and_deletes_in_a_local_backup_dir(tmp_path: Path) -> None:
    store, state, folder, backups = memory(), tmp_path / "state", tmp_path / "dest", tmp_path / "backups"
    store.put_object("", "a.txt", b"v1")
    store.put_object("", "sub/gone.txt", b"g")
    store.pull("", folder, state_dir=state)
    store.put_object("", "a.txt", b"v2")
    store.delete_object("", "sub/gone.txt")
    report = store.pull("", folder, state_dir=state, delete=True, backup_dir=str(backups))
    assert report.ok, report.summary()
    assert (folder / "a.txt").read_bytes() == b"v2"
    assert not (folder / "sub" / "gone.txt").exists()
    assert (backups / "a.txt").read_bytes() == b"v1"
    assert (backups / "sub" / "gone.txt").read_bytes() == b"g"


def test_a_backup_dir_overlapping_the_synced_folder_is_refused(tmp_path: Path) -> None:
    store, folder = memory(), tree(tmp_path / "src", {"a.txt": b"a"})
    for prefix, backup in (("data", "data/old"), ("data/sub", "data"), ("", "old"), ("data", "data")):
        with pytest.raises(ConfigurationError, match="overlaps"):
            store.push(folder, prefix, state_dir=tmp_path / "state", backup_dir=backup)
    with pytest.raises(ConfigurationError, match="overlaps"):
        store.pull("", folder, state_dir=tmp_path / "state", backup_dir=str(folder / "old"))
    with pytest.raises(ConfigurationError, match="overlaps"):
        objstore.sync(memory(), store, dest_prefix="d", state_dir=tmp_path, backup_dir="d/x")
    assert contents(store) == {}


def test_a_dry_run_plans_the_backups_and_changes_nothing(tmp_path: Path) -> None:
    store, folder = memory(), tree(tmp_path / "src", {"a.txt": b"v2"})
    store.put_object("data", "a.txt", b"v1")
    store.put_object("data", "extra.txt", b"e")
    report = store.push(folder, "data", state_dir=tmp_path / "state", backup_dir="old", dry_run=True, force=True)
    reasons = {action.key: action.reason for action in report.plan if action.kind is not ActionKind.SKIP}
    assert reasons["a.txt"].endswith("kept first at old/a.txt")
    assert reasons["extra.txt"].endswith("kept first at old/extra.txt")
    assert report.counts["backup"] == 2
    assert contents(store) == {"data/a.txt": b"v1", "data/extra.txt": b"e"}


def test_a_failed_backup_stops_the_overwrite_and_the_delete(tmp_path: Path) -> None:
    class NoCopies(ForwardingAdapter):
        def copy_object(self, src_prefix: str, src_key: str, dst_prefix: str, dst_key: str) -> None:
            raise PermissionError("copies refused")

    inner = MemoryAdapter()
    store = ObjectStorageService(NoCopies(inner))
    store.put_object("data", "a.txt", b"v1")
    store.put_object("data", "extra.txt", b"e")
    folder = tree(tmp_path / "src", {"a.txt": b"v2"})
    report = store.push(folder, "data", state_dir=tmp_path / "state", backup_dir="old", force=True)
    assert not report.ok
    assert "backup" in report.failures["a.txt"]
    assert contents(store) == {"data/a.txt": b"v1", "data/extra.txt": b"e"}


# --- --bwlimit --------------------------------------------------------------------------------------------------


class FakeClock:
    """Monotonic seconds that move only when someone sleeps (or when told)."""

    def __init__(self, advances: bool = True) -> None:
        self.now, self.advances = 0.0, advances
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            if self.advances:
                self.now += seconds


def test_the_rate_limit_paces_bytes_to_the_rate_after_its_burst() -> None:
    clock = FakeClock()
    limit = RateLimit(1000, clock=clock, sleep=clock.sleep)
    assert limit.take(1000) == 0  # the bucket starts full: one second's worth
    for _ in range(4):
        limit.take(500)
    assert clock.now == pytest.approx(2.0)
    clock.now += 10  # a pause refills the bucket, up to its burst only
    limit.take(1000)
    limit.take(1000)
    assert clock.now == pytest.approx(13.0)


def test_the_rate_limit_is_shared_by_threads() -> None:
    clock = FakeClock(advances=False)  # time stands still: every wait is the debt at the moment it was taken
    limit = RateLimit(1000, burst=0, clock=clock, sleep=clock.sleep)
    threads = [threading.Thread(target=limit.take, args=(1000,)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(clock.slept) == pytest.approx([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])


def test_bwlimit_paces_every_transfer_of_a_sync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    made: list[RateLimit] = []

    class Paced(RateLimit):
        def __init__(self, bytes_per_second: int) -> None:
            super().__init__(bytes_per_second, clock=clock, sleep=clock.sleep)
            made.append(self)

    monkeypatch.setattr(executor_module, "RateLimit", Paced)
    store = memory()
    folder = tree(tmp_path / "src", {"a": b"a" * 1000, "b": b"b" * 1000, "c": b"c" * 1000})
    report = store.push(folder, state_dir=tmp_path / "state", bwlimit=1000, jobs=1)
    assert report.ok, report.summary()
    assert [limit.rate for limit in made] == [1000]  # one bucket for the whole sync
    assert clock.now == pytest.approx(2.0)  # 3000 bytes at 1000 B/s, the first second's worth at once
    back = store.pull("", tmp_path / "dest", state_dir=tmp_path / "state2", bwlimit=1000, jobs=1)
    assert back.ok, back.summary()
    assert clock.now == pytest.approx(4.0)  # a new sync, a new bucket: full again
