"""FaultInjectingAdapter: the mock provider for resilience tests and your own chaos testing."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Generator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, BinaryIO, cast

from objstore.domain.errors import ConfigurationError, CredentialsExpired, ObjectStorageError, Throttled, TransientError
from objstore.domain.models import DeleteResult, ListOptions, ObjectInfo, OpenedObject, ReadOptions, WriteOptions
from objstore.ports.storage import IObjectStorageAdapter, LayerAdapter, Readable

__all__ = ["FaultInjectingAdapter", "FaultSpec", "FaultStats"]


@dataclass(frozen=True)
class FaultSpec:
    """How often each fault happens (a probability per call), reproducibly from ``seed``.

    Attributes:
        transient: A ``TransientError`` (as a 500, a timeout or a reset would be).
        throttle: A ``Throttled`` error (429 / 503 SlowDown), with ``retry_after`` of 0.
        expire: A ``CredentialsExpired`` error.
        cut: A transfer cut off part-way: a read stream that fails after ``cut_after`` bytes, or a put that reads
            ``cut_after`` bytes of its source and then fails.
        cut_after: Bytes a cut transfer gets through.
        latency: Seconds added to every call (a (min, max) range).
        seed: The random seed.
    """

    transient: float = 0.0
    throttle: float = 0.0
    expire: float = 0.0
    cut: float = 0.0
    cut_after: int = 4096
    latency: tuple[float, float] = (0.0, 0.0)
    seed: int = 0

    @classmethod
    def parse(cls, text: str) -> FaultSpec:
        """A spec from its text form, as the CLI and URLs take it: ``transient=0.1,throttle=0.02,cut=0.01,seed=7``.

        ``latency`` is one number or ``min-max`` (seconds). Rates are probabilities in [0, 1].

        Raises:
            ConfigurationError: An unknown name, a malformed value or a rate out of range.
        """
        values: dict[str, Any] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, sep, raw = item.partition("=")
            name = name.strip()
            if not sep or name not in _FIELDS:
                raise ConfigurationError(
                    f"faults: {item!r} is not name=value with a name among {', '.join(sorted(_FIELDS))}"
                )
            try:
                if name == "latency":
                    low, _, high = raw.partition("-")
                    values[name] = (float(low), float(high or low))
                elif name in ("seed", "cut_after"):
                    values[name] = int(raw)
                else:
                    values[name] = float(raw)
            except ValueError:
                raise ConfigurationError(f"faults: {name} takes a number, not {raw!r}") from None
        spec = cls(**values)
        rates = (spec.transient, spec.throttle, spec.expire, spec.cut)
        if any(not 0.0 <= rate <= 1.0 for rate in rates) or sum(rates[:3]) > 1.0:
            raise ConfigurationError("faults: rates are probabilities between 0 and 1 (and sum to at most 1)")
        if spec.cut_after < 0 or min(spec.latency) < 0:
            raise ConfigurationError("faults: cut_after and latency cannot be negative")
        return spec


_FIELDS = frozenset({"transient", "throttle", "expire", "cut", "cut_after", "latency", "seed"})


@dataclass
class FaultStats:
    """What was injected."""

    calls: int = 0
    transient: int = 0
    throttle: int = 0
    expire: int = 0
    cut: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def injected(self) -> int:
        return self.transient + self.throttle + self.expire + self.cut


class _CutStream:
    """A stream that fails with TransientError after ``limit`` bytes (a connection dropped mid-transfer)."""

    def __init__(self, stream: Any, limit: int, key: str) -> None:
        self._stream = stream
        self._left = limit
        self._key = key

    def read(self, n: int = -1) -> bytes:
        if self._left <= 0:
            raise TransientError("injected fault: the transfer was cut off", key=self._key)
        if n is None or n < 0:  # the rest: what comes before the cut is lost with it, as on a dropped connection
            data: bytes = self._stream.read(self._left)
            self._left -= len(data)
            if self._left <= 0 and self._stream.read(1):
                raise TransientError("injected fault: the transfer was cut off", key=self._key)
            return data
        data = self._stream.read(min(n, self._left))
        self._left -= len(data)
        return data

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._stream.close()


class FaultInjectingAdapter(LayerAdapter):
    """Wraps any adapter and makes some calls fail as stores do (seeded, so a failure can be replayed).

    Args:
        inner: The adapter to wrap.
        spec: Fault rates; see :class:`FaultSpec`.
    """

    def __init__(self, inner: IObjectStorageAdapter, spec: FaultSpec | None = None, **rates: Any) -> None:
        super().__init__(inner)
        self.spec = spec or FaultSpec(**rates)
        self.stats = FaultStats()
        self._random = random.Random(self.spec.seed)
        self._lock = threading.Lock()
        self.name = inner.name

    def __repr__(self) -> str:
        return f"FaultInjectingAdapter({self.inner!r})"

    def counters(self) -> dict[str, int]:
        return {"operations": self.stats.calls, "faults_injected": self.stats.injected}

    def _draw(self) -> float:
        with self._lock:
            return self._random.random()

    def _maybe_fail(self, key: str | None) -> None:
        spec, stats = self.spec, self.stats
        low, high = spec.latency
        if high > 0:
            time.sleep(low + (high - low) * self._draw())
        roll = self._draw()
        with stats._lock:
            stats.calls += 1
            for name, rate, error in (
                ("transient", spec.transient, TransientError),
                ("throttle", spec.throttle, Throttled),
                ("expire", spec.expire, CredentialsExpired),
            ):
                if roll < rate:
                    setattr(stats, name, getattr(stats, name) + 1)
                    failure: ObjectStorageError = error(f"injected fault: {name}", key=key)
                    if error is Throttled:
                        failure.retry_after = 0.0
                    raise failure
                roll -= rate

    def _cut_now(self) -> bool:
        if self.spec.cut and self._draw() < self.spec.cut:
            with self.stats._lock:
                self.stats.cut += 1
            return True
        return False

    def head_object(self, prefix: str, key: str) -> ObjectInfo:
        self._maybe_fail(key)
        return self.inner.head_object(prefix, key)

    @contextmanager
    def open_object(self, prefix: str, key: str, options: ReadOptions) -> Generator[OpenedObject, None, None]:
        self._maybe_fail(key)
        with self.inner.open_object(prefix, key, options) as opened:
            if self._cut_now():  # the cut stream reads the same version: the read keeps its info
                yield OpenedObject(opened.info, cast(BinaryIO, _CutStream(opened.stream, self.spec.cut_after, key)))
            else:
                yield opened

    def write_object(self, prefix: str, key: str, stream: Readable, options: WriteOptions) -> ObjectInfo:
        self._maybe_fail(key)
        if self._cut_now():
            stream.read(self.spec.cut_after)  # part of the source is consumed, as by a real dropped upload
            raise TransientError("injected fault: the upload was cut off", key=key)
        return self.inner.write_object(prefix, key, stream, options)

    def delete_object(self, prefix: str, key: str) -> None:
        self._maybe_fail(key)
        self.inner.delete_object(prefix, key)

    def scan_objects(self, prefix: str, options: ListOptions) -> Iterator[ObjectInfo]:
        self._maybe_fail(prefix or None)
        return self.inner.scan_objects(prefix, options)

    def copy_object(self, src_prefix: str, src_key: str, dst_prefix: str, dst_key: str) -> None:
        self._maybe_fail(src_key)
        self.inner.copy_object(src_prefix, src_key, dst_prefix, dst_key)

    def delete_objects(self, prefix: str, keys: Iterable[str]) -> DeleteResult:
        self._maybe_fail(None)
        return self.inner.delete_objects(prefix, keys)

    def presign_url(self, prefix: str, key: str, *, expires_in: int = 3600, method: str = "GET") -> str:
        self._maybe_fail(key)
        return self.inner.presign_url(prefix, key, expires_in=expires_in, method=method)
