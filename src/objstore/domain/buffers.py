"""One memory budget for every transfer in the process: a bounded pool of reusable part buffers.

Multipart uploads (S3 parts, Azure blocks), resumable uploads (GCS) and overlapped downloads borrow their
buffers here and give them back when the bytes have been sent or written. The pool never holds (lent plus idle)
more than its budget, so a sync of any number of files of any size has one ceiling for its transfer buffers,
whatever its number of jobs; a transfer that finds the budget spent waits for a buffer to come back.

Why it cannot deadlock: every borrower follows one rule, *never wait for a buffer while holding one*. An
upload's reading thread holds a buffer only while it fills it (which waits on the source, never on the pool),
then hands it to the thread that sends it, which returns it when the part is sent or has failed. So every lent
buffer is on its way back, and waiters are served first come, first served, so none waits forever either.

Buffers are reused rather than freed: allocating and freeing megabytes per part fragments the C heap (each
thread has its own arena), so a process that did so grew far past what it ever held at once.

The budget is :data:`DEFAULT_BUDGET` (128 MiB), or ``OBJSTORE_MEMORY_BUDGET`` (bytes, or with a ``KiB``/``MiB``/
``GiB`` suffix) read when the shared pool is first used, or :func:`configure_shared_pool`.
"""

from __future__ import annotations

import os
import re
import threading
from collections import deque
from typing import Any

from objstore.domain.errors import ConfigurationError

__all__ = [
    "BUDGET_ENVIRONMENT_VARIABLE",
    "DEFAULT_BUDGET",
    "BufferPool",
    "Lease",
    "configure_shared_pool",
    "parse_size",
    "shared_pool",
]

MiB = 1024 * 1024
DEFAULT_BUDGET = 128 * MiB
BUDGET_ENVIRONMENT_VARIABLE = "OBJSTORE_MEMORY_BUDGET"


