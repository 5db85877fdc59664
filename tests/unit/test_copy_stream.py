"""copy_stream: overlapped reading and writing, in order, with bounded memory and no error lost."""

from __future__ import annotations

import hashlib
import io
import threading
from typing import Any

import pytest

from objstore.domain.streams import copy_stream

CHUNK = 64 * 1024


class Source(io.RawIOBase):
    """Random bytes in uneven reads; optionally fails after ``fail_after`` bytes; records the threads it ran on."""

    def __init__(self, size: int, *, fail_after: int | None = None, seed: int = 1) -> None:
        self.data = bytes((i * 7919 + seed) % 251 for i in range(size))
        self.position = 0
        self.fail_after = fail_after
        self.threads: set[str] = set()
        self.reads = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self.threads.add(threading.current_thread().name)
        self.reads += 1
        if self.fail_after is not None and self.position >= self.fail_after:
            raise ConnectionResetError("cut mid-stream")
        count = min(len(buffer), len(self.data) - self.position, CHUNK - 123)  # never a whole chunk at once
        buffer[:count] = self.data[self.position : self.position + count]
        self.position += count
        return count


def test_a_large_source_arrives_whole_and_in_order_through_the_reader_thread() -> None:
    source = Source(40 * CHUNK + 17)
    out = io.BytesIO()
    assert copy_stream(source, out.write, chunk_size=CHUNK, depth=3) == len(source.data)
    assert hashlib.sha256(out.getvalue()).digest() == hashlib.sha256(source.data).digest()
    assert "objstore-copy" in source.threads


def test_a_small_source_is_copied_without_a_thread() -> None:
    source = Source(1000)
    out = io.BytesIO()
    assert copy_stream(source, out.write, chunk_size=CHUNK) == 1000
    assert out.getvalue() == source.data
    assert source.threads == {threading.current_thread().name}


def test_an_empty_source_writes_nothing() -> None:
    calls: list[bytes] = []
    assert copy_stream(io.BytesIO(b""), lambda view: calls.append(bytes(view)), chunk_size=CHUNK) == 0
    assert calls == []


def test_a_source_without_readinto_is_read() -> None:
    data = bytes(range(256)) * 1000

    class ReadOnly:
        def __init__(self) -> None:
            self.inner = io.BytesIO(data)

        def read(self, n: int = -1) -> bytes:
            return self.inner.read(min(n, 5000))

    out = io.BytesIO()
    assert copy_stream(ReadOnly(), out.write, chunk_size=8192) == len(data)
    assert out.getvalue() == data


def test_a_read_error_reaches_the_caller_after_what_came_before() -> None:
    source = Source(40 * CHUNK, fail_after=10 * CHUNK)
    out = io.BytesIO()
    with pytest.raises(ConnectionResetError, match="cut mid-stream"):
        copy_stream(source, out.write, chunk_size=CHUNK)
    assert out.getvalue() == source.data[: source.position]
    assert [t.name for t in threading.enumerate() if t.name == "objstore-copy"] == []


def test_a_write_error_stops_the_reader_before_returning() -> None:
    source = Source(400 * CHUNK)
    written = [0]

    def write(view: memoryview) -> None:
        written[0] += len(view)
        if written[0] > 5 * CHUNK:
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        copy_stream(source, write, chunk_size=CHUNK, depth=2)
    assert [t.name for t in threading.enumerate() if t.name == "objstore-copy"] == []
    assert source.position < len(source.data) // 10  # bounded read-ahead, not the whole source
