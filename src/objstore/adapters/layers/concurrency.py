"""ConcurrencyLimitedAdapter: at most N operations at once on one adapter, shared by everything using it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO, TypeVar

from objstore.domain.models import DeleteResult, ObjectInfo
from objstore.ports.storage import IObjectStorageAdapter, LayerAdapter

__all__ = ["ConcurrencyLimitedAdapter"]

T = TypeVar("T")


class ConcurrencyLimitedAdapter(LayerAdapter):
    """Every operation holds one of ``limit`` slots while it runs (a read stream until it is closed)."""

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

    def get_object(self, prefix: str, key: str) -> bytes:
        return self._held(lambda: self.inner.get_object(prefix, key))

    @contextmanager
    def get_object_stream(
        self, prefix: str, key: str, start: int | None = None, end: int | None = None
    ) -> Generator[BinaryIO, None, None]:
        with self._slots, self.inner.get_object_stream(prefix, key, start, end) as stream:
            yield stream

    def put_object(self, prefix: str, key: str, content: Any, **options: Any) -> None:
        self._held(lambda: self.inner.put_object(prefix, key, content, **options))

    def put_object_stream(self, prefix: str, key: str, stream: Any, **options: Any) -> ObjectInfo:
        return self._held(lambda: self.inner.put_object_stream(prefix, key, stream, **options))

    def delete_object(self, prefix: str, key: str) -> None:
        self._held(lambda: self.inner.delete_object(prefix, key))

    def delete_objects(self, prefix: str, keys: Iterable[str]) -> DeleteResult:
        return self._held(lambda: self.inner.delete_objects(prefix, keys))

    def copy_object(self, src_prefix: str, src_key: str, dst_prefix: str, dst_key: str) -> None:
        self._held(lambda: self.inner.copy_object(src_prefix, src_key, dst_prefix, dst_key))

    def exists(self, prefix: str, key: str) -> bool:
        return self._held(lambda: self.inner.exists(prefix, key))

    def iter_objects(
        self, prefix: str = "", recursive: bool = True, *, page_size: int | None = None
    ) -> Iterator[ObjectInfo]:
        # A listing page is fetched inside the store's iterator: hold a slot for each step of it.
        iterator = iter(self.inner.iter_objects(prefix, recursive, page_size=page_size))
        while True:
            with self._slots:
                info = next(iterator, None)
            if info is None:
                return
            yield info
