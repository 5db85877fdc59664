"""Carrying out a sync: the executor runs a plan as it streams out of the planner, then the deletes it allows."""

from __future__ import annotations

import hashlib
import io
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import IO, Any

from objstore.domain.errors import ObjectAlreadyExists, ObjectStorageError
from objstore.domain.streams import is_seekable
from objstore.syncing.backup import Backup
from objstore.syncing.guard import SideGuard, folded
from objstore.syncing.local import FileInTheWay, LinkInTheWay
from objstore.syncing.planner import (
    Action,
    ActionKind,
    Comparison,
    Entry,
    delete_refusal,
    plan_one_way,
    plan_two_way,
)
from objstore.syncing.report import Progress, SyncOptions, SyncReport
from objstore.syncing.sides import ANY, MISSING, Expectation, LocalSide, Side, StoreSide
from objstore.syncing.state import SwappedState, SyncStatePort
from objstore.syncing.throttle import RateLimit

__all__ = ["SyncExecutor", "run_sync"]

_BATCH_FILES = 8  # small transfers handed to a worker together ...
_BATCH_BYTES = 1024 * 1024  # ... up to this many bytes (a larger file goes on its own)
_DELETES = (ActionKind.DELETE, ActionKind.DELETE_SOURCE)

Pair = tuple[Entry | None, Entry | None]  # what the source and the destination listed for a key


def run_sync(
    source: Side,
    dest: Side,
    state: SyncStatePort,
    options: SyncOptions,
    *,
    swap_state: bool = False,
    progress: Progress | None = None,
    copy_label: str = "upload",
    excluded: Callable[[str], bool] | None = None,
    admits: Callable[[Entry], bool] | None = None,
    backup: Backup | None = None,
) -> SyncReport:
    """Plan and carry out a sync from ``source`` to ``dest`` (both ways with ``options.two_way``).

    Transfers run ``options.jobs`` at a time as the plan streams out of the planner. Deletes run last, and only
    when both listings completed, every transfer succeeded, the source was not empty and the count is within
    ``max_delete`` (unless forced).

    Args:
        swap_state: The state records tokens the other way round (a pull reusing a push's state).
        copy_label: What a copy from source to destination is called in the report ("download" for a pull).
        excluded: With --delete-excluded: keys the filters leave out, deleted on the destination (the destination
            is then listed unfiltered).
        admits: Sizes and ages (``--min-size`` ... ``--max-age``): whether an entry takes part. A key is judged by
            its source entry (its destination entry when the source has none) and left out on both sides.
        backup: Where what the sync overwrites or deletes on the destination is kept first (``--backup-dir``).
    """
    oriented = SwappedState(state) if swap_state else state
    executor = SyncExecutor(
        source,
        dest,
        oriented,
        options,
        progress=progress,
        copy_label=copy_label,
        excluded=excluded,
        admits=admits,
        backup=backup,
    )
    return executor.run()


