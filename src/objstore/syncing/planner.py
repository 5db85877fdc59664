"""The sync planner: a pure function from three sorted streams to a plan of frozen actions with reasons.

Inputs, each in ascending key order:
  * the source side's entries and the destination side's entries (key, size, version token);
  * the state of the last sync: for each key, the tokens both sides had when they were last made equal.

A *token* is whatever changes when an entry changes: a store's etag, or a local file's (size, mtime_ns, ctime_ns,
inode). Comparing tokens with the state tells what changed since the last sync without reading any content or
asking the store anything per object. No rule here ever overwrites or deletes what only the destination changed,
unless the policy says so.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum

from objstore.domain.errors import ConfigurationError

__all__ = [
    "Action",
    "ActionKind",
    "Comparison",
    "Entry",
    "Policy",
    "Prior",
    "delete_limit",
    "delete_refusal",
    "merge",
    "plan_one_way",
    "plan_two_way",
]


@dataclass(frozen=True, slots=True)
class Entry:
    """One side's view of a key."""

    key: str
    size: int
    token: str
    mtime_ns: int | None = None


@dataclass(frozen=True, slots=True)
class Prior:
    """What the last sync recorded for a key: both sides' tokens when they were equal, and the content's hash."""

    key: str
    source_token: str
    dest_token: str
    sha256: str | None = None


class ActionKind(str, Enum):
    UPLOAD = "upload"  # source -> destination (a copy in the direction of the sync)
    DOWNLOAD = "download"  # destination -> source (two-way only)
    DELETE = "delete"  # delete on the destination
    DELETE_SOURCE = "delete-source"  # delete on the source (two-way only)
    SKIP = "skip"
    CONFLICT = "conflict"
    FORGET = "forget"  # gone from both sides: drop the state record


class Policy(str, Enum):
    """What to do when both sides changed (or the destination changed, for a one-way sync)."""

    FAIL = "fail"  # report the conflict and change nothing for that key
    SOURCE_WINS = "source-wins"  # one-way: overwrite / delete destination changes too (--force)
    NEWER_WINS = "newer"  # two-way: the side with the later mtime wins
    KEEP_BOTH = "keep-both"  # two-way: keep the destination's version under a "conflict" name


@dataclass(frozen=True, slots=True)
class Action:
    kind: ActionKind
    key: str
    reason: str
    size: int = 0
    # For uploads whose content may be the same (no state to compare with): the executor compares hashes.
    verify_content: bool = False
    rename_to: str | None = None  # KEEP_BOTH: where B's version is kept aside, on both sides
    # Two-way, no record of a sync: equal contents are recorded as synced; different contents are a conflict.
    conflict_if_different: bool = False


@dataclass(frozen=True, slots=True)
class Comparison:
    """One-way only: keys on both sides left alone whatever the tokens say (rclone's options of the same names).

    Keys held back are skipped, not recorded as synced: a later sync without these options compares them again.
    """

    size_only: bool = False  # the same size is the same content
    ignore_existing: bool = False  # what the destination has is never overwritten
    update: bool = False  # a destination copy newer than the source's is kept

    def holds_back(self, src: Entry, dst: Entry) -> str | None:
        """Why the key is left alone, or None."""
        if self.ignore_existing:
            return "exists on the destination (--ignore-existing)"
        if self.update and src.mtime_ns is not None and dst.mtime_ns is not None and dst.mtime_ns > src.mtime_ns:
            return "newer on the destination (--update)"
        if self.size_only and src.size == dst.size:
            return "same size (--size-only)"
        return None


def merge(
    source: Iterable[Entry], dest: Iterable[Entry], prior: Iterable[Prior]
) -> Iterator[tuple[str, Entry | None, Entry | None, Prior | None]]:
    """Walk three key-ordered streams together, yielding each key once with what each stream has for it."""
    iterators: list[Iterator[Entry | Prior]] = [iter(source), iter(dest), iter(prior)]
    heads: list[Entry | Prior | None] = [next(it, None) for it in iterators]
    while any(head is not None for head in heads):
        key = min(head.key for head in heads if head is not None)
        current: list[Entry | Prior | None] = [None, None, None]
        for index, head in enumerate(heads):
            if head is not None and head.key == key:
                current[index] = head
                following = next(iterators[index], None)
                if following is not None and following.key <= key:
                    raise ValueError(f"a listing is not in ascending key order at {following.key!r}")
                heads[index] = following
        src, dst, state = current
        yield key, src, dst, state  # type: ignore[misc]


