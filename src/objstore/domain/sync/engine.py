"""Carrying out a sync: the two sides, the executor and its report."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any, Protocol

from objstore.domain.errors import ConfigurationError, ObjectAlreadyExists, ObjectStorageError
from objstore.domain.keys import normalize_prefix, printable_key
from objstore.domain.streams import is_seekable
from objstore.domain.sync.guard import SideGuard, folded
from objstore.domain.sync.local import FileInTheWay, Filters, LinkInTheWay, LocalFolder
from objstore.domain.sync.planner import Action, ActionKind, Entry, Policy, Prior, plan_one_way, plan_two_way
from objstore.domain.sync.state import SyncState, state_path_for
from objstore.ports.storage import layer_counters

__all__ = ["LocalSide", "Progress", "Side", "StoreSide", "SyncOptions", "SyncReport", "run_sync", "sync"]

# (event, key, bytes): "queued" when a transfer is planned (bytes to move), "planned" once the whole plan is
# known, then "upload" / "download" / "copy" / "delete" / "skip" as each is done.
Progress = Callable[[str, str, int], None]

MISSING = object()  # a write's expectation: the key must not exist yet
ANY = object()  # a write's expectation: overwrite whatever is there (--force)
_BATCH_FILES = 8  # small transfers handed to a worker together ...
_BATCH_BYTES = 1024 * 1024  # ... up to this many bytes (a larger file goes on its own)


class Side(Protocol):
    """One side of a sync (a local folder, or a folder of a store)."""

    label: str
    holds_file_and_folder: bool  # an object "x" and objects under "x/" can both exist here
    is_local: bool  # a local folder (objstore's own names at its root are not data)
    skipped: dict[str, str]  # what exists here but cannot take part, with why (filled while listing)

    def entries(self) -> Iterator[Entry]: ...
    def open(self, key: str) -> contextlib.AbstractContextManager[IO[bytes]]: ...
    def write(
        self, key: str, source: IO[bytes] | Any, size: int, mtime_ns: int | None, expect: str | object | None
    ) -> str: ...
    def delete_many(self, keys: list[str]) -> dict[str, str]: ...
    def sha256(self, key: str) -> str | None: ...
    def counters(self) -> dict[str, int]: ...


class LocalSide:
    holds_file_and_folder = False
    is_local = True

    def __init__(self, folder: LocalFolder) -> None:
        self.folder = folder
        self.label = str(folder.root)
        self.skipped = folder.skipped

    def entries(self) -> Iterator[Entry]:
        return self.folder.entries()

    @contextlib.contextmanager
    def open(self, key: str) -> Iterator[IO[bytes]]:
        with self.folder.open(key) as handle:
            yield handle

    def write(
        self, key: str, source: IO[bytes] | Any, size: int, mtime_ns: int | None, expect: str | object | None
    ) -> str:
        return self.folder.write(key, source, mtime_ns, expect=None if expect is ANY else expect)

    def delete_many(self, keys: list[str]) -> dict[str, str]:
        failed = {}
        for key in keys:
            try:
                self.folder.delete(key)
            except FileNotFoundError:
                pass
            except OSError as exc:
                failed[key] = exc.strerror or str(exc)
        return failed

    def sha256(self, key: str) -> str | None:
        return self.folder.sha256(key)

    def counters(self) -> dict[str, int]:
        return {}


class StoreSide:
    is_local = False

    def __init__(self, service: Any, prefix: str, filters: Filters) -> None:
        self.service = service
        self.prefix = normalize_prefix(prefix)
        self.filters = filters
        self.label = service.store_identity + (f" /{self.prefix}" if self.prefix else "")
        self.holds_file_and_folder = bool(service.capabilities.key_and_prefix_coexist)
        self.skipped: dict[str, str] = {}

    def counters(self) -> dict[str, int]:
        """What the store's layers counted so far (retries, faults injected), every caller of the store included."""
        return layer_counters(self.service.adapter)

    def entries(self) -> Iterator[Entry]:
        cut = len(self.prefix) + 1 if self.prefix else 0
        for info in self.service.iter_objects(self.prefix, include_unusable=True):
            key = info.key[cut:]
            if info.unusable is not None:
                if self.filters.allows(key):
                    self.skipped[printable_key(key)] = f"{info.unusable}; it cannot be synced"
                continue
            if self.filters.allows(key):
                mtime = int(info.last_modified.timestamp() * 1e9) if info.last_modified else None
                yield Entry(key, info.size, info.etag or f"size:{info.size}", mtime)

    def open(self, key: str) -> contextlib.AbstractContextManager[IO[bytes]]:
        return self.service.get_object_stream(self.prefix, key)  # type: ignore[no-any-return]

    def write(
        self, key: str, source: IO[bytes] | Any, size: int, mtime_ns: int | None, expect: str | object | None
    ) -> str:
        conditions: dict[str, str] = {}
        if self.service.capabilities.conditional_put and expect is not ANY:
            # Only over the version the plan saw: a change made by someone else since is not overwritten.
            if expect is MISSING:
                conditions["if_none_match"] = "*"
            elif isinstance(expect, str) and not expect.startswith("size:"):
                conditions["if_match"] = expect
        # A refused condition surfaces as the store's ObjectAlreadyExists / PreconditionFailed: a failure for this
        # key (and ObjectAlreadyExists also lets the executor clear a file standing where a folder must go).
        info = self.service.put_object_stream(self.prefix, key, source, **conditions)
        return info.etag or self.service.head_object(self.prefix, key).etag or ""

    def delete_many(self, keys: list[str]) -> dict[str, str]:
        result = self.service.delete_objects(self.prefix, keys)
        return {key: str(error) for key, error in result.errors.items()}

    def sha256(self, key: str) -> str | None:
        return self.service.head_object(self.prefix, key).checksum_sha256  # type: ignore[no-any-return]


