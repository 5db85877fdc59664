"""What adapters share to move bytes: parted uploads in bounded memory, verified downloads, first reads.

These are the adapters' tools, not the domain's: the domain knows objects and keys, not parts and sockets.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import IO, Any, Generic, Protocol, TypeVar

from objstore.domain.buffers import BufferPool, Lease, shared_pool
from objstore.domain.errors import ConfigurationError, IntegrityError, ObjectStorageError, TransientError
from objstore.domain.streams import CHUNK_SIZE, iter_chunks

__all__ = [
    "ChunkIteratorReader",
    "PartRetrier",
    "PrefixedStream",
    "UploadedParts",
    "VerifyingReader",
    "prehash_sha256",
    "read_exactly",
    "read_first",
    "retrying_parts",
    "upload_in_parts",
]

T = TypeVar("T")


class PrefixedStream:
    """A stream whose first bytes were already read: serves them, then the rest of the source.

    ``read(n)`` returns ``n`` bytes unless the source ends (upload clients take a short read for the end of the
    stream). It counts what it delivered (``tell``), as resumable upload clients ask; it cannot seek.
    """

    def __init__(self, head: bytes | bytearray | memoryview, rest: IO[bytes] | Any) -> None:
        self._head = memoryview(head).toreadonly()
        self._rest = rest
        self._delivered = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return self._delivered

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            chunk = bytes(self._head) + b"".join(iter_chunks(self._rest))
            self._head = self._head[len(self._head) :]
        else:
            # Full reads, across the head and the rest: upload clients take a short read for the end of the
            # stream, and pipes read short.
            take = min(n, len(self._head))
            chunk = bytes(self._head[:take])
            self._head = self._head[take:]
            if take < n:
                chunk += read_exactly(self._rest, n - take)
        self._delivered += len(chunk)
        return chunk


class ChunkIteratorReader:
    """``read(n)`` over an iterator of byte chunks (an SDK's chunked download), holding one chunk at a time."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._current = memoryview(b"")

    def read(self, n: int = -1) -> bytes:
        while not self._current:
            chunk = next(self._chunks, None)
            if chunk is None:
                return b""
            self._current = memoryview(chunk)
        take = len(self._current) if n is None or n < 0 else min(n, len(self._current))
        data = bytes(self._current[:take])
        self._current = self._current[take:]
        return data

    def close(self) -> None:
        """Stop the download: a generator's ``close`` lets the SDK release its stream."""
        self._current = memoryview(b"")
        close = getattr(self._chunks, "close", None)
        if callable(close):
            close()


_READ_PIECE = 1024 * 1024


def read_exactly(stream: IO[bytes] | Any, size: int) -> bytearray:
    """Read up to ``size`` bytes into one buffer, tolerating short reads; fewer only at end of stream.

    A small object costs what it holds: the first piece (at most 1 MiB) is read as it comes, so asking for a
    16 MiB part of a 4 KiB file costs 4 KiB, not a zeroed 16 MiB allocation. Once a whole first piece has come,
    the buffer is made full size and filled in place (``readinto``), not grown by a copy per piece.
    """
    first = stream.read(min(size, _READ_PIECE))
    buffer = bytearray(first or b"")
    readinto = getattr(stream, "readinto", None)
    if len(buffer) == _READ_PIECE and size > _READ_PIECE and readinto is not None:
        filled = len(buffer)
        buffer.extend(bytes(size - filled))
        view = memoryview(buffer)
        try:
            while filled < size:
                count = readinto(view[filled:])
                if not count:
                    break
                filled += count
        finally:
            view.release()
        del buffer[filled:]
        return buffer
    while buffer and len(buffer) < size:
        chunk = stream.read(min(size - len(buffer), _READ_PIECE))
        if not chunk:
            break
        buffer += chunk
    return buffer


def read_first(
    stream: IO[bytes] | Any, size: int, *, capacity: int = 0, extra: int = 0, pool: BufferPool | None = None
) -> Lease:
    """Read up to ``size`` bytes of an upload into a lease; fewer only at end of stream.

    A small object costs what it holds, outside the pool: its first piece (at most 1 MiB) is read as it comes.
    Once a whole first piece has come, a buffer of ``max(size, capacity)`` bytes is borrowed from ``pool`` (the
    shared pool by default; this may wait) and filled in place. ``capacity`` lets the caller carry on filling the
    same buffer (a first part larger than the threshold) without borrowing a second one while holding this one;
    ``extra`` reserves budget for copies an SDK makes (see :meth:`BufferPool.lease`).
    """
    want = min(size, _READ_PIECE)
    head = bytearray()
    while len(head) < want:
        chunk = stream.read(want - len(head))
        if not chunk:
            break
        head += chunk
    if len(head) < _READ_PIECE or size <= _READ_PIECE:
        return Lease.holding(head)
    lease = (pool or shared_pool()).lease(max(size, capacity), extra=extra)
    try:
        lease.buffer[: len(head)] = head
        lease.size = len(head)
        del head
        lease.fill(stream, size)
    except BaseException:
        lease.release()
        raise
    return lease


def prehash_sha256(stream: Any, first: bytes | bytearray | memoryview) -> str:
    """SHA-256 of ``first`` plus the rest of a seekable stream, which is left where it was."""
    digest = hashlib.sha256(first)
    position = stream.tell()
    readinto = getattr(stream, "readinto", None)
    if readinto is not None:  # one reused buffer: no allocation (and page faults) per MiB
        buffer = bytearray(CHUNK_SIZE)
        view = memoryview(buffer)
        while count := readinto(buffer):
            digest.update(view[:count])
        view.release()
    else:
        while chunk := stream.read(CHUNK_SIZE):
            digest.update(chunk)
    stream.seek(position)
    return digest.hexdigest()


class VerifyingReader(io.RawIOBase):
    """A provider's response body as a raw stream that checks what it delivered.

    At the end of the body it checks the length, when known (a shorter body is a cut-off transfer:
    ``TransientError``) and, when a SHA-256 is expected, the content (``IntegrityError``). Errors raised while
    reading are translated by ``translate``, so a dropped connection surfaces as a retryable ``TransientError``.
    """

    def __init__(
        self,
        read: Callable[[int], bytes],
        close: Callable[[], None],
        *,
        key: str,
        length: int | None,
        sha256: str | None,
        translate: Callable[[Exception], ObjectStorageError],
    ) -> None:
        super().__init__()
        self._read_body = read
        self._close_body = close
        self._key = key
        self._length = length
        self._expected = sha256
        self._digest = hashlib.sha256() if sha256 else None
        self._translate = translate
        self._delivered = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        try:
            data = self._read_body(len(view))
        except Exception as exc:
            raise self._translate(exc) from exc
        n = len(data)
        if n == 0:
            self._finish()
            return 0
        view[:n] = data
        self._delivered += n
        if self._digest is not None:
            self._digest.update(data)
        return n

    def _finish(self) -> None:
        if self._length is not None and self._delivered != self._length:
            raise TransientError(
                f"the transfer was cut off after {self._delivered} of {self._length} bytes", key=self._key
            )
        if self._digest is not None and self._digest.hexdigest() != self._expected:
            raise IntegrityError("the content read does not match its stored SHA-256", key=self._key)

    def close(self) -> None:
        if not self.closed:
            self._close_body()
        super().close()


@dataclass(frozen=True)
class UploadedParts(Generic[T]):
    """What :func:`upload_in_parts` sent: each part's result in part order, the size, and the SHA-256."""

    results: list[T]
    size: int
    sha256: str | None


class PartRetrier(Protocol):
    """What sends a failed part again: the retry layer's policy (its attempts, and its deadline counted from the
    part's first try, since a large upload makes progress part by part)."""

    def __call__(self, send: Callable[[], T], /) -> T:
        """Run ``send`` (one try of one part), trying it again on retryable errors as the policy allows."""


_part_retrier: ContextVar[PartRetrier | None] = ContextVar("objstore_part_retrier", default=None)


@contextmanager
def retrying_parts(retrier: PartRetrier) -> Iterator[None]:
    """Let :func:`upload_in_parts` send failed parts again with ``retrier`` while the context is open.

    The retry layer opens it around each write it runs, so the layer alone decides how often a part is tried
    (its attempts, its deadline, its counters). Without one a failed part fails the upload.
    """
    token = _part_retrier.set(retrier)
    try:
        yield
    finally:
        _part_retrier.reset(token)


class _PartAbandoned(TransientError):
    """A part not sent because another part had failed: the other part's error is the one to report."""

    default_retryable = False


def upload_in_parts(
    stream: IO[bytes] | Any,
    first: bytes | bytearray | Lease,
    *,
    part_size: int,
    concurrency: int,
    send: Callable[[int, memoryview | bytes], T],
    key: str,
    max_parts: int = 10_000,
    hash_content: bool = False,
    as_bytes: bool = False,
    pool: BufferPool | None = None,
) -> UploadedParts[T]:
    """Send a stream as numbered parts (from 1), ``concurrency`` at a time, in bounded memory.

    Each part is a buffer borrowed from ``pool`` (the shared pool by default), read only once a slot is free
    and the pool lends it, and returned as soon as the part is sent or has failed: concurrent uploads share one
    budget, and one upload has at most ``concurrency`` parts in memory. ``first`` (already read, usually a lease
    from :func:`read_first`) starts part 1 and is filled on to ``part_size`` if it has room; this function owns
    it from the call on. The reading thread never waits for a buffer while it holds one, so uploads sharing a
    pool cannot deadlock. Part sizes double every ``max_parts // 10`` parts, so a stream of unknown length still
    fits in ``max_parts``. On the first failure no new part is started and the failure is raised once the parts
    in flight end; the caller aborts the upload. ``send`` gets a view of the part, valid during the call (or,
    with ``as_bytes``, a copy as ``bytes`` for SDKs that need them). Under a retry layer (see
    :func:`retrying_parts`) a part whose send fails with a retryable error is sent again, alone, as the layer's
    policy allows (its bytes are still in memory): the upload resumes at the failed part. Without one, a failed
    part fails the upload.
    """
    upload = _PartedUpload(stream, send, key, concurrency, as_bytes, pool or shared_pool())
    carry: Lease | None = first if isinstance(first, Lease) else Lease.holding(first)
    digest = hashlib.sha256() if hash_content else None
    try:
        with ThreadPoolExecutor(concurrency, thread_name_prefix="objstore-part") as executor:
            carry = upload.read_all(executor, carry, part_size, max_parts, digest)
    finally:
        if carry is not None:
            carry.release()
    futures = upload.futures
    _raise_first_failure(futures.values())
    return UploadedParts(
        [futures[n].result() for n in sorted(futures)], upload.size, digest.hexdigest() if digest is not None else None
    )


class _PartedUpload(Generic[T]):
    """One run of :func:`upload_in_parts`: the reading loop on the caller's thread, the sends on the pool's."""

    def __init__(
        self,
        stream: IO[bytes] | Any,
        send: Callable[[int, memoryview | bytes], T],
        key: str,
        concurrency: int,
        as_bytes: bool,
        pool: BufferPool,
    ) -> None:
        self._stream, self._send, self._key, self._as_bytes, self._pool = stream, send, key, as_bytes, pool
        self._retrier = _part_retrier.get()  # read here: the parts run on other threads, which do not see it
        self._slots = threading.BoundedSemaphore(concurrency)
        self._failed = threading.Event()
        self.futures: dict[int, Future[T]] = {}
        self.size = 0

    def read_all(
        self,
        executor: ThreadPoolExecutor,
        carry: Lease | None,
        part_size: int,
        max_parts: int,
        digest: Any,
    ) -> Lease | None:
        """Read and hand out parts until the stream ends or a part fails; returns what is left to carry."""
        grow_every = max(1, max_parts // 10)
        while True:
            self._slots.acquire()
            number = len(self.futures)
            if self._failed.is_set() or number >= max_parts:
                self._slots.release()
                if number >= max_parts and not self._failed.is_set():
                    self._failed.set()
                    raise ConfigurationError(
                        f"the object needs more than {max_parts} parts; raise the part size", key=self._key
                    )
                return carry
            size_now = part_size * (2 ** (number // grow_every))
            lease, carry, target = self._read_part(carry, size_now)
            if not lease.size and number > 0:
                lease.release()
                self._slots.release()
                return carry
            if digest is not None:
                digest.update(lease.view())
            self.size += lease.size
            ended = lease.size < target  # before the send: once sent, the lease goes back to the pool
            self.futures[number + 1] = executor.submit(self._run, number + 1, lease)
            if ended:
                return carry

    def _read_part(self, carry: Lease | None, size: int) -> tuple[Lease, Lease | None, int]:
        lease: Lease | None = None
        try:
            lease, carry = _next_part(self._stream, carry, size, self._pool)
            target = min(max(size, lease.size), lease.capacity)
            lease.fill(self._stream, target)
        except BaseException:
            if lease is not None:
                lease.release()
            self._slots.release()
            self._failed.set()
            raise
        return lease, carry, target

    def _run(self, number: int, lease: Lease) -> T:
        try:
            view = lease.view()
            data = bytes(view) if self._as_bytes else view

            def send_once() -> T:
                if self._failed.is_set():
                    raise _PartAbandoned("the upload was abandoned after another part failed", key=self._key)
                return self._send(number, data)

            return self._retrier(send_once) if self._retrier is not None else send_once()
        except BaseException:
            self._failed.set()
            raise
        finally:
            lease.release()
            self._slots.release()


def _raise_first_failure(futures: Iterable[Future[Any]]) -> None:
    """Raise the first part's failure, in part order, preferring a real one to a part abandoned because of it."""
    errors = [error for error in (future.exception() for future in futures) if error is not None]
    for error in errors:
        if not isinstance(error, _PartAbandoned):
            raise error
    if errors:
        raise errors[0]


def _next_part(stream: Any, carry: Lease | None, size: int, pool: BufferPool) -> tuple[Lease, Lease | None]:
    """The buffer for the next part: the first one (moved to a pooled buffer if it was read outside the pool
    and has no room), else one borrowed from the pool. Returns it and what is left to carry (nothing)."""
    if carry is None:
        return pool.lease(size), None
    if carry.pooled or carry.capacity >= size:
        # A pooled first buffer is used as it is: borrowing a second one while holding it could deadlock.
        return carry, None
    lease = pool.lease(size)  # the carry is outside the pool: waiting while holding it cannot deadlock
    lease.buffer[: carry.size] = carry.view()
    lease.size = carry.size
    return lease, None