def plan_one_way(
    source: Iterable[Entry],
    dest: Iterable[Entry],
    prior: Iterable[Prior],
    *,
    delete: bool,
    policy: Policy = Policy.FAIL,
    checksum: bool = False,
    prior_sync: bool,
    compare: Comparison | None = None,
) -> Iterator[Action]:
    """Plan making the destination equal the source.

    Args:
        delete: Delete destination keys the source does not have (mirror).
        policy: ``FAIL`` keeps destination changes made since the last sync (reported as conflicts);
            ``SOURCE_WINS`` overwrites and deletes them too.
        checksum: Compare contents even where tokens say nothing changed.
        prior_sync: Whether the two sides were synced before (a state exists). Without one, destination extras are
            what the user is mirroring over (deleted if ``delete``), not changes made since.
        compare: Keys on both sides to leave alone (``--size-only``, ``--ignore-existing``, ``--update``).
    """
    force = policy is Policy.SOURCE_WINS
    for key, src, dst, state in merge(source, dest, prior):
        if src is None and dst is None:
            yield Action(ActionKind.FORGET, key, "gone from both sides")
            continue
        held = None if compare is None or src is None or dst is None else compare.holds_back(src, dst)
        if held is not None:
            yield Action(ActionKind.SKIP, key, held)
            continue
        if src is not None and dst is None:
            reason = "new on the source" if state is None else "missing on the destination"
            yield Action(ActionKind.UPLOAD, key, reason, src.size)
        elif src is not None and dst is not None:
            yield _on_both_sides(key, src, dst, state, prior_sync=prior_sync, force=force, checksum=checksum)
        elif dst is not None:
            yield _on_the_destination_only(key, dst, state, delete=delete, prior_sync=prior_sync, force=force)


def _on_both_sides(
    key: str, src: Entry, dst: Entry, state: Prior | None, *, prior_sync: bool, force: bool, checksum: bool
) -> Action:
    """A one-way sync's action for a key both sides have."""
    if state is None:
        if prior_sync and not force:
            return Action(ActionKind.CONFLICT, key, "created on both sides since the last sync")
        if src.size != dst.size:
            return Action(ActionKind.UPLOAD, key, "differs (size)", src.size)
        return Action(ActionKind.UPLOAD, key, "no record of a sync: contents compared", src.size, True)
    src_changed, dst_changed = src.token != state.source_token, dst.token != state.dest_token
    if not src_changed and not dst_changed:
        if checksum:
            return Action(ActionKind.UPLOAD, key, "contents compared (--checksum)", src.size, True)
        return Action(ActionKind.SKIP, key, "unchanged")
    if src_changed and not dst_changed:
        return Action(ActionKind.UPLOAD, key, "changed on the source", src.size, src.size == dst.size)
    if force:
        return Action(ActionKind.UPLOAD, key, "destination changed too, overwritten (forced)", src.size)
    if not src_changed:
        return Action(ActionKind.CONFLICT, key, "changed on the destination since the last sync; kept")
    return Action(ActionKind.CONFLICT, key, "changed on both sides since the last sync")


def _on_the_destination_only(
    key: str, dst: Entry, state: Prior | None, *, delete: bool, prior_sync: bool, force: bool
) -> Action:
    """A one-way sync's action for a key only the destination has."""
    if not delete:
        return Action(ActionKind.SKIP, key, "only on the destination (kept: no delete)")
    if state is not None and dst.token == state.dest_token:
        return Action(ActionKind.DELETE, key, "deleted on the source", dst.size)
    if not prior_sync or force:
        return Action(ActionKind.DELETE, key, "not on the source", dst.size)
    return Action(ActionKind.CONFLICT, key, "new or changed on the destination since the last sync; kept")