@dataclass(frozen=True)
class SyncOptions:
    """How a sync behaves (the same options as the CLI's).

    Attributes:
        delete: Delete destination keys the source lacks (push: yes by default; pull: no).
        two_way: Reconcile both sides from the state of the last sync.
        policy: What to do with changes the other side made too (see :class:`Policy`).
        checksum: Compare contents even where nothing seems changed.
        dry_run: Plan only; change nothing.
        jobs: Transfers at once.
        max_delete: Refuse to delete more than this many objects (``"50%"`` of the destination, or a count)
            unless ``force``.
        force: Allow large deletes and overwrite destination changes (``Policy.SOURCE_WINS``).
    """

    delete: bool = True
    two_way: bool = False
    policy: Policy = Policy.FAIL
    checksum: bool = False
    dry_run: bool = False
    jobs: int = 8
    max_delete: str = "50%"
    force: bool = False

    def __post_init__(self) -> None:
        # Checked before anything runs: a typo must not surface only when deletes come due.
        if _limit(self.max_delete, 100) < 0:
            raise ConfigurationError(f"--max-delete cannot be negative, not {self.max_delete!r}")
        if self.jobs < 1:
            raise ConfigurationError(f"--jobs must be at least 1, not {self.jobs}")


@dataclass
class SyncReport:
    """What a sync did: counts, bytes, failures with reasons, conflicts, and the plan on a dry run."""

    source: str
    destination: str
    dry_run: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    bytes_transferred: int = 0
    failures: dict[str, str] = field(default_factory=dict)
    conflicts: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    deletes_refused: str | None = None
    plan: list[Action] = field(default_factory=list)
    retries: int = 0
    layers: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """No failure, no key left unsynced (``skipped``) and no refused delete (conflicts are reported apart)."""
        return not self.failures and not self.skipped and self.deletes_refused is None

    def count(self, kind: str) -> None:
        with self._lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1

    def summary(self) -> str:
        verb = "would be" if self.dry_run else ""
        kinds = [kind for kind in ("upload", "download", "copy", "delete", "skip", "conflict") if kind in self.counts]
        parts = [f"{self.counts[kind]} {kind}{'s' if self.counts[kind] != 1 else ''}" for kind in kinds]
        parts = parts or ["nothing to do"]
        lines = [f"{self.source} -> {self.destination}: " + ", ".join(parts) + (f" ({verb.strip()})" if verb else "")]
        if not self.dry_run:
            line = f"{self.bytes_transferred:,} bytes in {self.seconds:.1f}s, {self.retries} retries"
            if self.layers.get("faults_injected"):
                line += f", {self.layers['faults_injected']} faults injected"
            lines.append(line)
        for key, reason in sorted(self.conflicts.items()):
            lines.append(f"conflict: {key}: {reason}")
        for key, reason in sorted(self.failures.items()):
            lines.append(f"FAILED: {key}: {reason}")
        for key, reason in sorted(self.skipped.items()):
            lines.append(f"NOT SYNCED: {key}: {reason}")
        if self.deletes_refused:
            lines.append(f"deletes refused: {self.deletes_refused}")
        lines.extend(f"skipped: {problem}" for problem in self.problems)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "destination": self.destination,
            "dry_run": self.dry_run,
            "ok": self.ok,
            "counts": self.counts,
            "bytes": self.bytes_transferred,
            "retries": self.retries,
            "layers": dict(self.layers),
            "seconds": round(self.seconds, 3),
            "failures": self.failures,
            "conflicts": self.conflicts,
            "skipped": self.skipped,
            "problems": self.problems,
            "deletes_refused": self.deletes_refused,
            "plan": [
                {"action": action.kind.value, "key": action.key, "reason": action.reason, "size": action.size}
                for action in self.plan
                if action.kind not in (ActionKind.SKIP, ActionKind.FORGET)
            ],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


