"""The SQLite adapter of the sync-state port: the state of the last sync, kept in the user's state directory.

Per key, both sides' version tokens and the content's SHA-256; see :class:`objstore.syncing.state.SyncStatePort`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from objstore.syncing.planner import Prior

__all__ = ["SyncState", "SyncStateError", "migrate_in_tree_state", "state_dir", "state_path_for"]

LEGACY_FOLDER = ".objstore"  # where a folder's sync state was kept before it moved to the state directory


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


def state_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """Where sync states live, outside every synced folder.

    ``override`` (``--state-dir``), else ``OBJSTORE_STATE_DIR``, else ``$OBJSTORE_HOME/state`` when
    ``OBJSTORE_HOME`` is set, else ``$XDG_STATE_HOME/objstore``, else ``~/.local/state/objstore``.
    """
    chosen = override or os.environ.get("OBJSTORE_STATE_DIR")
    if chosen:
        return Path(chosen).expanduser()
    if os.environ.get("OBJSTORE_HOME"):
        return Path(os.environ["OBJSTORE_HOME"]).expanduser() / "state"
    xdg = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(xdg) / "objstore"


def state_path_for(pair: str, override: str | os.PathLike[str] | None = None) -> Path:
    """The state file of one pair of sides (``pair`` names both: a folder's real path or a store, and a prefix).

    Two folders or two stores never share a state: the name is a hash of the whole pair.
    """
    digest = hashlib.sha256(pair.encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return state_dir(override) / "sync" / f"{digest}.sqlite"


def migrate_in_tree_state(root: Path, legacy_name: str, target: Path) -> Path | None:
    """Move a state an older objstore kept inside the synced folder (``.objstore/syncing/``) to ``target``, once.

    Returns the old file when it cannot be moved (a read-only folder): it is then read where it is, and the
    folder is left as it was. The old ``.objstore/`` folder is removed when nothing else is left in it.
    """
    legacy = root / LEGACY_FOLDER / "sync" / legacy_name
    if not legacy.is_file() or target.exists():
        return None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(f"file:{legacy}?mode=ro", uri=True) as source, sqlite3.connect(target) as copy:
            source.backup(copy)
    except (OSError, sqlite3.Error):
        with contextlib.suppress(OSError):
            target.unlink()
        return legacy
    for leftover in (legacy, *(legacy.with_name(legacy.name + s) for s in ("-wal", "-shm", "-journal"))):
        with contextlib.suppress(OSError):
            leftover.unlink()
    for folder in (legacy.parent / "tmp", legacy.parent, root / LEGACY_FOLDER / "tmp", root / LEGACY_FOLDER):
        with contextlib.suppress(OSError):
            folder.rmdir()
    return None


class SyncState:
    """A key-ordered record of what the last sync saw, streamed back without loading it whole.

    Args:
        path: The SQLite file (its folder is created). ``":memory:"`` keeps it in memory (tests, one-off syncs).
        read_only: Read an existing state without writing anything at all (a dry run); a missing file reads as an
            empty state.
    """

    def __init__(self, path: str | os.PathLike[str], *, read_only: bool = False) -> None:
        self.path = str(path)
        if read_only:
            self._open_read_only()
            return
        self._lock = threading.Lock()
        self._pending = 0
        created = [] if self.path == ":memory:" else _missing_parents(Path(self.path))
        self._fresh = self.path != ":memory:" and not os.path.exists(self.path)
        self._created = created
        self._closed = False
        self._used = False
        self._read_only = False
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

    def _open_read_only(self) -> None:
        self._lock = threading.Lock()
        self._pending = 0
        self._fresh, self._created, self._closed, self._used = False, [], False, False
        self._read_only = True
        with self._sql():
            if os.path.exists(self.path):
                # immutable: no -wal or -shm file is created beside it (a dry run writes nothing anywhere)
                self._db = sqlite3.connect(f"file:{self.path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
            else:
                self._db = sqlite3.connect(":memory:", check_same_thread=False)
                self._db.execute(
                    "CREATE TABLE entries (key TEXT PRIMARY KEY, source_token TEXT NOT NULL, "
                    "dest_token TEXT NOT NULL, sha256 TEXT)"
                )
                self._db.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT)")

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
        """The record of one key, or None (a file in the way of a folder: did the last sync write it?)."""
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
            if not self._read_only:
                self._db.execute("COMMIT")
            self._db.close()
