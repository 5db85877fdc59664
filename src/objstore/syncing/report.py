"""A sync's options and its report."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from objstore.domain.errors import ConfigurationError
from objstore.domain.text import plural
from objstore.syncing.backup import StoreFolder
from objstore.syncing.planner import Action, ActionKind, Policy, delete_limit

__all__ = ["Progress", "SyncOptions", "SyncReport", "plural"]

# (event, key, bytes): "queued" when a transfer is planned (bytes to move), "planned" once the whole plan is
# known, then, as each is done, what the report calls it (:meth:`SyncReport.label`: "upload", "download",
# "copy", "copy A->B", "delete", "delete on A" ...), or "skip".
Progress = Callable[[str, str, int], None]

# What the other direction of a two-way sync is called, by what the sync's own direction is called.
_REVERSED = {"upload": "download", "download": "upload"}


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
        delete_excluded: Also delete on the destination what the filters leave out.
        follow_symlinks: Read through symbolic links in a local source folder.
        size_only: Keys on both sides with the same size are skipped (one-way only).
        ignore_existing: Keys the destination has are never overwritten (one-way only).
        update: Keys whose destination copy is newer than the source's are skipped (one-way only).
        backup_dir: Where the destination's overwritten and deleted keys are kept first (one-way only).
        suffix: Appended to backups' names; alone, backups are kept beside their keys.
        bwlimit: Bytes per second, all transfers together (None: unlimited).
    """

    delete: bool = True
    two_way: bool = False
    policy: Policy = Policy.FAIL
    checksum: bool = False
    dry_run: bool = False
    jobs: int = 8
    max_delete: str = "50%"
    force: bool = False
    delete_excluded: bool = False
    follow_symlinks: bool = True
    size_only: bool = False
    ignore_existing: bool = False
    update: bool = False
    backup_dir: str | StoreFolder | None = None
    suffix: str = ""
    bwlimit: int | None = None

    def __post_init__(self) -> None:
        # Checked before anything runs: a typo must not surface only when deletes come due.
        _check_comparisons(self)
        if delete_limit(self.max_delete, 100) < 0:
            raise ConfigurationError(f"--max-delete cannot be negative, not {self.max_delete!r}")
        if self.jobs < 1:
            raise ConfigurationError(f"--jobs must be at least 1, not {self.jobs}")

    @property
    def effective_policy(self) -> Policy:
        """``--force`` on a one-way sync overwrites destination changes too."""
        return Policy.SOURCE_WINS if self.force and not self.two_way else self.policy


def _check_comparisons(options: SyncOptions) -> None:
    """The options that change what is compared and kept: values, and combinations that contradict."""
    if options.size_only and options.checksum:
        raise ConfigurationError("--size-only and --checksum contradict each other: choose one")
    if options.suffix and ("/" in options.suffix or "\\" in options.suffix):
        raise ConfigurationError(f"--suffix is appended to a name and cannot hold a slash: {options.suffix!r}")
    one_way = {
        "--size-only": options.size_only,
        "--ignore-existing": options.ignore_existing,
        "--update": options.update,
        "--backup-dir": bool(options.backup_dir),
        "--suffix": bool(options.suffix),
    }
    if options.two_way and any(one_way.values()):
        given = ", ".join(name for name, value in one_way.items() if value)
        raise ConfigurationError(f"{given}: one-way options, not for --two-way")
    bwlimit = options.bwlimit
    if bwlimit is not None and (isinstance(bwlimit, bool) or not isinstance(bwlimit, int) or bwlimit < 1):
        raise ConfigurationError(f"--bwlimit is a whole number of bytes per second, not {bwlimit!r}")


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
    # What a copy in the sync's direction is called ("upload" for a push, "download" for a pull, "copy" between
    # stores), and whether the sync goes both ways: see :meth:`label`.
    copy_label: str = "upload"
    two_way: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """No failure, no key left unsynced (``skipped``) and no refused delete (conflicts are reported apart)."""
        return not self.failures and not self.skipped and self.deletes_refused is None

    def count(self, kind: str) -> None:
        with self._lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1

    def label(self, kind: ActionKind) -> str:
        """What an action is called in this sync's counts, plan and progress, in its user's terms.

        A push uploads, a pull downloads, a sync between stores copies; both ways, the direction is named (A is
        the source, B the destination): ``copy A->B`` and ``copy B->A`` (``upload`` and ``download`` between a
        folder and a store), ``delete on A`` and ``delete on B``.
        """
        forward = self.copy_label
        if kind is ActionKind.UPLOAD:
            return f"{forward} A->B" if self.two_way and forward not in _REVERSED else forward
        if kind is ActionKind.DOWNLOAD:
            return _REVERSED.get(forward, f"{forward} B->A")
        if kind is ActionKind.DELETE:
            return "delete on B" if self.two_way else "delete"
        if kind is ActionKind.DELETE_SOURCE:
            return "delete on A"
        return str(kind.value)

    def plan_lines(self) -> Iterator[tuple[str, str, str]]:
        """The plan of a dry run as its user reads it: (label, key, reason) for each action that changes something
        or is a conflict (what is unchanged is left out)."""
        for action in self.plan:
            if action.kind not in (ActionKind.SKIP, ActionKind.FORGET):
                yield self.label(action.kind), action.key, action.reason

    def summary(self) -> str:
        verb = "would be" if self.dry_run else ""
        order = [self.label(kind) for kind in (ActionKind.UPLOAD, ActionKind.DOWNLOAD)]
        order += [self.label(kind) for kind in (ActionKind.DELETE, ActionKind.DELETE_SOURCE)] + ["skip", "conflict"]
        kinds = list(dict.fromkeys(kind for kind in order if kind in self.counts))
        kinds += sorted(kind for kind in self.counts if kind not in kinds)
        parts = [plural(self.counts[kind], kind) for kind in kinds] or ["nothing to do"]
        lines = [f"{self.source} -> {self.destination}: " + ", ".join(parts) + (f" ({verb.strip()})" if verb else "")]
        if not self.dry_run:
            line = f"{plural(self.bytes_transferred, 'byte')} in {self.seconds:.1f}s, {plural(self.retries, 'retry')}"
            if self.layers.get("faults_injected"):
                line += f", {plural(self.layers['faults_injected'], 'fault')} injected"
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
                {"action": self.label(action.kind), "key": action.key, "reason": action.reason, "size": action.size}
                for action in self.plan
                if action.kind not in (ActionKind.SKIP, ActionKind.FORGET)
            ],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)