def _limit(max_delete: str, total: int) -> int:
    text = str(max_delete).strip()
    try:
        if text.endswith("%"):
            return math.ceil(total * float(text[:-1]) / 100)  # rounded up: one delete in a tiny tree is not blocked
        return int(text)
    except ValueError:
        raise ConfigurationError(f"--max-delete takes a count or a percentage, not {max_delete!r}") from None


class _Counted:
    """Counts entries as they stream past (the planner must not hold listings whole)."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self._entries = entries
        self.count = 0

    def __iter__(self) -> Iterator[Entry]:
        for entry in self._entries:
            self.count += 1
            yield entry


def run_sync(
    source: Side,
    dest: Side,
    state: SyncState,
    options: SyncOptions,
    *,
    swap_state: bool = False,
    progress: Progress | None = None,
    copy_label: str = "upload",
    excluded: Callable[[str], bool] | None = None,
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
    """
    started = time.monotonic()
    counters_before = _sum_counters(source, dest)
    report = SyncReport(source.label, dest.label, dry_run=options.dry_run)
    progress_lock = threading.Lock()

    def notify(event: str, key: str, size: int) -> None:
        if progress is not None:
            with progress_lock:  # called from the transfer threads too
                progress(event, key, size)

    policy = Policy.SOURCE_WINS if options.force and not options.two_way else options.policy
    prior: Iterable[Prior] = state
    if swap_state:
        prior = (Prior(p.key, p.dest_token, p.source_token, p.sha256) for p in state)

    def record(key: str, source_token: str, dest_token: str, sha256: str | None) -> None:
        if swap_state:
            state.record(key, dest_token, source_token, sha256)
        else:
            state.record(key, source_token, dest_token, sha256)

    # What one side has that the other cannot hold never enters the plan (see guard.py).
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
    guards = (source_guard, dest_guard)
    source_entries = _Counted(source_guard)
    dest_entries = _Counted(dest_guard)
    tokens: dict[str, tuple[Entry | None, Entry | None]] = {}

    def remember(side: int, entries: Iterable[Entry]) -> Iterator[Entry]:
        # The executor needs the tokens of the entries an action moves; kept only until the action runs.
        for entry in entries:
            pair = tokens.get(entry.key, (None, None))
            tokens[entry.key] = (entry, pair[1]) if side == 0 else (pair[0], entry)
            yield entry

    if options.two_way:
        plan = plan_two_way(remember(0, source_entries), remember(1, dest_entries), prior, policy=policy)
    else:
        plan = plan_one_way(
            remember(0, source_entries),
            remember(1, dest_entries),
            prior,
            delete=options.delete,
            policy=policy,
            checksum=options.checksum,
            prior_sync=state.has_synced(),
        )

    lock = threading.Lock()
    deletes: dict[ActionKind, list[str]] = {ActionKind.DELETE: [], ActionKind.DELETE_SOURCE: []}
    slots = threading.BoundedSemaphore(options.jobs * 2)

    blocked: dict[str, tuple[Action, tuple[Entry | None, Entry | None], BaseException]] = {}

    def transfer(action: Action, pair: tuple[Entry | None, Entry | None]) -> None:
        try:
            moved = _transfer(action, pair, source, dest, record, state, options.force)
            if moved < 0:  # contents differ where the plan allowed only equal ones
                with lock:
                    report.conflicts[action.key] = "on both sides with different contents, no record of a sync"
                report.count("conflict")
                return
            kind = copy_label if action.kind is ActionKind.UPLOAD else action.kind.value
            with lock:
                report.bytes_transferred += moved
                report.count(kind if moved or not action.verify_content else "skip")
            notify(kind, action.key, moved)
        except LinkInTheWay as exc:
            with lock:
                report.skipped[action.key] = str(exc)
        except Exception as exc:  # noqa: BLE001 - any failure is this key's, reported; none is lost in the pool
            with lock:
                report.failures[action.key] = (
                    str(exc) if isinstance(exc, ObjectStorageError | OSError) else (f"{type(exc).__name__}: {exc}")
                )
                if isinstance(exc, ObjectAlreadyExists | IsADirectoryError | NotADirectoryError):
                    blocked[action.key] = (action, pair, exc)  # a file <-> folder swap: see below

    def transfer_batch(batch: list[tuple[Action, tuple[Entry | None, Entry | None]]]) -> None:
        try:
            for action, pair in batch:
                transfer(action, pair)
        finally:
            slots.release()

    # Small transfers go to the pool in batches: a pool hand-off (future, queue, semaphore) costs about as much
    # CPU as sending a small object directly, and the GIL makes that CPU the limit of a many-small-files sync.
    batch: list[tuple[Action, tuple[Entry | None, Entry | None]]] = []
    batch_bytes = 0

    def flush() -> None:
        nonlocal batch, batch_bytes
        if batch:
            slots.acquire()
            pool.submit(transfer_batch, batch)
            batch, batch_bytes = [], 0

    listing_error: BaseException | None = None
    with ThreadPoolExecutor(options.jobs, thread_name_prefix="objstore-sync") as pool:
        try:
            for action in plan:
                if any(guard.excludes(action.key) for guard in guards):
                    tokens.pop(action.key, None)
                    continue  # nothing is done for it on either side (reported below)
                if action.rename_to is not None:
                    # keep-both: the other side's version is copied aside first, right here, before the copy
                    # that replaces it is queued; the tokens stay for that copy.
                    pair = tokens.get(action.key, (None, None))
                    if not options.dry_run:
                        transfer(action, pair)
                        continue
                else:
                    pair = tokens.pop(action.key, (None, None))
                if excluded is not None and pair[0] is None and pair[1] is not None and excluded(action.key):
                    action = Action(ActionKind.DELETE, action.key, "excluded by the filters (--delete-excluded)")
                if options.dry_run:
                    report.plan.append(action)
                    if action.kind is not ActionKind.FORGET:
                        report.count(copy_label if action.kind is ActionKind.UPLOAD else action.kind.value)
                    if action.kind is ActionKind.CONFLICT:
                        report.conflicts[action.key] = action.reason
                    continue
                if action.kind in (ActionKind.UPLOAD, ActionKind.DOWNLOAD):
                    notify("queued", action.key, action.size)
                    # Not kept: a transfer records its own outcome, and the pool's exit waits for them all, so
                    # memory does not grow with the number of transfers.
                    batch.append((action, pair))
                    batch_bytes += action.size
                    if len(batch) >= _BATCH_FILES or batch_bytes >= _BATCH_BYTES:
                        flush()
                elif action.kind in deletes:
                    deletes[action.kind].append(action.key)
                elif action.kind is ActionKind.CONFLICT:
                    report.conflicts[action.key] = action.reason
                    report.count("conflict")
                elif action.kind is ActionKind.FORGET:
                    state.forget(action.key)
                else:
                    report.count("skip")
                    notify("skip", action.key, 0)
            notify("planned", "", 0)
        except (ObjectStorageError, OSError, ValueError) as exc:
            listing_error = exc
        finally:
            flush()  # what was planned before a listing failed still runs, as it would have unbatched
    if listing_error is not None and not report.counts and not report.failures:
        # Nothing could even be listed (credentials, a missing bucket, a dead server) and nothing was done: the
        # error itself is the answer, not a report of a sync that never began.
        raise listing_error
    for skipped in (source.skipped, dest.skipped, source_guard.skipped, dest_guard.skipped):
        report.skipped.update(skipped)
    unreadable: set[str] = set()
    for side, kind in ((source, ActionKind.DELETE), (dest, ActionKind.DELETE_SOURCE)):
        if isinstance(side, LocalSide):
            report.problems.extend(side.folder.problems)
            unreadable |= side.folder.problem_keys
            kept = [key for key in deletes[kind] if key in side.folder.problem_keys]
            for key in kept:
                report.conflicts[key] = "could not be read on the other side (a broken link?); not deleted"
            deletes[kind] = [key for key in deletes[kind] if key not in side.folder.problem_keys]
    if blocked and listing_error is None:
        wanted_now = sum(len(keys) for keys in deletes.values())
        if (
            _refuse_deletes(report, None, source_entries.count, dest_entries.count, wanted_now, options, blocked)
            is None
        ):
            _unblock(blocked, deletes, source, dest, record, state, report, notify)
    if listing_error is not None:
        report.failures["(listing)"] = f"a listing failed, so nothing was deleted: {listing_error}"
    wanted = sum(len(keys) for keys in deletes.values())
    if wanted and not options.dry_run:
        refusal = _refuse_deletes(report, listing_error, source_entries.count, dest_entries.count, wanted, options)
        if refusal:
            report.deletes_refused = refusal
        else:
            _delete(deletes[ActionKind.DELETE], dest, state, report, notify)
            _delete(deletes[ActionKind.DELETE_SOURCE], source, state, report, notify)
    if not options.dry_run and not report.failures and report.deletes_refused is None:
        # Keys left out (``skipped``) are left out the same way every time: the rest is a complete sync.
        state.mark_synced()  # only a complete sync: otherwise a later run would take leftovers for new data
    if options.dry_run and wanted:
        refusal = _refuse_deletes(report, None, source_entries.count, dest_entries.count, wanted, options)
        report.deletes_refused = refusal
    report.seconds = time.monotonic() - started
    counters = _sum_counters(source, dest)
    report.layers = {name: value - counters_before.get(name, 0) for name, value in counters.items()}
    report.retries = report.layers.get("retries", 0)
    return report


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


