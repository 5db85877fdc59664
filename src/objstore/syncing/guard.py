"""What one side of a sync has that the other side cannot hold: kept out of the plan, and named in the report.

* A key that is both an object and a folder of objects (``x`` and ``x/y``) cannot be both on a filesystem. Both
  are kept out of the plan, on both sides, so neither is copied, recorded as synced or deleted anywhere.
* Twins that a case-insensitive or normalising filesystem folds to one name (``Report.csv`` and ``report.csv``,
  NFC and NFD spellings) are kept out likewise.
* Keys under objstore's own name at a local folder's root (``.objstore/``) never reach a local folder.

Listings arrive in key order and are consumed as they stream; a key that could still turn out to be a folder is
held back only until the listing has passed every key that could lie under it (``x`` until a key at or after
``x0``), so what is held is the few keys that sort between a name and its folder's first child.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Iterator

from objstore.syncing.local import is_reserved
from objstore.syncing.planner import Entry

__all__ = ["SideGuard", "folded"]

_AFTER_SLASH = chr(ord("/") + 1)


def folded(key: str, case: bool, normalisation: bool) -> str:
    """The name a folding filesystem stores ``key`` under (for comparing twins)."""
    if normalisation:
        key = unicodedata.normalize("NFC", key)
    return key.casefold() if case else key


class SideGuard:
    """Filters one side's entries for what the other side can hold, recording why each key was left out.

    Args:
        entries: The side's entries, in key order.
        file_and_folder: Leave out keys that are both a file and a folder (the other side is a filesystem).
        reserved: Leave out objstore's own names (the other side is a local folder).
        twins: Folded names shared by two or more keys (found by a first pass over the listing), left out.
        fold: How the other side folds names, for ``twins``.
    """

    def __init__(
        self,
        entries: Iterable[Entry],
        *,
        file_and_folder: bool = False,
        reserved: bool = False,
        twins: frozenset[str] = frozenset(),
        fold: Callable[[str], str] = lambda key: key,
    ) -> None:
        self._entries = entries
        self._file_and_folder = file_and_folder
        self._reserved = reserved
        self._twins = twins
        self._fold = fold
        self.skipped: dict[str, str] = {}
        self._collided: set[str] = set()  # file keys that are folders too

    def excludes(self, key: str) -> bool:
        """Whether the plan must leave ``key`` alone, on both sides (decided once the listing has passed it)."""
        if key in self.skipped:
            return True
        if not self._collided:
            return False
        parts = key.split("/")
        return any("/".join(parts[:depth]) in self._collided for depth in range(1, len(parts) + 1))

    def __iter__(self) -> Iterator[Entry]:
        held: dict[str, Entry] = {}  # in key order: keys that could still be a folder too
        for entry in self._entries:
            key = entry.key
            if self._reserved and is_reserved(key):
                self.skipped[key] = "objstore's own name in a local folder (.objstore); not synced"
                continue
            if self._twins and self._fold(key) in self._twins:
                self.skipped[key] = "another key differs only in case or Unicode normalisation; not synced"
                continue
            if self._file_and_folder:
                parts = key.split("/")
                ancestors = ["/".join(parts[:depth]) for depth in range(1, len(parts))]
                clash = [a for a in ancestors if a in held or a in self._collided]
                if clash:
                    for name in clash:
                        if held.pop(name, None) is not None:
                            self._collided.add(name)
                            self.skipped[name] = f"both an object and a folder of objects ({name}/...); not synced"
                    self.skipped[key] = f"under {clash[0]!r}, which is an object too; not synced"
                    continue
                held[key] = entry
                while True:  # release what no later key can lie under (the newest key stops the loop)
                    first = next(iter(held))
                    if key < first + _AFTER_SLASH:
                        break
                    yield held.pop(first)
                continue
            yield entry
        yield from held.values()
