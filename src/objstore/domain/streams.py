"""Byte ranges and bounded-memory stream helpers: what the service, the sync and every adapter share."""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Callable, Iterator
from typing import IO, Any, TypeVar

from objstore.domain.buffers import BufferPool, Lease, shared_pool

__all__ = [
    "CHUNK_SIZE",
    "BufferReader",
    "HashingReader",
    "LimitedReader",
    "copy_stream",
    "is_seekable",
    "iter_chunks",
    "resolve_range",
]

CHUNK_SIZE = 1024 * 1024
T = TypeVar("T")


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

    def seekable(self) -> bool:
        # Seekable, so an SDK can hash the body and rewind it to send it (or to send it again).
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._view)}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def unread(self) -> memoryview:
        """What is left to read, as a view of the buffer (no copy), for a store that sends bytes in one request."""
        return self._view[self._pos :]

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


def copy_stream(
    source: IO[bytes] | Any,
    write: Callable[[memoryview], object],
    *,
    chunk_size: int = CHUNK_SIZE,
    depth: int = 4,
    pool: BufferPool | None = None,
) -> int:
    """Copy ``source`` to ``write`` with reading and writing overlapped; returns the number of bytes copied.

    A download is a chain of waits: the socket, the hash that verifies it, the disk. One thread doing all three
    in turn leaves each idle while the others run. Here a reader thread fills up to ``depth`` reused buffers
    (memory: ``depth`` x ``chunk_size``, whatever the size of the object, borrowed from ``pool``, the shared
    pool by default, so concurrent downloads share one budget) while the caller's thread writes; hashing and
    I/O release the GIL, so they run at once. A source that ends within its first two chunks (a small object)
    is copied on the caller's thread, with no thread started and nothing borrowed. ``write`` must not borrow
    from the same pool (it would wait while holding these buffers).

    ``write`` receives a view that is only valid during the call. The first error on either side is raised
    here; after a write fails, the reader is stopped and joined before this returns, so the source is no longer
    in use when the caller closes it.
    """
    head = source.read(chunk_size)
    if not head:
        return 0
    write(memoryview(head))
    following = source.read(chunk_size)
    if not following:
        return len(head)
    write(memoryview(following))
    lease = (pool or shared_pool()).lease(chunk_size * depth)
    try:
        return len(head) + len(following) + _OverlappedCopy(source, lease, chunk_size, depth).run(write)
    finally:
        lease.release()


class _OverlappedCopy:
    """The two threads of :func:`copy_stream`: a reader filling reused buffers, the caller's thread writing them."""

    def __init__(self, source: IO[bytes] | Any, lease: Lease, chunk_size: int, depth: int) -> None:
        self._source = source
        self._readinto = getattr(source, "readinto", None)
        self._whole = memoryview(lease.buffer)
        self._free = [self._whole[index * chunk_size : (index + 1) * chunk_size] for index in range(depth)]
        self._filled: list[tuple[memoryview, int] | BaseException | None] = []
        self._condition = threading.Condition()
        self._stop = False

    def run(self, write: Callable[[memoryview], object]) -> int:
        thread = threading.Thread(target=self._read, name="objstore-copy", daemon=True)
        thread.start()
        try:
            return self._write(write)
        finally:
            with self._condition:
                self._stop = True
                self._condition.notify_all()
            thread.join()
            self._free.clear()
            self._whole.release()

    def _fill(self, buffer: memoryview) -> int:
        if self._readinto is not None:
            return int(self._readinto(buffer) or 0)
        data = self._source.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _read(self) -> None:
        condition = self._condition
        try:
            while True:
                with condition:
                    while not self._free and not self._stop:
                        condition.wait()
                    if self._stop:
                        return
                    buffer = self._free.pop()
                count = self._fill(buffer)
                with condition:
                    self._filled.append((buffer, count) if count else None)
                    condition.notify_all()
                if not count:
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the writing thread, which raises it
            with condition:
                self._filled.append(exc)
                condition.notify_all()

    def _write(self, write: Callable[[memoryview], object]) -> int:
        condition = self._condition
        total = 0
        while True:
            with condition:
                while not self._filled:
                    condition.wait()
                item = self._filled.pop(0)
            if item is None:
                return total
            if isinstance(item, BaseException):
                raise item
            buffer, count = item
            write(buffer[:count])
            total += count
            with condition:
                self._free.append(buffer)
                condition.notify_all()


def is_seekable(stream: Any) -> bool:
    """Whether a source can be read twice (a file, BytesIO), so its hash can be known before uploading it."""
    try:
        return bool(stream.seekable()) and callable(stream.tell)
    except (AttributeError, OSError, ValueError):
        return False