def _unblock(
    blocked: dict[str, tuple[Action, tuple[Entry | None, Entry | None], BaseException]],
    deletes: dict[ActionKind, list[str]],
    source: Side,
    dest: Side,
    record: Callable[[str, str, str, str | None], None],
    state: SyncState,
    report: SyncReport,
    notify: Progress,
) -> None:
    """Copies that failed because a file became a folder of the same name (or the other way round).

    The object in the way is one the plan deletes anyway: that delete runs first, then the copy again. Other
    deletes still wait for the end of the sync. In a local folder, a file in the way of a folder is also replaced
    when the last sync wrote it and it is unchanged since (the store replaced that object with a folder); any
    other file in the way is kept, and the key fails.
    """
    for key, (action, pair, error) in sorted(blocked.items()):
        kind = ActionKind.DELETE if action.kind is ActionKind.UPLOAD else ActionKind.DELETE_SOURCE
        side = dest if kind is ActionKind.DELETE else source
        in_the_way = [d for d in deletes[kind] if key.startswith(d + "/") or d.startswith(key + "/")]
        if in_the_way:
            deletes[kind] = [d for d in deletes[kind] if d not in in_the_way]
            _delete(in_the_way, side, state, report, notify)
        elif isinstance(error, FileInTheWay) and isinstance(side, LocalSide):
            prior = state.get(error.blocking)
            # A local folder's tokens are the state's source side (push orientation, which a pull reuses).
            if prior is None or not side.folder.remove_if_unchanged(error.blocking, prior.source_token):
                report.failures[key] = f"{error}, and it is not a copy the last sync made; kept"
                continue
            state.forget(error.blocking)
            report.count("delete")
            notify("delete", error.blocking, 0)
        else:
            continue
        origin_entry = pair[0] if action.kind is ActionKind.UPLOAD else pair[1]
        cleared = (origin_entry, None) if action.kind is ActionKind.UPLOAD else (None, origin_entry)
        try:
            moved = _transfer(action, cleared, source, dest, record, state)
        except (ObjectStorageError, OSError) as exc:
            report.failures[key] = str(exc)
            continue
        report.failures.pop(key, None)
        report.bytes_transferred += moved
        report.count(action.kind.value)


