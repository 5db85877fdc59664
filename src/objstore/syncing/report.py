"""A sync's options and its report."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from objstore.domain.errors import ConfigurationError
from objstore.syncing.planner import Action, ActionKind, Policy, delete_limit

__all__ = ["Progress", "SyncOptions", "SyncReport"]

# (event, key, bytes): "queued" when a transfer is planned (bytes to move), "planned" once the whole plan is
# known, then "upload" / "download" / "copy" / "delete" / "skip" as each is done.
Progress = Callable[[str, str, int], None]


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
        if delete_limit(self.max_delete, 100) < 0:
            raise ConfigurationError(f"--max-delete cannot be negative, not {self.max_delete!r}")
        if self.jobs < 1:
            raise ConfigurationError(f"--jobs must be at least 1, not {self.jobs}")

    @property
    def effective_policy(self) -> Policy:
        """``--force`` on a one-way sync overwrites destination changes too."""
        return Policy.SOURCE_WINS if self.force and not self.two_way else self.policy


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
