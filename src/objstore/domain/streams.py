"""Byte ranges and bounded-memory stream helpers used by every adapter."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from typing import IO, Any

__all__ = [
    "CHUNK_SIZE",
    "BufferReader",
    "HashingReader",
    "LimitedReader",
    "iter_chunks",
    "resolve_range",
]

CHUNK_SIZE = 1024 * 1024


def resolve_range(start: int | None, end: int | None, size: int) -> tuple[int, int]:
    """Resolve a Python-slice style range against an object's size.

    ``start`` is inclusive, ``end`` exclusive; negative values count from the end; out-of-range values clamp,
    exactly as ``content[start:end]`` would. Returns ``(first, stop)`` with ``0 <= first <= stop <= size``.
    """
    first, stop, _ = slice(start, end).indices(size)
    return first, max(first, stop)


def iter_chunks(stream: IO[bytes] | Any, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Yield a binary stream's content in chunks of at most ``chunk_size`` bytes."""
    read = stream.read
    while True:
        chunk = read(chunk_size)
        if not chunk:
            return
        if not isinstance(chunk, (bytes, bytearray, memoryview)):
            raise TypeError(f"the stream must yield bytes, not {type(chunk).__name__}")
        yield bytes(chunk) if not isinstance(chunk, bytes) else chunk


class LimitedReader(io.RawIOBase):
    """Reads at most ``limit`` bytes from an underlying binary stream, then reports end of file."""

    def __init__(self, raw: IO[bytes], limit: int, *, close_underlying: bool = True) -> None:
        super().__init__()
        self._raw = raw
        self._left = limit
        self._close_underlying = close_underlying

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._left <= 0:
            return 0
        view = memoryview(buffer).cast("B")
        want = min(len(view), self._left)
        data = self._raw.read(want)
        if not data:
            return 0
        n = len(data)
        view[:n] = data
        self._left -= n
        return n

    def close(self) -> None:
        if not self.closed and self._close_underlying:
            self._raw.close()
        super().close()


class BufferReader(io.RawIOBase):
    """A read-only stream over a slice of a buffer, without copying the buffer."""

    def __init__(self, buffer: bytes | bytearray | memoryview, start: int = 0, stop: int | None = None) -> None:
        super().__init__()
        view = memoryview(buffer).cast("B")
        self._view = view[start : len(view) if stop is None else stop]
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        n = min(len(target), len(self._view) - self._pos)
        if n <= 0:
            return 0
        target[:n] = self._view[self._pos : self._pos + n]
        self._pos += n
        return n

    def close(self) -> None:
        self._view.release()
        super().close()


class HashingReader:
    """Wraps a binary stream, counting and hashing (SHA-256 and MD5) what is read through it."""

    def __init__(self, stream: IO[bytes] | Any) -> None:
        self._stream = stream
        self.size = 0
        self.sha256 = hashlib.sha256()
        self.md5 = hashlib.md5(usedforsecurity=False)

    def read(self, n: int = -1) -> bytes:
        raw: Any = self._stream.read(n)
        if not raw:
            return b""
        data = raw if isinstance(raw, bytes) else bytes(raw)
        self.size += len(data)
        self.sha256.update(data)
        self.md5.update(data)
        return data
