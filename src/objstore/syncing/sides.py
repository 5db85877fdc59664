"""The two sides of a sync: a local folder, or a folder of a store, behind one small interface."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import IO, Protocol

from objstore.domain.keys import normalize_prefix, printable_key
from objstore.domain.service import ObjectStorageService
from objstore.ports.storage import Readable, layer_counters
from objstore.syncing.local import Filters, LocalFolder
from objstore.syncing.planner import Entry

__all__ = ["ANY", "MISSING", "Expectation", "LocalSide", "Side", "StoreSide"]

MISSING = object()  # a write's expectation: the key must not exist yet
ANY = object()  # a write's expectation: overwrite whatever is there (--force)
# What a write expects to find at the key: MISSING, ANY, or the version token the listing saw there.
Expectation = str | object


class Side(Protocol):
    """One side of a sync (a local folder, or a folder of a store)."""

    label: str
    holds_file_and_folder: bool  # an object "x" and objects under "x/" can both exist here
    is_local: bool  # a local folder (objstore's own names at its root are not data)
    skipped: dict[str, str]  # what exists here but cannot take part, with why (filled while listing)

    def entries(self) -> Iterator[Entry]: ...
    def open(self, key: str) -> contextlib.AbstractContextManager[IO[bytes]]: ...
    def write(self, key: str, source: Readable, size: int, mtime_ns: int | None, expect: Expectation) -> str: ...
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

    def write(self, key: str, source: Readable, size: int, mtime_ns: int | None, expect: Expectation) -> str:
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

    def __init__(self, service: ObjectStorageService, prefix: str, filters: Filters) -> None:
        self.service = service
        self.prefix = normalize_prefix(prefix)
        self.filters = filters
        self.label = _within(service.location, self.prefix)
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
        return self.service.get_object_stream(self.prefix, key)

    def write(self, key: str, source: Readable, size: int, mtime_ns: int | None, expect: Expectation) -> str:
        if_none_match = if_match = None
        if self.service.capabilities.conditional_put and expect is not ANY:
            # Only over the version the plan saw: a change made by someone else since is not overwritten.
            if expect is MISSING:
                if_none_match = "*"
            elif isinstance(expect, str) and not expect.startswith("size:"):
                if_match = expect
        # A refused condition surfaces as the store's ObjectAlreadyExists / PreconditionFailed: a failure for this
        # key (and ObjectAlreadyExists also lets the executor clear a file standing where a folder must go).
        info = self.service.put_object_stream(self.prefix, key, source, if_none_match=if_none_match, if_match=if_match)
        return info.etag or self.service.head_object(self.prefix, key).etag or ""

    def delete_many(self, keys: list[str]) -> dict[str, str]:
        result = self.service.delete_objects(self.prefix, keys)
        return {key: str(error) for key, error in result.errors.items()}

    def sha256(self, key: str) -> str | None:
        return self.service.head_object(self.prefix, key).checksum_sha256

    def listed_md5(self, entry: Entry) -> str | None:
        """The MD5 of the object's bytes, if its listed etag is one (see ``Capabilities.md5_etags``)."""
        etag = entry.token.strip('"').lower()
        if self.service.capabilities.md5_etags and len(etag) == 32 and all(c in "0123456789abcdef" for c in etag):
            return etag
        return None


def _within(location: str, prefix: str) -> str:
    """A folder of a store, as its user would write it: ``s3://bucket/base/folder at http://host:8333``."""
    if not prefix:
        return location
    head, space, tail = location.partition(" ")
    if "://" not in head:
        return f"{location} /{prefix}"  # a store with no URL of its own: its description, then the folder
    joined = head + prefix if head.endswith("://") else f"{head.rstrip('/')}/{prefix}"
    return joined + space + tail
