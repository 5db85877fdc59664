"""The shared buffer pool: bounded, reused, returned on errors, fair, and free of deadlocks."""

from __future__ import annotations

import io
import random
import threading
import time

import pytest

from objstore import ConfigurationError, TransientError
from objstore.adapters.transfer import read_first, upload_in_parts
from objstore.domain.buffers import BufferPool, Lease, parse_size
from objstore.domain.streams import copy_stream

KiB = 1024
MiB = 1024 * KiB


def test_leases_never_exceed_the_budget_and_wait_for_a_return() -> None:
    pool = BufferPool(3 * KiB)
    held = [pool.lease(KiB) for _ in range(3)]
    got: list[Lease] = []
    waiter = threading.Thread(target=lambda: got.append(pool.lease(KiB)))
    waiter.start()
    waiter.join(0.2)
    assert waiter.is_alive()
    assert pool.lent == 3 * KiB
    held[0].release()
    waiter.join(5)
    assert not waiter.is_alive()
    assert got
    assert held[0].capacity == 0  # the released lease let go of its buffer
    assert pool.peak == 3 * KiB


def test_returned_buffers_are_reused_and_idle_ones_count_against_the_budget() -> None:
    pool = BufferPool(4 * KiB)
    first = pool.lease(2 * KiB)
    buffer = first.buffer
    first.release()
    assert pool.idle == 2 * KiB
    again = pool.lease(2 * KiB)
    assert again.buffer is buffer  # reused, not reallocated
    again.release()
    other = pool.lease(3 * KiB)  # another size: the idle buffer is dropped to make room
    assert pool.idle == 0
    assert pool.lent == 3 * KiB
    other.release()
    pool.trim()
    assert pool.idle == 0


def test_a_release_is_idempotent_and_a_lease_is_a_context_manager() -> None:
    pool = BufferPool(2 * KiB)
    with pool.lease(KiB) as lease:
        lease.release()
    lease.release()
    assert pool.lent == 0


def test_a_request_larger_than_the_budget_is_served_alone() -> None:
    pool = BufferPool(2 * KiB)
    small = pool.lease(KiB)
    got: list[Lease] = []
    big = threading.Thread(target=lambda: got.append(pool.lease(5 * KiB)))
    big.start()
    big.join(0.2)
    assert big.is_alive()
    small.release()
    big.join(5)
    assert got
    assert got[0].capacity == 5 * KiB
    got[0].release()
    assert pool.idle == 0  # not kept: it would not fit in the budget


def test_waiters_are_served_first_come_first_served() -> None:
    pool = BufferPool(4 * KiB)
    hold = pool.lease(4 * KiB)
    order: list[str] = []
    big = threading.Thread(target=lambda: (order.append("big"), pool.lease(4 * KiB).release()))
    big.start()
    time.sleep(0.1)
    small = threading.Thread(target=lambda: (pool.lease(KiB).release(), order.append("small")))
    small.start()
    time.sleep(0.1)
    hold.release()
    big.join(5)
    small.join(5)
    assert order == ["big", "small"]  # the small request did not overtake the big one that came first


def test_extra_reserves_budget_without_allocating_it() -> None:
    pool = BufferPool(4 * KiB)
    lease = pool.lease(KiB, extra=3 * KiB)
    assert lease.capacity == KiB
    assert pool.lent == 4 * KiB
    lease.release()
    assert pool.lent == 0
    assert pool.idle == KiB


def test_sizes_parse_with_binary_units() -> None:
    assert parse_size("134217728") == 128 * MiB
    assert parse_size("128MiB") == parse_size("128m") == 128 * MiB
    assert parse_size("1GiB") == 1024 * MiB
    with pytest.raises(ConfigurationError):
        parse_size("lots")
    with pytest.raises(ConfigurationError):
        BufferPool(0)