def _refuse_deletes(
    report: SyncReport,
    listing_error: BaseException | None,
    sources: int,
    dests: int,
    wanted: int,
    options: SyncOptions,
    excused: Mapping[str, object] = MappingProxyType({}),
) -> str | None:
    """Why deletes must not run now, or None. ``excused``: failures the deletes themselves will clear."""
    if listing_error is not None or set(report.failures) - set(excused):
        return "some operations failed; deletes run only after a complete, error-free sync"
    if sources == 0 and not options.force:
        return "the source is empty; deleting everything on the destination needs --force"
    limit = _limit(options.max_delete, max(dests, sources))
    if wanted > limit and not options.force:
        return f"{wanted} deletes exceed --max-delete {options.max_delete} ({limit}); use --force to allow them"
    return None


def _delete(keys: list[str], side: Side, state: SyncState, report: SyncReport, notify: Progress) -> None:
    if not keys:
        return
    failed = side.delete_many(keys)
    for key in keys:
        if key in failed:
            report.failures[key] = failed[key]
        else:
            state.forget(key)
            report.count("delete")
            notify("delete", key, 0)


def _transfer(
    action: Action,
    pair: tuple[Entry | None, Entry | None],
    source: Side,
    dest: Side,
    record: Callable[[str, str, str, str | None], None],
    state: SyncState,
    force: bool = False,
) -> int:
    """Copy one key in the action's direction; returns the bytes moved (0 when the contents were already equal).

    The write expects the target to be as the listing saw it (absent, or at the listed version), so a change
    someone else made since is reported rather than overwritten; ``force`` overwrites whatever is there.
    """
    src_entry, dst_entry = pair
    upload = action.kind is ActionKind.UPLOAD
    origin, target = (source, dest) if upload else (dest, source)
    origin_entry, target_entry = (src_entry, dst_entry) if upload else (dst_entry, src_entry)
    if origin_entry is None:
        raise ObjectStorageError(f"{action.key}: vanished before it could be copied")
    if action.verify_content and target_entry is not None:
        origin_hash, target_hash = origin.sha256(action.key), target.sha256(action.key)
        if origin_hash and origin_hash == target_hash:
            tokens = (origin_entry.token, target_entry.token)
            record(action.key, *(tokens if upload else tokens[::-1]), origin_hash)
            return 0
        if action.conflict_if_different:
            return -1
    key = action.rename_to or action.key
    if force:
        expect: str | object = ANY
    elif action.rename_to is not None or target_entry is None:
        expect = MISSING
    else:
        expect = target_entry.token
    with origin.open(action.key) as stream:
        counted = _CountingStream(stream)
        new_token = target.write(key, counted, origin_entry.size, origin_entry.mtime_ns, expect)
    if action.rename_to is None:
        tokens = (origin_entry.token, new_token)
        record(action.key, *(tokens if upload else tokens[::-1]), counted.sha256())
    return counted.size


