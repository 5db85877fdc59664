"""The sync-state port: what the executor needs from the record of the last sync, and an in-memory fake.

The record holds, per key, both sides' version tokens when the last sync made them equal, and the content's
SHA-256. :class:`objstore.syncing.sqlite_state.SyncState` is the adapter that keeps it in SQLite, in the user's state
directory; :class:`MemorySyncState` keeps it in a dict (engine tests, one-off syncs).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol

from objstore.syncing.planner import Prior

__all__ = ["MemorySyncState", "SwappedState", "SyncStatePort"]


class SyncStatePort(Protocol):
    """The record of the last sync, as the executor reads and updates it (in the executor's orientation)."""

    def __iter__(self) -> Iterator[Prior]:
        """Every record in ascending key order (by code point, as listings are)."""
        ...

    def get(self, key: str) -> Prior | None:
        """The record of one key, or None."""
        ...

    def has_synced(self) -> bool:
        """Whether a sync of this pair ever completed (even one of an empty tree, which leaves no records)."""
        ...

    def record(self, key: str, source_token: str, dest_token: str, sha256: str | None) -> None:
        """Both sides now hold the same content under these tokens."""
        ...

    def forget(self, key: str) -> None:
        """Neither side holds the key any more (or the record no longer says anything true)."""
        ...

    def mark_synced(self) -> None:
        """A complete sync ended: later runs may take what the destination lacks for deletes made on purpose."""
        ...


class MemorySyncState:
    """The state port in a dict: for the executor's tests, and for syncs that need no memory of the last one."""

    def __init__(self, records: Iterable[Prior] = (), *, synced: bool = False) -> None:
        self.records: dict[str, Prior] = {prior.key: prior for prior in records}
        self.synced = synced

    def __iter__(self) -> Iterator[Prior]:
        return iter([self.records[key] for key in sorted(self.records)])

    def get(self, key: str) -> Prior | None:
        return self.records.get(key)

    def has_synced(self) -> bool:
        return self.synced

    def record(self, key: str, source_token: str, dest_token: str, sha256: str | None) -> None:
        self.records[key] = Prior(key, source_token, dest_token, sha256)

    def forget(self, key: str) -> None:
        self.records.pop(key, None)

    def mark_synced(self) -> None:
        self.synced = True


class SwappedState:
    """A state read and written the other way round: a pull reuses the state of the push of the same pair.

    The record keeps its push orientation (the local folder's tokens on the source side) whichever way it runs.
    """

    def __init__(self, state: SyncStatePort) -> None:
        self._state = state

    def __iter__(self) -> Iterator[Prior]:
        return (_swapped(prior) for prior in self._state)

    def get(self, key: str) -> Prior | None:
        prior = self._state.get(key)
        return None if prior is None else _swapped(prior)

    def has_synced(self) -> bool:
        return self._state.has_synced()

    def record(self, key: str, source_token: str, dest_token: str, sha256: str | None) -> None:
        self._state.record(key, dest_token, source_token, sha256)

    def forget(self, key: str) -> None:
        self._state.forget(key)

    def mark_synced(self) -> None:
        self._state.mark_synced()


def _swapped(prior: Prior) -> Prior:
    return Prior(prior.key, prior.dest_token, prior.source_token, prior.sha256)
