"""ConcurrencyLimitedAdapter: at most N operations at once on one adapter, shared by everything using it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from objstore.domain.models import DeleteResult, ListOptions, ObjectInfo, OpenedObject, ReadOptions, WriteOptions
from objstore.ports.storage import IObjectStorageAdapter, LayerAdapter, Readable

__all__ = ["ConcurrencyLimitedAdapter"]

T = TypeVar("T")


class ConcurrencyLimitedAdapter(LayerAdapter):
    """Every operation holds one of ``limit`` slots while it runs (a read until its stream is closed, a listing for
    each step of it, so a listing left half-read holds none)."""

    def __init__(self, inner: IObjectStorageAdapter, limit: int) -> None:
        if limit < 1:
            raise ValueError("the concurrency limit must be at least 1")
        super().__init__(inner)
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)
        self.name = inner.name

    def __repr__(self) -> str:
        return f"ConcurrencyLimitedAdapter({self.inner!r}, limit={self.limit})"

    def _held(self, call: Callable[[], T]) -> T:
        with self._slots:
            return call()

    def head_object(self, prefix: str, key: str) -> ObjectInfo:
        return self._held(lambda: self.inner.head_object(prefix, key))

    @contextmanager
    def open_object(self, prefix: str, key: str, options: ReadOptions) -> Generator[OpenedObject, None, None]:
        with self._slots, self.inner.open_object(prefix, key, options) as opened:  # held until the read is closed
            yield opened

    def write_object(self, prefix: str, key: str, stream: Readable, options: WriteOptions) -> ObjectInfo:
        return self._held(lambda: self.inner.write_object(prefix, key, stream, options))

    def delete_object(self, prefix: str, key: str) -> None:
        self._held(lambda: self.inner.delete_object(prefix, key))

    def scan_objects(self, prefix: str, options: ListOptions) -> Iterator[ObjectInfo]:
        # A listing page is fetched inside the store's iterator: hold a slot for each step of it.
        with self._slots:
            iterator = iter(self.inner.scan_objects(prefix, options))
        while True:
            with self._slots:
                info = next(iterator, None)
            if info is None:
                return
            yield info

    def copy_object(self, src_prefix: str, src_key: str, dst_prefix: str, dst_key: str) -> None:
        self._held(lambda: self.inner.copy_object(src_prefix, src_key, dst_prefix, dst_key))

    def delete_objects(self, prefix: str, keys: Iterable[str]) -> DeleteResult:
        return self._held(lambda: self.inner.delete_objects(prefix, keys))

    def presign_url(self, prefix: str, key: str, *, expires_in: int = 3600, method: str = "GET") -> str:
        return self._held(lambda: self.inner.presign_url(prefix, key, expires_in=expires_in, method=method))
