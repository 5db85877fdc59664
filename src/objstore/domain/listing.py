"""Listing order: every store's listing reaches the caller in ascending key order (by code point)."""

from __future__ import annotations

import heapq
import os
from collections.abc import Callable, Iterable, Iterator

from objstore.domain.models import ObjectInfo

__all__ = ["FolderItem", "in_key_order", "name_of", "page_in_name_order", "walk_files"]

FolderItem = tuple[str, str, os.stat_result, bool]
"""One entry of a local folder: (key, path, stat, is a folder)."""


def name_of(entry: ObjectInfo) -> str:
    """An entry's name within its level: the key without a sub-prefix's trailing ``/``."""
    return entry.key[:-1] if entry.is_prefix else entry.key


def page_in_name_order(entries: Iterable[ObjectInfo]) -> list[ObjectInfo]:
    """One page of a one-level listing (objects and sub-prefixes, which stores return apart), by name."""
    return sorted(entries, key=name_of)


def in_key_order(entries: Iterable[ObjectInfo]) -> Iterator[ObjectInfo]:
    """Restore key order for the entries of one folder level, holding back only a few.

    Across pages, stores list a level either in key order (``a-c`` before ``a/``: S3, GCS, Azure) or in name
    order (``a/`` before ``a-c``: stores with real folders), and each page is put in name order with
    :func:`page_in_name_order`. In every case each entry still to come has a key at least as large as the
    current entry's name, so whatever is held with a key up to that name can be released. Only entries whose key
    falls between a name and the next one are ever held, so memory stays small however long the level is.
    """
    held: list[tuple[str, int, ObjectInfo]] = []
    for counter, entry in enumerate(entries):
        heapq.heappush(held, (entry.key, counter, entry))
        name = name_of(entry)
        while held and held[0][0] <= name:
            yield heapq.heappop(held)[2]
    while held:
        yield heapq.heappop(held)[2]


def walk_files(
    top: str,
    top_key: str,
    scan: Callable[[str, str], list[FolderItem]],
    on_loop: Callable[[str], None] = lambda key: None,
) -> Iterator[FolderItem]:
    """The files under local folder ``top``, depth first, in key order; folders are entered, not yielded.

    ``scan(folder, prefix)`` lists one folder in the order of the keys its entries produce (a folder sorts as
    ``name/``). An explicit stack, not recursion, so any depth is walked. A folder already being walked (a link
    back up the tree) is not entered again; ``on_loop`` is told its key.
    """
    top_stat = os.stat(top)
    on_path = {(top_stat.st_dev, top_stat.st_ino)}
    stack = [(iter(scan(top, top_key)), (top_stat.st_dev, top_stat.st_ino))]
    while stack:
        items, ident = stack[-1]
        item = next(items, None)
        if item is None:
            stack.pop()
            on_path.discard(ident)
            continue
        key, path, st, is_dir = item
        if not is_dir:
            yield item
            continue
        inner = (st.st_dev, st.st_ino)
        if inner in on_path:
            on_loop(key)
            continue
        on_path.add(inner)
        stack.append((iter(scan(path, key if key.endswith("/") else key + "/")), inner))