class Lease:
    """A buffer borrowed from a :class:`BufferPool` (or a small one of its own), and how much of it holds data.

    ``release`` gives it back (at most once; later calls do nothing). A lease is also a context manager.
    """

    __slots__ = ("_charge", "_pool", "buffer", "size")

    def __init__(self, buffer: bytearray, pool: BufferPool | None = None, charge: int = 0) -> None:
        self.buffer = buffer
        self.size = 0
        self._pool = pool
        self._charge = charge

    @classmethod
    def holding(cls, data: bytes | bytearray | memoryview) -> Lease:
        """A lease outside any pool over data already in memory (a small object), for a uniform interface."""
        lease = cls(data if isinstance(data, bytearray) else bytearray(data))
        lease.size = len(lease.buffer)
        return lease

    @property
    def capacity(self) -> int:
        return len(self.buffer)

    @property
    def pooled(self) -> bool:
        return self._pool is not None

    def view(self) -> memoryview:
        """The data (the first ``size`` bytes), without a copy; valid until the lease is released."""
        return memoryview(self.buffer)[: self.size]

    def fill(self, stream: Any, upto: int, *, piece: int = MiB) -> int:
        """Read from ``stream`` until ``upto`` bytes are held (or the stream ends); returns ``size``.

        Short reads are tolerated. Streams without ``readinto`` are read ``piece`` bytes at a time, so what they
        allocate per read stays small.
        """
        upto = min(upto, len(self.buffer))
        readinto = getattr(stream, "readinto", None)
        view = memoryview(self.buffer)
        try:
            while self.size < upto:
                if readinto is not None:
                    count = readinto(view[self.size : upto])
                else:
                    data = stream.read(min(upto - self.size, piece))
                    count = len(data) if data else 0
                    view[self.size : self.size + count] = data
                if not count:
                    break
                self.size += count
        finally:
            view.release()
        return self.size

    def release(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            # The lease lets go of the buffer too: one the pool does not keep must be freed now, not when the
            # lease object happens to be dropped (a first buffer would live on for the whole upload).
            buffer, self.buffer, self.size = self.buffer, bytearray(), 0
            pool._give_back(buffer, self._charge)

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class BufferPool:
    """Reusable buffers within a fixed budget of bytes, lent first come, first served.

    Args:
        budget: The most bytes lent and kept idle together. A request larger than the whole budget is still
            served, alone: it waits until nothing else is lent.
    """

    def __init__(self, budget: int = DEFAULT_BUDGET) -> None:
        if budget < 1:
            raise ConfigurationError(f"the memory budget must be positive, not {budget}")
        self.budget = budget
        self._condition = threading.Condition()
        self._idle: dict[int, list[bytearray]] = {}
        self._idle_bytes = 0
        self._lent = 0
        self._queue: deque[object] = deque()
        self.peak = 0  # the most bytes lent at once, for tests and measurements

    @property
    def lent(self) -> int:
        """Bytes lent now (buffers and reservations)."""
        with self._condition:
            return self._lent

    @property
    def idle(self) -> int:
        """Bytes of returned buffers kept for reuse."""
        with self._condition:
            return self._idle_bytes

    def lease(self, size: int, *, extra: int = 0) -> Lease:
        """Borrow a buffer of ``size`` bytes, waiting while the budget is spent.

        ``extra`` reserves more of the budget with the buffer, for copies a client library makes of the data
        (an SDK's own chunk): it is counted, not allocated, and given back with the buffer.
        """
        if size < 1 or extra < 0:
            raise ValueError(f"cannot lease {size} bytes (+{extra})")
        charge = size + extra
        ticket = object()
        with self._condition:
            self._queue.append(ticket)
            try:
                while not (self._queue[0] is ticket and self._fits(charge)):
                    self._condition.wait()
            finally:
                self._queue.remove(ticket)
                self._condition.notify_all()  # the next in line may fit too
            self._lent += charge
            self.peak = max(self.peak, self._lent)
            buffer = self._take_idle(size)
            if buffer is None:
                self._make_room(charge)
        if buffer is None:
            buffer = bytearray(size)  # outside the lock: the allocation is already counted in _lent
        return Lease(buffer, self, charge)

    def trim(self) -> None:
        """Free the idle buffers (a long-lived process between syncs)."""
        with self._condition:
            self._idle.clear()
            self._idle_bytes = 0

    def _fits(self, charge: int) -> bool:
        if charge > self.budget:
            return self._lent == 0  # larger than the budget: alone
        return self._lent + charge <= self.budget

    def _take_idle(self, size: int) -> bytearray | None:
        same = self._idle.get(size)
        if not same:
            return None
        self._idle_bytes -= size
        return same.pop()

    def _make_room(self, charge: int) -> None:
        """Drop idle buffers (of other sizes) until the new allocation fits beside them."""
        for size in list(self._idle):
            while self._idle[size] and self._lent + self._idle_bytes > max(self.budget, charge):
                self._idle[size].pop()
                self._idle_bytes -= size
            if not self._idle[size]:
                del self._idle[size]

    def _give_back(self, buffer: bytearray, charge: int) -> None:
        with self._condition:
            self._lent -= charge
            size = len(buffer)
            if self._lent + self._idle_bytes + size <= self.budget:
                self._idle.setdefault(size, []).append(buffer)
                self._idle_bytes += size
            self._condition.notify_all()

    def __repr__(self) -> str:
        return f"BufferPool(budget={self.budget}, lent={self._lent}, idle={self._idle_bytes})"


_SIZE = re.compile(r"^\s*(\d+)\s*(|b|k|kb|kib|m|mb|mib|g|gb|gib)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1024, "m": MiB, "g": 1024 * MiB}


def parse_size(text: str) -> int:
    """``134217728``, ``128MiB``, ``128M`` or ``1GiB`` as bytes (binary units throughout)."""
    match = _SIZE.match(text)
    if not match:
        raise ConfigurationError(f"not a size: {text!r} (bytes, or a number with KiB, MiB or GiB)")
    return int(match.group(1)) * _UNITS[match.group(2)[:1].lower()]


_shared: BufferPool | None = None
_shared_lock = threading.Lock()


def shared_pool() -> BufferPool:
    """The process's pool, which every adapter's transfers share; made on first use."""
    global _shared
    with _shared_lock:
        if _shared is None:
            configured = os.environ.get(BUDGET_ENVIRONMENT_VARIABLE)
            _shared = BufferPool(parse_size(configured) if configured else DEFAULT_BUDGET)
        return _shared


def configure_shared_pool(budget: int) -> BufferPool:
    """Replace the shared pool with one of ``budget`` bytes (transfers under way keep the pool they started with)."""
    global _shared
    with _shared_lock:
        _shared = BufferPool(budget)
        return _shared