class SyncExecutor:
    """One run of a sync: its sides, state and options, the report it fills, and what the plan left to do.

    Small transfers go to the pool in batches: a pool hand-off (future, queue, semaphore) costs about as much CPU
    as sending a small object directly, and the GIL makes that CPU the limit of a many-small-files sync.
    """

    def __init__(
        self,
        source: Side,
        dest: Side,
        state: SyncStatePort,
        options: SyncOptions,
        *,
        progress: Progress | None = None,
        copy_label: str = "upload",
        excluded: Callable[[str], bool] | None = None,
        admits: Callable[[Entry], bool] | None = None,
        backup: Backup | None = None,
    ) -> None:
        self.source, self.dest, self.state, self.options = source, dest, state, options
        self.copy_label = copy_label
        self.excluded = excluded  # --delete-excluded: keys the filters leave out, deleted on the destination
        self.admits = admits  # sizes and ages: whether an entry takes part
        self.backup = backup  # --backup-dir / --suffix: where the destination's replaced keys are kept first
        self._limit = RateLimit(options.bwlimit) if options.bwlimit else None  # --bwlimit, shared by all transfers
        self.report = SyncReport(
            source.label, dest.label, dry_run=options.dry_run, copy_label=copy_label, two_way=options.two_way
        )
        self.deletes: dict[ActionKind, list[str]] = {kind: [] for kind in _DELETES}
        # Copies that failed because a file became a folder of the same name (or the other way round).
        self.blocked: dict[str, tuple[Action, Pair, BaseException]] = {}
        self._progress = progress
        self._progress_lock = threading.Lock()
        self._lock = threading.Lock()  # the report, written from the transfer threads too
        self._tokens: dict[str, Pair] = {}  # the entries an action moves, kept only until the action runs
        self._guards: tuple[SideGuard, ...] = ()  # source's, destination's: set when the plan starts
        self._listed: tuple[_Counted, ...] = ()  # the guarded listings, counted
        self._slots = threading.BoundedSemaphore(options.jobs * 2)
        self._pool: ThreadPoolExecutor | None = None
        self._batch: list[tuple[Action, Pair]] = []
        self._batch_bytes = 0
        # Keys the rest of the plan leaves alone: the conflict copies keep-both made (a listing still running may
        # come to them), and keys whose conflict copy failed (B's version must not be replaced then).
        self._left_alone: set[str] = set()

    # --- the run ----------------------------------------------------------------------------------------------

    def run(self) -> SyncReport:
        """Carry out the whole sync (once)."""
        started = time.monotonic()
        counters_before = _sum_counters(self.source, self.dest)
        listing_error = self._carry_out(self._plan())
        if listing_error is not None and not self.report.counts and not self.report.failures:
            # Nothing could even be listed (credentials, a missing bucket, a dead server) and nothing was done:
            # the error itself is the answer, not a report of a sync that never began.
            raise listing_error
        self._gather_skipped()
        if self.blocked and listing_error is None and self._refusal(None, excused=self.blocked) is None:
            self._unblock()
        if listing_error is not None:
            self.report.failures["(listing)"] = f"a listing failed, so nothing was deleted: {listing_error}"
        self._run_deletes(listing_error)
        report = self.report
        if not self.options.dry_run and not report.failures and report.deletes_refused is None:
            # Keys left out (``skipped``) are left out the same way every time: the rest is a complete sync.
            self.state.mark_synced()  # only a complete sync: otherwise a later run would take leftovers for new data
        if self.options.dry_run and self._wanted():
            report.deletes_refused = self._refusal(None)
        report.seconds = time.monotonic() - started
        counters = _sum_counters(self.source, self.dest)
        report.layers = {name: value - counters_before.get(name, 0) for name, value in counters.items()}
        report.retries = report.layers.get("retries", 0)
        return report

    def _plan(self) -> Iterator[Action]:
        """The plan, streamed; what one side has that the other cannot hold never enters it (see guard.py)."""
        source, dest, options = self.source, self.dest, self.options
        source_guard = SideGuard(
            source.entries(),
            file_and_folder=not dest.holds_file_and_folder,
            reserved=dest.is_local,
            **_twins_for(source, dest, options),
        )
        dest_guard = SideGuard(
            dest.entries(),
            file_and_folder=not source.holds_file_and_folder,  # never deleted for want of a place on the source
            reserved=source.is_local,
            **_twins_for(dest, source, options),
        )
        self._guards = (source_guard, dest_guard)
        self._listed = (_Counted(source_guard), _Counted(dest_guard))
        sources, dests = self._remember(0, self._listed[0]), self._remember(1, self._listed[1])
        policy = options.effective_policy
        if options.two_way:
            return plan_two_way(sources, dests, self.state, policy=policy)
        return plan_one_way(
            sources,
            dests,
            self.state,
            delete=options.delete,
            policy=policy,
            checksum=options.checksum,
            prior_sync=self.state.has_synced(),
            compare=_comparison(options),
        )

    def _remember(self, side: int, entries: Iterable[Entry]) -> Iterator[Entry]:
        for entry in entries:
            pair = self._tokens.get(entry.key, (None, None))
            self._tokens[entry.key] = (entry, pair[1]) if side == 0 else (pair[0], entry)
            yield entry

    def _carry_out(self, plan: Iterator[Action]) -> BaseException | None:
        """Run the plan's transfers as it streams out; returns the error that stopped a listing, if one did."""
        with ThreadPoolExecutor(self.options.jobs, thread_name_prefix="objstore-sync") as pool:
            self._pool = pool
            try:
                for action in plan:
                    self._take(action)
                self.notify("planned", "", 0)
            except (ObjectStorageError, OSError, ValueError) as exc:
                return exc
            finally:
                self._flush()  # what was planned before a listing failed still runs, as it would have unbatched
        return None

    def _take(self, action: Action) -> None:
        if action.key in self._left_alone or any(guard.excludes(action.key) for guard in self._guards):
            self._tokens.pop(action.key, None)
            return  # nothing is done for it on either side (reported at the end, or already)
        screened = self._screen(action)
        if screened is None:
            if action.rename_to is None:  # keep-both's second action for the key still needs its tokens
                self._tokens.pop(action.key, None)
            return  # sizes and ages leave it out: nothing is done for it on either side
        action = screened
        if action.rename_to is not None:
            # keep-both: the other side's version is copied aside first, right here, before the copy that
            # replaces it is queued; the tokens stay for that copy.
            pair = self._tokens.get(action.key, (None, None))
            if not self.options.dry_run:
                self._keep_aside(action, pair)
                return
        else:
            pair = self._tokens.pop(action.key, (None, None))
        excluded = self.excluded
        if excluded is not None and pair[0] is None and pair[1] is not None and excluded(action.key):
            action = Action(ActionKind.DELETE, action.key, "excluded by the filters (--delete-excluded)")
        if self.options.dry_run:
            self._show(self._planned_backup(action, pair))
        else:
            self._dispatch(action, pair)

    def _screen(self, action: Action) -> Action | None:
        """Sizes and ages: the action, None for a key they leave out, or its delete with --delete-excluded."""
        admits = self.admits
        if admits is None or action.kind is ActionKind.FORGET:
            return action
        src, dst = self._tokens.get(action.key, (None, None))
        judged = src if src is not None else dst
        if judged is None or admits(judged):
            return action
        if self.options.delete_excluded and dst is not None and not self.options.two_way:
            return Action(ActionKind.DELETE, action.key, "excluded by the filters (--delete-excluded)", dst.size)
        return None

    def _planned_backup(self, action: Action, pair: Pair) -> Action:
        """A dry run with --backup-dir: an overwrite or a delete on the destination names its backup."""
        replaces = action.kind in (ActionKind.UPLOAD, ActionKind.DELETE) and action.rename_to is None
        if self.backup is None or not replaces or pair[1] is None:
            return action
        self.report.count("backup")
        return replace(action, reason=f"{action.reason}; kept first at {self.backup.where(action.key)}")

    def _back_up(self, key: str) -> None:
        """Keep the destination's ``key`` aside before it is replaced; a failure stops the replacement."""
        if self.backup is None:
            return
        try:
            self.backup.save(key)
        except Exception as exc:
            raise ObjectStorageError(
                f"{key}: its backup to {self.backup.where(key)} failed, so it was left as it is: {exc}"
            ) from exc
        self.report.count("backup")

    def _show(self, action: Action) -> None:
        """A dry run: the action goes into the report's plan, and is counted as if done."""
        self.report.plan.append(action)
        if action.kind is not ActionKind.FORGET:
            self.report.count(self.report.label(action.kind))
        if action.kind is ActionKind.CONFLICT:
            self.report.conflicts[action.key] = action.reason

    def _dispatch(self, action: Action, pair: Pair) -> None:
        kind = action.kind
        if kind in (ActionKind.UPLOAD, ActionKind.DOWNLOAD):
            self._queue(action, pair)
        elif kind in self.deletes:
            self.deletes[kind].append(action.key)
        elif kind is ActionKind.CONFLICT:
            self.report.conflicts[action.key] = action.reason
            self.report.count("conflict")
        elif kind is ActionKind.FORGET:
            self.state.forget(action.key)
        else:
            self.report.count("skip")
            self.notify("skip", action.key, 0)

    # --- transfers --------------------------------------------------------------------------------------------

    def notify(self, event: str, key: str, size: int) -> None:
        if self._progress is not None:
            with self._progress_lock:  # called from the transfer threads too
                self._progress(event, key, size)

    def _queue(self, action: Action, pair: Pair) -> None:
        self.notify("queued", action.key, action.size)
        # Not kept: a transfer records its own outcome, and the pool's exit waits for them all, so memory does
        # not grow with the number of transfers.
        self._batch.append((action, pair))
        self._batch_bytes += action.size
        if len(self._batch) >= _BATCH_FILES or self._batch_bytes >= _BATCH_BYTES:
            self._flush()

    def _flush(self) -> None:
        if self._batch and self._pool is not None:
            self._slots.acquire()
            self._pool.submit(self._transfer_batch, self._batch)
            self._batch, self._batch_bytes = [], 0

    def _transfer_batch(self, batch: list[tuple[Action, Pair]]) -> None:
        try:
            for action, pair in batch:
                self.transfer(action, pair)
        finally:
            self._slots.release()

    def transfer(self, action: Action, pair: Pair) -> None:
        """Copy one key, and record its outcome in the report (any failure is this key's; none is lost)."""
        report = self.report
        try:
            moved = self._copy(action, pair, self.options.force)
            if moved < 0:  # contents differ where the plan allowed only equal ones
                with self._lock:
                    report.conflicts[action.key] = "on both sides with different contents, no record of a sync"
                report.count("conflict")
                return
            kind = report.label(action.kind)
            with self._lock:
                report.bytes_transferred += moved
                report.count(kind if moved or not action.verify_content else "skip")
            self.notify(kind, action.key, moved)
        except LinkInTheWay as exc:
            with self._lock:
                report.skipped[action.key] = str(exc)
        except Exception as exc:  # noqa: BLE001 - any failure is this key's, reported; none is lost in the pool
            with self._lock:
                report.failures[action.key] = (
                    str(exc) if isinstance(exc, ObjectStorageError | OSError) else (f"{type(exc).__name__}: {exc}")
                )
                if isinstance(exc, ObjectAlreadyExists | IsADirectoryError | NotADirectoryError):
                    self.blocked[action.key] = (action, pair, exc)  # a file <-> folder swap: see _unblock

    def _copy(self, action: Action, pair: Pair, force: bool = False) -> int:
        """Copy one key in the action's direction; returns the bytes moved (0 when the contents were already
        equal, -1 when they differ and the plan allowed only equal ones).

        The write expects the target to be as the listing saw it (absent, or at the listed version), so a change
        someone else made since is reported rather than overwritten; ``force`` overwrites whatever is there.
        """
        upload = action.kind is ActionKind.UPLOAD
        origin, target = (self.source, self.dest) if upload else (self.dest, self.source)
        origin_entry, target_entry = pair if upload else pair[::-1]
        if origin_entry is None:
            raise ObjectStorageError(f"{action.key}: vanished before it could be copied")
        if action.verify_content and target_entry is not None:
            adopted = _same_by_md5(action.key, (origin, origin_entry), (target, target_entry))
            if adopted is not None:
                self._record(action.key, upload, origin_entry.token, target_entry.token, adopted)
                return 0
            origin_hash, target_hash = origin.sha256(action.key), target.sha256(action.key)
            if origin_hash and origin_hash == target_hash:
                self._record(action.key, upload, origin_entry.token, target_entry.token, origin_hash)
                return 0
            if action.conflict_if_different:
                return -1
        expect: Expectation
        if force:
            expect = ANY
        elif action.rename_to is not None or target_entry is None:
            expect = MISSING
        else:
            expect = target_entry.token
        if upload and target_entry is not None and action.rename_to is None:
            self._back_up(action.key)  # one-way only: the destination's copy is kept before it is replaced
        with origin.open(action.key) as stream:
            counted = _CountingStream(stream, self._limit)
            new_token = target.write(
                action.rename_to or action.key, counted, origin_entry.size, origin_entry.mtime_ns, expect
            )
        if action.rename_to is None:
            self._record(action.key, upload, origin_entry.token, new_token, counted.sha256())
        return counted.size

    def _keep_aside(self, action: Action, pair: Pair) -> None:
        """keep-both: B's version of the key is copied beside it under the conflict name on both sides, and
        recorded as synced there, before A's version replaces it at the key (``action`` names B -> A).

        If that fails, the key is left alone for the rest of the run (B's version is not replaced) and fails.
        """
        name, entry, report = action.rename_to, pair[1], self.report
        try:
            if name is None or entry is None:
                raise ObjectStorageError(f"{action.key}: vanished before it could be kept aside")
            self._left_alone.add(name)
            tokens: list[str] = []
            hashes: set[str | None] = set()
            moved = 0
            for side in (self.source, self.dest):
                with self.dest.open(action.key) as stream:
                    counted = _CountingStream(stream, self._limit)
                    tokens.append(side.write(name, counted, entry.size, entry.mtime_ns, MISSING))
                hashes.add(counted.sha256())
                moved += counted.size
            if len(hashes) == 1:  # the same content on both sides (else the next run compares them)
                self.state.record(name, tokens[0], tokens[1], hashes.pop())
        except Exception as exc:  # noqa: BLE001 - any failure is this key's, reported
            self._left_alone.add(action.key)
            with self._lock:
                report.failures[action.key] = f"its conflict copy could not be made, so it was left alone: {exc}"
            return
        kind = report.label(action.kind)
        with self._lock:
            report.bytes_transferred += moved
            report.count(kind)
        self.notify(kind, name, moved)

    def _record(self, key: str, upload: bool, origin_token: str, target_token: str, sha256: str | None) -> None:
        if upload:
            self.state.record(key, origin_token, target_token, sha256)
        else:
            self.state.record(key, target_token, origin_token, sha256)

    # --- after the plan: what was left out, blocked copies, deletes -------------------------------------------

    def _gather_skipped(self) -> None:
        """Name what was left out; and what a local side could not read is never deleted on the other side."""
        report = self.report
        for skipped in (self.source.skipped, self.dest.skipped, self._guards[0].skipped, self._guards[1].skipped):
            report.skipped.update(skipped)
        for side, kind in ((self.source, ActionKind.DELETE), (self.dest, ActionKind.DELETE_SOURCE)):
            if isinstance(side, LocalSide):
                report.problems.extend(side.folder.problems)
                unreadable = side.folder.problem_keys
                for key in self.deletes[kind]:
                    if key in unreadable:
                        report.conflicts[key] = "could not be read on the other side (a broken link?); not deleted"
                self.deletes[kind] = [key for key in self.deletes[kind] if key not in unreadable]

    def _unblock(self) -> None:
        """Copies that failed because a file became a folder of the same name (or the other way round).

        The object in the way is one the plan deletes anyway: that delete runs first, then the copy again. Other
        deletes still wait for the end of the sync. In a local folder, a file in the way of a folder is also
        replaced when the last sync wrote it and it is unchanged since (the store replaced that object with a
        folder); any other file in the way is kept, and the key fails.
        """
        for key, (action, pair, error) in sorted(self.blocked.items()):
            kind = ActionKind.DELETE if action.kind is ActionKind.UPLOAD else ActionKind.DELETE_SOURCE
            side = self.dest if kind is ActionKind.DELETE else self.source
            in_the_way = [d for d in self.deletes[kind] if key.startswith(d + "/") or d.startswith(key + "/")]
            if in_the_way:
                self.deletes[kind] = [d for d in self.deletes[kind] if d not in in_the_way]
                self._delete(in_the_way, side)
            elif not (isinstance(error, FileInTheWay) and isinstance(side, LocalSide)):
                continue  # nothing the sync may remove stands in the way: the key stays failed
            elif not self._remove_copy_in_the_way(key, error, side):  # failed, and the reason is noted
                continue
            self._copy_again(action, pair)

    def _remove_copy_in_the_way(self, key: str, error: FileInTheWay, side: LocalSide) -> bool:
        """Remove a local file standing where a folder must go, if the last sync wrote it and it is unchanged."""
        prior = self.state.get(error.blocking)
        token = None if prior is None else (prior.source_token if side is self.source else prior.dest_token)
        if token is not None and side is self.dest:
            try:
                self._back_up(error.blocking)
            except ObjectStorageError as exc:
                self.report.failures[key] = str(exc)
                return False
        if token is None or not side.folder.remove_if_unchanged(error.blocking, token):
            self.report.failures[key] = f"{error}, and it is not a copy the last sync made; kept"
            return False
        self.state.forget(error.blocking)
        kind = self.report.label(ActionKind.DELETE if side is self.dest else ActionKind.DELETE_SOURCE)
        self.report.count(kind)
        self.notify(kind, error.blocking, 0)
        return True

    def _copy_again(self, action: Action, pair: Pair) -> None:
        """A blocked copy, once what stood in its way is gone: the target is now expected to be absent."""
        upload = action.kind is ActionKind.UPLOAD
        cleared: Pair = (pair[0], None) if upload else (None, pair[1])
        try:
            moved = self._copy(action, cleared)
        except (ObjectStorageError, OSError) as exc:
            self.report.failures[action.key] = str(exc)
            return
        self.report.failures.pop(action.key, None)
        self.report.bytes_transferred += moved
        self.report.count(self.report.label(action.kind))

    def _wanted(self) -> int:
        return sum(len(keys) for keys in self.deletes.values())

    def _refusal(self, listing_error: BaseException | None, excused: Iterable[str] = ()) -> str | None:
        """Why deletes must not run now, or None. ``excused``: failures the deletes themselves will clear."""
        return delete_refusal(
            failed=listing_error is not None or bool(set(self.report.failures) - set(excused)),
            sources=self._listed[0].count,
            dests=self._listed[1].count,
            wanted=self._wanted(),
            max_delete=self.options.max_delete,
            force=self.options.force,
        )

    def _run_deletes(self, listing_error: BaseException | None) -> None:
        if not self._wanted() or self.options.dry_run:
            return
        refusal = self._refusal(listing_error)
        if refusal:
            self.report.deletes_refused = refusal
            return
        self._delete(self.deletes[ActionKind.DELETE], self.dest)
        self._delete(self.deletes[ActionKind.DELETE_SOURCE], self.source)

    def _delete(self, keys: list[str], side: Side) -> None:
        if side is self.dest and self.backup is not None:
            keys = self._backed_up(keys)
        if not keys:
            return
        failed = side.delete_many(keys)
        kind = self.report.label(ActionKind.DELETE if side is self.dest else ActionKind.DELETE_SOURCE)
        for key in keys:
            if key in failed:
                self.report.failures[key] = failed[key]
            else:
                self.state.forget(key)
                self.report.count(kind)
                self.notify(kind, key, 0)

    def _backed_up(self, keys: list[str]) -> list[str]:
        """The keys kept aside first (--backup-dir), so they may be deleted; the others fail and stay."""
        kept = []
        for key in keys:
            try:
                self._back_up(key)
            except ObjectStorageError as exc:
                self.report.failures[key] = str(exc)
            else:
                kept.append(key)
        return kept


