"""MemoryAdapter: a store in this process's memory, the fake for unit tests of code that uses objstore."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Generator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from objstore.domain.errors import ObjectAlreadyExists, ObjectNotFound, PreconditionFailed
from objstore.domain.keys import join_key, prefix_of
from objstore.domain.models import (
    Capabilities,
    DeleteResult,
    ListOptions,
    ObjectInfo,
    OpenedObject,
    ReadOptions,
    WriteOptions,
)
from objstore.domain.streams import CHUNK_SIZE, BufferReader, HashingReader, resolve_range
from objstore.ports.storage import IObjectStorageAdapter, Readable

__all__ = ["MemoryAdapter", "MemoryConfig"]


@dataclass(frozen=True)
class MemoryConfig:
    """The in-memory store has no options; each adapter instance is its own empty store."""


@dataclass(frozen=True, slots=True)
class _Entry:
    data: bytes | bytearray
    info: ObjectInfo


class MemoryAdapter(IObjectStorageAdapter):
    """An object store held in a dictionary, private to the instance.

    Behaves like a real store in everything the conformance suite checks (etags, conditional puts, ranges,
    listings in key order, user metadata), so application tests can use it in place of a cloud store.
    It is thread-safe. Content is kept once: streamed puts are assembled without a second copy.
    """

    name = "memory"

    def __init__(self, config: MemoryConfig | None = None) -> None:
        self._lock = threading.Lock()
        self._objects: dict[str, _Entry] = {}
        self._keys: list[str] = []  # sorted, for ordered listings without sorting each time

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            server_side_copy=True,
            native_batch_delete=True,
            checksum_sha256=True,
            retains_content_in_memory=True,
        )

    def head_object(self, prefix: str, key: str) -> ObjectInfo:
        return self._entry(join_key(prefix, key)).info

    @contextmanager
    def open_object(self, prefix: str, key: str, options: ReadOptions) -> Generator[OpenedObject, None, None]:
        entry = self._entry(join_key(prefix, key))
        first, stop = resolve_range(options.start, options.end, len(entry.data))
        with BufferReader(entry.data, first, stop) as reader:
            yield OpenedObject(entry.info, reader)  # type: ignore[arg-type]

    def write_object(self, prefix: str, key: str, stream: Readable, options: WriteOptions) -> ObjectInfo:
        full = join_key(prefix, key)
        if options.if_none_match == "*" and full in self._objects:
            raise ObjectAlreadyExists("the object already exists", key=full)  # fail fast, checked again below
        reader = HashingReader(stream)
        data = bytearray()
        while chunk := reader.read(CHUNK_SIZE):
            data += chunk
        info = ObjectInfo(
            key=full,
            size=reader.size,
            etag=reader.md5.hexdigest(),
            last_modified=datetime.now(timezone.utc),
            content_type=options.content_type,
            metadata=options.metadata,
            checksum_sha256=reader.sha256.hexdigest(),
        )
        with self._lock:
            current = self._objects.get(full)
            if options.if_none_match == "*" and current is not None:
                raise ObjectAlreadyExists("the object already exists", key=full)
            if options.if_match is not None and (current is None or current.info.etag != options.if_match):
                raise PreconditionFailed(
                    "the object is gone" if current is None else "the object changed (etag differs)", key=full
                )
            if current is None:
                bisect.insort(self._keys, full)
            self._objects[full] = _Entry(data, info)
        return info

    def delete_object(self, prefix: str, key: str) -> None:
        full = join_key(prefix, key)
        with self._lock:
            if self._objects.pop(full, None) is None:
                raise ObjectNotFound("no such object", key=full)
            del self._keys[bisect.bisect_left(self._keys, full)]

    def delete_objects(self, prefix: str, keys: Iterable[str]) -> DeleteResult:
        deleted: list[str] = []
        with self._lock:
            for key in keys:
                full = join_key(prefix, key)
                if self._objects.pop(full, None) is not None:
                    del self._keys[bisect.bisect_left(self._keys, full)]
                deleted.append(key)
        return DeleteResult(tuple(deleted))

    def copy_object(self, src_prefix: str, src_key: str, dst_prefix: str, dst_key: str) -> None:
        src, dst = join_key(src_prefix, src_key), join_key(dst_prefix, dst_key)
        with self._lock:
            entry = self._objects.get(src)
            if entry is None:
                raise ObjectNotFound("no such object", key=src)
            if dst not in self._objects:
                bisect.insort(self._keys, dst)
            now = datetime.now(timezone.utc)
            self._objects[dst] = _Entry(entry.data, replace(entry.info, key=dst, last_modified=now))

    def scan_objects(self, prefix: str, options: ListOptions) -> Iterator[ObjectInfo]:
        recursive = options.recursive
        start = prefix_of(prefix)
        with self._lock:
            first = bisect.bisect_left(self._keys, start)
            keys = []
            for index in range(first, len(self._keys)):
                key = self._keys[index]
                if not key.startswith(start):
                    break
                keys.append(key)
        last_prefix = None
        for key in keys:
            rest = key[len(start) :]
            if not recursive and "/" in rest:
                sub = start + rest.split("/", 1)[0] + "/"
                if sub != last_prefix:
                    last_prefix = sub
                    yield ObjectInfo(key=sub, is_prefix=True)
                continue
            entry = self._objects.get(key)
            if entry is not None:  # deleted since the snapshot
                yield entry.info

    def _entry(self, full: str) -> _Entry:
        entry = self._objects.get(full)
        if entry is None:
            raise ObjectNotFound("no such object", key=full)
        return entry

    def __repr__(self) -> str:
        # Stable for the life of the store (a sync's state is named after it), and distinct between stores.
        return f"MemoryAdapter(id=0x{id(self):x})"

    @property
    def location(self) -> str:
        return "memory://"