def plan_two_way(
    a: Iterable[Entry],
    b: Iterable[Entry],
    prior: Iterable[Prior],
    *,
    policy: Policy = Policy.FAIL,
) -> Iterator[Action]:
    """Plan making two sides equal, each keeping the other's changes since the last sync.

    ``UPLOAD`` copies a to b, ``DOWNLOAD`` copies b to a, ``DELETE`` deletes on b, ``DELETE_SOURCE`` on a.
    Keys changed on both sides are settled by ``policy`` (``FAIL``: reported, left alone).
    """
    for key, left, right, state in merge(a, b, prior):
        if left is None and right is None:
            yield Action(ActionKind.FORGET, key, "gone from both sides")
            continue
        left_changed = state is None or left is None or left.token != state.source_token
        right_changed = state is None or right is None or right.token != state.dest_token
        if left is not None and right is not None:
            if state is not None and not left_changed and not right_changed:
                yield Action(ActionKind.SKIP, key, "unchanged")
            elif state is not None and left_changed and not right_changed:
                yield Action(ActionKind.UPLOAD, key, "changed on A", left.size)
            elif state is not None and right_changed and not left_changed:
                yield Action(ActionKind.DOWNLOAD, key, "changed on B", right.size)
            elif state is None and left.size == right.size:
                # Never synced: the same content on both sides is not a conflict; the executor compares, and
                # reports a conflict (copying nothing) when the contents differ.
                yield Action(
                    ActionKind.UPLOAD,
                    key,
                    "on both sides, no record: contents compared",
                    left.size,
                    True,
                    conflict_if_different=True,
                )
            else:
                yield from _settle(key, left, right, policy, "changed on both sides")
        elif left is not None:
            if state is None:
                yield Action(ActionKind.UPLOAD, key, "new on A", left.size)
            elif left_changed:
                yield from _settle(key, left, None, policy, "changed on A, deleted on B")
            else:
                yield Action(ActionKind.DELETE_SOURCE, key, "deleted on B", left.size)
        elif right is not None:
            if state is None:
                yield Action(ActionKind.DOWNLOAD, key, "new on B", right.size)
            elif right_changed:
                yield from _settle(key, None, right, policy, "deleted on A, changed on B")
            else:
                yield Action(ActionKind.DELETE, key, "deleted on A", right.size)


def _settle(key: str, left: Entry | None, right: Entry | None, policy: Policy, what: str) -> Iterator[Action]:
    if policy is Policy.NEWER_WINS:
        left_time = left.mtime_ns if left is not None else -1
        right_time = right.mtime_ns if right is not None else -1
        if left is not None and (right is None or (left_time or 0) >= (right_time or 0)):
            yield Action(ActionKind.UPLOAD, key, f"{what}: A is newer", left.size)
        elif right is not None:
            yield Action(ActionKind.DOWNLOAD, key, f"{what}: B is newer", right.size)
        return
    if policy is Policy.KEEP_BOTH and left is not None and right is not None:
        # The executor copies B's version aside on both sides (A's version then replaces it on B at the key).
        aside = _conflict_name(key)
        kept = f"{what}: B's version kept beside as {aside}"
        yield Action(ActionKind.DOWNLOAD, key, kept, right.size, rename_to=aside)
        yield Action(ActionKind.UPLOAD, key, f"{what}: A's version kept", left.size)
        return
    if policy is Policy.KEEP_BOTH and left is not None:
        yield Action(ActionKind.UPLOAD, key, f"{what}: A's version kept", left.size)
        return
    if policy is Policy.KEEP_BOTH and right is not None:
        yield Action(ActionKind.DOWNLOAD, key, f"{what}: B's version kept", right.size)
        return
    yield Action(ActionKind.CONFLICT, key, what)


def _conflict_name(key: str) -> str:
    """A new name beside the key for the other side's version: ``report.conflict-<time>.txt``."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    head, dot, extension = key.rpartition(".")
    if dot and "/" not in extension and head and not head.endswith("/"):
        return f"{head}.conflict-{stamp}.{extension}"
    return f"{key}.conflict-{stamp}"


def delete_limit(max_delete: str, total: int) -> int:
    """How many deletes ``--max-delete`` allows among ``total`` keys (``"50%"`` of them, or a count)."""
    text = str(max_delete).strip()
    try:
        if text.endswith("%"):
            return math.ceil(total * float(text[:-1]) / 100)  # rounded up: one delete in a tiny tree is not blocked
        return int(text)
    except ValueError:
        raise ConfigurationError(f"--max-delete takes a count or a percentage, not {max_delete!r}") from None


def delete_refusal(*, failed: bool, sources: int, dests: int, wanted: int, max_delete: str, force: bool) -> str | None:
    """Why the deletes a plan asks for must not run now, or None.

    Args:
        failed: A listing or an operation failed (deletes run only after a complete, error-free sync).
        sources, dests: How many entries each side listed.
        wanted: How many deletes the plan asks for.
    """
    if failed:
        return "some operations failed; deletes run only after a complete, error-free sync"
    if sources == 0 and not force:
        return "the source is empty; deleting everything on the destination needs --force"
    limit = delete_limit(max_delete, max(dests, sources))
    if wanted > limit and not force:
        deletes = "1 delete exceeds" if wanted == 1 else f"{wanted} deletes exceed"
        return f"{deletes} --max-delete {max_delete} ({limit}); use --force to allow them"
    return None
