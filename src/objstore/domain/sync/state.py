"""The state of the last sync: per key, both sides' version tokens and the content's SHA-256 (SQLite)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from objstore.domain.sync.planner import Prior

__all__ = ["SyncState", "SyncStateError"]


class SyncStateError(OSError):
    """The sync state could not be read or written (a full disk, a read-only folder, a damaged file)."""


def _missing_parents(path: Path) -> list[Path]:
    """The folders above ``path`` that do not exist yet, nearest first."""
    missing = []
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


class SyncState:
    """A key-ordered record of what the last sync saw, streamed back without loading it whole.

    Args:
        path: The SQLite file (its folder is created). ``":memory:"`` keeps it in memory (tests, one-off syncs).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        self._pending = 0
        created = [] if self.path == ":memory:" else _missing_parents(Path(self.path))
        self._fresh = self.path != ":memory:" and not os.path.exists(self.path)
        self._created = created
        self._closed = False
        self._used = False
        try:
            with self._sql():
                for folder in reversed(created):
                    folder.mkdir()
                self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute(
                    "CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, source_token TEXT NOT NULL, "
                    "dest_token TEXT NOT NULL, sha256 TEXT)"
                )
                self._db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT)")
                self._db.execute("BEGIN")
        except SyncStateError:
            # A state that could not even be set up leaves nothing behind (a full disk stays as it was).
            if hasattr(self, "_db"):
                self._db.close()
            self._remove_files()
            raise

    @contextlib.contextmanager
    def _sql(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise SyncStateError(
                f"the sync state {self.path!r} could not be written or read ({exc}): "
                "free some space or make the folder writable, then run again"
            ) from None
        except OSError as exc:
            raise SyncStateError(
                f"the sync state {self.path!r} could not be created ({exc.strerror or exc}): "
                "free some space or make the folder writable, then run again"
            ) from None

    def _remove_files(self) -> None:
        if self._fresh:
            for suffix in ("", "-wal", "-shm", "-journal"):
                with contextlib.suppress(OSError):
                    os.unlink(self.path + suffix)
        for folder in self._created:
            with contextlib.suppress(OSError):
                folder.rmdir()

    def discard_if_unused(self) -> None:
        """Close, and remove the state if this run created it and recorded nothing (a sync that never started
        leaves the folder as it was)."""
        if self._closed or not self._fresh or self._used:
            return
        with self._lock:
            self._db.close()
            self._closed = True
        self._remove_files()

    def has_synced(self) -> bool:
        """Whether a sync of this pair ever completed (even one of an empty tree, which leaves no entries)."""
        with self._lock, self._sql():
            return self._db.execute("SELECT 1 FROM meta WHERE name = 'synced'").fetchone() is not None

    def mark_synced(self) -> None:
        with self._lock, self._sql():
            self._used = True
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('synced', datetime('now'))")

    def __iter__(self) -> Iterator[Prior]:
        """Every record in ascending key order (by code point, as listings are), in pages."""
        last = None
        while True:
            with self._lock, self._sql():
                if last is None:
                    rows = self._db.execute("SELECT * FROM entries ORDER BY key LIMIT 1000").fetchall()
                else:
                    rows = self._db.execute(
                        "SELECT * FROM entries WHERE key > ? ORDER BY key LIMIT 1000", (last,)
                    ).fetchall()
            if not rows:
                return
            for key, source_token, dest_token, sha256 in rows:
                yield Prior(key, source_token, dest_token, sha256)
            last = rows[-1][0]

    def get(self, key: str) -> Prior | None:
        with self._lock, self._sql():
            row = self._db.execute("SELECT * FROM entries WHERE key = ?", (key,)).fetchone()
        return Prior(*row) if row else None

    def record(self, key: str, source_token: str, dest_token: str, sha256: str | None) -> None:
        with self._lock, self._sql():
            self._used = True
            self._db.execute(
                "INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?)", (key, source_token, dest_token, sha256)
            )
            self._tick()

    def forget(self, key: str) -> None:
        with self._lock, self._sql():
            self._db.execute("DELETE FROM entries WHERE key = ?", (key,))
            self._tick()

    def _tick(self) -> None:
        # Commit every few hundred changes: an interrupted sync keeps what it finished.
        self._pending += 1
        if self._pending >= 200:
            self._db.execute("COMMIT")
            self._db.execute("BEGIN")
            self._pending = 0

    def close(self) -> None:
        if self._closed:
            return
        with self._lock, self._sql():
            self._closed = True
            self._db.execute("COMMIT")
            self._db.close()