def test_small_streams_are_read_outside_the_pool_and_large_ones_in_it() -> None:
    pool = BufferPool(4 * MiB)
    small = read_first(io.BytesIO(b"x" * 4096), 2 * MiB, pool=pool)
    assert not small.pooled
    assert bytes(small.view()) == b"x" * 4096
    assert pool.lent == 0
    content = random.Random(1).randbytes(3 * MiB)
    large = read_first(io.BytesIO(content), 2 * MiB, capacity=3 * MiB, pool=pool)
    assert large.pooled
    assert large.capacity == 3 * MiB
    assert bytes(large.view()) == content[: 2 * MiB]
    large.release()
    assert pool.lent == 0


def test_a_failing_read_returns_the_buffer() -> None:
    class Failing(io.RawIOBase):
        def __init__(self) -> None:
            self.left = 2 * MiB

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            if self.left <= 0:
                raise OSError("disk gone")
            n = min(len(buffer), self.left, 256 * KiB)
            buffer[:n] = b"y" * n
            self.left -= n
            return n

    pool = BufferPool(8 * MiB)
    with pytest.raises(OSError, match="disk gone"):
        read_first(Failing(), 4 * MiB, pool=pool)
    assert pool.lent == 0
    first = read_first(io.BytesIO(b"z" * (2 * MiB)), 2 * MiB, capacity=2 * MiB, pool=pool)
    with pytest.raises(OSError, match="disk gone"):
        upload_in_parts(Failing(), first, part_size=MiB, concurrency=2, send=lambda n, d: n, key="k", pool=pool)
    assert pool.lent == 0


def test_a_failing_send_returns_every_buffer() -> None:
    pool = BufferPool(4 * KiB)

    def send(number: int, data: memoryview | bytes) -> int:
        if number == 3:
            raise TransientError("part 3 failed")
        return number

    with pytest.raises(TransientError, match="part 3"):
        upload_in_parts(io.BytesIO(b"x" * 100_000), b"", part_size=KiB, concurrency=3, send=send, key="k", pool=pool)
    assert pool.lent == 0


def test_parts_stay_within_the_pool_and_arrive_whole() -> None:
    pool = BufferPool(3 * KiB)
    lent: list[int] = []
    content = random.Random(2).randbytes(50 * KiB + 17)

    def send(number: int, data: memoryview | bytes) -> tuple[int, bytes]:
        lent.append(pool.lent)
        time.sleep(0.001)
        return number, bytes(data)

    sent = upload_in_parts(io.BytesIO(content), b"", part_size=KiB, concurrency=8, send=send, key="k", pool=pool)
    assert b"".join(data for _, data in sent.results) == content
    assert max(lent) <= 3 * KiB
    assert pool.peak <= 3 * KiB
    assert pool.lent == 0


def test_more_concurrent_uploads_than_buffers_all_finish() -> None:
    """Twelve uploads of eight parts in flight each share a pool of three parts: no deadlock, nothing lost."""
    pool = BufferPool(3 * 64 * KiB)
    results: dict[int, bytes] = {}
    errors: list[BaseException] = []

    def upload(index: int) -> None:
        content = random.Random(index).randbytes(1 * MiB + index)
        stream = io.BytesIO(content)
        try:
            first = read_first(stream, 64 * KiB, capacity=64 * KiB, pool=pool)
            with first:
                sent = upload_in_parts(
                    stream,
                    first,
                    part_size=64 * KiB,
                    concurrency=8,
                    send=lambda n, d: bytes(d),
                    key=str(index),
                    pool=pool,
                )
            results[index] = b"".join(sent.results)
            assert results[index] == content
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=upload, args=(index,)) for index in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "deadlocked"
    assert not errors
    assert len(results) == 12
    assert pool.peak <= pool.budget
    assert pool.lent == 0


def test_downloads_borrow_their_read_ahead_from_the_pool() -> None:
    pool = BufferPool(64 * KiB)
    seen: list[int] = []
    content = random.Random(3).randbytes(200 * KiB)
    out = io.BytesIO()

    def write(view: memoryview) -> None:
        seen.append(pool.lent)
        out.write(view)

    assert copy_stream(io.BytesIO(content), write, chunk_size=8 * KiB, depth=4, pool=pool) == len(content)
    assert out.getvalue() == content
    assert max(seen) == 32 * KiB
    assert pool.lent == 0
