"""Listings: every store's listing reaches the caller in ascending key order (by code point), and a store
that answers a listing against its protocol (a repeated continuation token, keys outside the prefix) is caught
here, once for every store, with a typed error instead of a loop or a wrong name."""

from __future__ import annotations

import heapq
import os
from collections.abc import Callable, Iterable, Iterator

from objstore.domain.errors import ProtocolError
from objstore.domain.models import ObjectInfo

__all__ = ["FolderItem", "ListingGuard", "in_key_order", "name_of", "page_in_name_order", "walk_files"]

MAX_EMPTY_PAGES = 1000
"""Pages in a row with nothing on them (each with a new token) before a listing is taken to be going nowhere."""

FolderItem = tuple[str, str, os.stat_result, bool]
"""One entry of a local folder: (key, path, stat, is a folder)."""


def name_of(entry: ObjectInfo) -> str:
    """An entry's name within its level: the key without a sub-prefix's trailing ``/``."""
    return entry.key[:-1] if entry.is_prefix else entry.key


def page_in_name_order(entries: Iterable[ObjectInfo]) -> list[ObjectInfo]:
    """One page of a one-level listing (objects and sub-prefixes, which stores return apart), by name."""
    return sorted(entries, key=name_of)


class ListingGuard:
    """Checks one paginated listing as its pages arrive, so a store that misbehaves cannot loop it or rename keys.

    Each store adapter keeps one guard per listing request sequence (one prefix, followed page by page) and passes
    every key and every continuation token (S3 ``NextContinuationToken``, GCS ``pageToken``, Azure marker) through
    it. A token seen before in the same listing means the next page would be one already given: followed, the
    listing never ends. A key outside the requested prefix cannot be made relative to the store's root without
    cutting it to a wrong name. Both raise :class:`ProtocolError` naming the store; neither is retryable.

    Args:
        store: The store as a user knows it (``"s3://bucket at http://host:9000"``), for the message.
        adapter: The adapter's name (``"s3"``), for the error's context.
        prefix: The store-side prefix the listing asked for (bucket-relative, base prefix included).
        label: The listing's prefix relative to the store's root, for the error's ``key``.
    """

    def __init__(self, store: str, adapter: str, prefix: str, label: str | None = None) -> None:
        self._store, self._adapter, self._prefix, self._label = store, adapter, prefix, label
        self._tokens: set[str] = set()
        self._empty = 0

    def _fail(self, message: str) -> ProtocolError:
        return ProtocolError(
            f"the store {self._store} {message}", operation="iter_objects", adapter=self._adapter, key=self._label
        )

    def key(self, name: str) -> str:
        """Return a store-side key (or sub-prefix) of a page, after checking it is inside the requested prefix."""
        if not name.startswith(self._prefix):
            raise self._fail(f"listed {name!r}, which is outside the requested prefix {self._prefix!r}")
        return name

    def next_token(self, token: str | None, *, entries: int, truncated: bool | None = None) -> str | None:
        """The token to ask for the next page with, or None at the end of the listing.

        Args:
            token: The continuation token the page gave (empty or None: none).
            entries: How many keys and sub-prefixes the page held.
            truncated: What the page said about more pages, where the protocol says it apart from the token
                (S3's ``IsTruncated``); truncated without a token is an error, not the end.
        """
        if truncated is False:
            return None
        if not token:
            if truncated:
                raise self._fail(f"said a listing of {self._prefix!r} was truncated but gave no continuation token")
            return None
        if token in self._tokens:
            raise self._fail(
                f"repeated the continuation token {token[:64]!r} of an earlier page while listing {self._prefix!r}; "
                "following it would loop forever"
            )
        self._tokens.add(token)
        self._empty = 0 if entries else self._empty + 1
        if self._empty >= MAX_EMPTY_PAGES:
            raise self._fail(f"gave {MAX_EMPTY_PAGES} empty pages in a row while listing {self._prefix!r}")
        return token


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