class _CountingStream:
    """Counts and hashes what passes through, so the state records the SHA-256 of what was sent.

    Seekable when its source is, so a retried upload can start again from the beginning: bytes read a second
    time are not counted or hashed twice (the count and hash cover the furthest point read).
    """

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._digest = hashlib.sha256()
        self._seekable = is_seekable(stream)
        self._start = stream.tell() if self._seekable else 0
        self._position = 0
        self._gap = False
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(n)
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


def _legacy_state_home() -> Path:
    """Where store-to-store states were kept before the state directory: ``$OBJSTORE_HOME/sync``."""
    home = os.environ.get("OBJSTORE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share", "objstore")
    return Path(home) / "sync"


def sync(
    source: Any,
    destination: Any,
    *,
    source_prefix: str = "",
    dest_prefix: str = "",
    two_way: bool = False,
    conflict: str = "fail",
    delete: bool = True,
    force: bool = False,
    dry_run: bool = False,
    checksum: bool = False,
    include: tuple[str, ...] | list[str] = (),
    exclude: tuple[str, ...] | list[str] = (),
    rules: tuple[str, ...] | list[str] = (),
    delete_excluded: bool = False,
    follow_symlinks: bool = True,
    jobs: int = 8,
    max_delete: str = "50%",
    progress: Progress | None = None,
    state_path: str | os.PathLike[str] | None = None,
    state_dir: str | os.PathLike[str] | None = None,
) -> SyncReport:
    """Sync two stores (any two adapters: moving data between providers), one way or both ways.

    Args:
        source, destination: ``ObjectStorageService`` instances.
        two_way: Reconcile both sides from the state of the last sync; ``conflict`` settles keys changed on both
            (``fail``: reported and left alone; ``newer``: the later write wins; ``keep-both``: the destination's
            version is kept beside under a ``.conflict`` name).
        state_path: The state file of this pair (default: one per pair in the state directory, see
            :func:`objstore.domain.sync.state.state_dir`).
        state_dir: The state directory, instead of the default.
    """
    del follow_symlinks  # stores have no links; accepted so the CLI's options pass through unchanged
    filters = Filters.of(include, exclude, rules)
    policy = {"fail": Policy.FAIL, "newer": Policy.NEWER_WINS, "keep-both": Policy.KEEP_BOTH}.get(conflict)
    if policy is None:
        raise ConfigurationError("conflict must be fail, newer or keep-both")
    pair = (
        f"{source.store_identity}|{normalize_prefix(source_prefix)}|"
        f"{destination.store_identity}|{normalize_prefix(dest_prefix)}"
    )
    path = Path(state_path) if state_path else state_path_for(f"stores:{pair}", state_dir)
    legacy = _legacy_state_home() / f"{hashlib.sha256(pair.encode()).hexdigest()[:24]}.sqlite"
    if state_path is None and not path.exists() and legacy.is_file():
        if dry_run:
            path = legacy
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(legacy, path)  # once: states moved to the state directory
    state = SyncState(path, read_only=dry_run)
    options = SyncOptions(
        delete=delete,
        two_way=two_way,
        policy=policy,
        checksum=checksum,
        dry_run=dry_run,
        jobs=jobs,
        max_delete=max_delete,
        force=force,
    )
    try:
        return run_sync(
            StoreSide(source, source_prefix, filters),
            StoreSide(destination, dest_prefix, Filters() if delete_excluded and not two_way else filters),
            state,
            options,
            progress=progress,
            copy_label="copy",
            excluded=(lambda key: not filters.allows(key)) if delete_excluded and not two_way else None,
        )
    finally:
        state.close()