def _comparison(options: SyncOptions) -> Comparison | None:
    """--size-only, --ignore-existing, --update for the planner (None when none is given: nothing to ask per key)."""
    if not (options.size_only or options.ignore_existing or options.update):
        return None
    return Comparison(options.size_only, options.ignore_existing, options.update)


def _twins_for(side: Side, other: Side, options: SyncOptions) -> dict[str, Any]:
    """For a store side copied into a local folder that folds case or normalisation: the names its keys share there.

    Found by a first listing of the side, only on such filesystems (macOS, Windows), where twins would overwrite
    each other; elsewhere nothing is listed twice.
    """
    if not isinstance(other, LocalSide) or isinstance(side, LocalSide) or options.dry_run:
        return {}
    case, normalisation = other.folder.folding()
    if not case and not normalisation:
        return {}

    def fold(key: str) -> str:
        return folded(key, case, normalisation)

    seen: set[str] = set()
    twins: set[str] = set()
    for entry in side.entries():
        name = fold(entry.key)
        (twins if name in seen else seen).add(name)
    side.skipped.clear()  # the main listing reports them again
    return {"twins": frozenset(twins), "fold": fold}


def _sum_counters(*sides: Side) -> dict[str, int]:
    totals: dict[str, int] = {}
    for side in sides:
        for name, value in side.counters().items():
            totals[name] = totals.get(name, 0) + value
    return totals


class _Counted:
    """Counts entries as they stream past (the planner must not hold listings whole)."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self._entries = entries
        self.count = 0

    def __iter__(self) -> Iterator[Entry]:
        for entry in self._entries:
            self.count += 1
            yield entry


def _same_by_md5(key: str, *sides: tuple[Side, Entry]) -> str | None:
    """A local file and a store object whose listed etag is the MD5 of its bytes (a single-part S3 object, as
    ``aws s3 sync`` and rclone leave them): the file's SHA-256 (to record) when the MD5s match, else None.

    One read of the file and no request: a first sync over a prefix another tool filled sends nothing again.
    """
    local = next((side for side, _ in sides if isinstance(side, LocalSide)), None)
    listed = next((side.listed_md5(entry) for side, entry in sides if isinstance(side, StoreSide)), None)
    if local is None or listed is None:
        return None
    sha256, md5 = local.folder.digests(key, "sha256", "md5")
    return sha256 if md5 == listed else None


class _CountingStream:
    """Counts and hashes what passes through, so the state records the SHA-256 of what was sent.

    Seekable when its source is, so a retried upload can start again from the beginning: bytes read a second
    time are not counted or hashed twice (the count and hash cover the furthest point read).
    """

    def __init__(self, stream: IO[bytes], limit: RateLimit | None = None) -> None:
        self._stream = stream
        self._limit = limit  # --bwlimit: each read draws from the sync's shared bucket
        self._seekable = is_seekable(stream)
        self._start = stream.tell() if self._seekable else 0
        self._position = 0
        self._gap = False
        self.size = 0
        self._digest = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(n)
        if self._limit is not None:
            self._limit.take(len(data))
        end = self._position + len(data)
        if end > self.size:
            if self._position > self.size:
                self._gap = True  # skipped ahead: part of the content was never seen
            else:
                self._digest.update(memoryview(data)[self.size - self._position :])
            self.size = end
        self._position = end
        return data

    def seekable(self) -> bool:
        return self._seekable

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if not self._seekable or whence != io.SEEK_SET:
            raise io.UnsupportedOperation("only an absolute seek on a seekable source")
        self._stream.seek(self._start + offset)
        self._position = offset
        return offset

    def sha256(self) -> str | None:
        return None if self._gap else self._digest.hexdigest()
