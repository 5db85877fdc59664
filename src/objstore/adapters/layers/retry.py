"""RetryingAdapter: retries what is safe to retry, with full-jitter backoff, Retry-After and a total deadline."""

from __future__ import annotations

import hashlib
import io
import random
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO, TypeVar

import tenacity

from objstore.domain.backoff import backoff_delay
from objstore.domain.errors import (
    ObjectAlreadyExists,
    ObjectNotFound,
    ObjectStorageError,
    PreconditionFailed,
    Throttled,
    TransientError,
)
from objstore.domain.models import DeleteResult, ObjectInfo
from objstore.domain.streams import is_seekable
from objstore.ports.storage import IObjectStorageAdapter, LayerAdapter, stream_etag

__all__ = ["RetryPolicy", "RetryStats", "RetryingAdapter"]

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How the retry layer retries.

    Attributes:
        attempts: Tries in all, the first included.
        deadline: Seconds after the first try when no new try starts: a try that would start (after its backoff)
            at or past the deadline is not made. With every store's timeouts, an operation therefore ends within
            the deadline plus one timeout. For listings and reads, which may rightly run longer than the deadline,
            it counts from the last progress (an entry or bytes delivered) instead of the first try.
        base: The backoff's first step (seconds); each wait is random in [0, min(max_wait, base * 2**n)].
        max_wait: The longest single wait.
    """

    attempts: int = 10
    deadline: float = 60.0
    base: float = 0.2
    max_wait: float = 10.0


@dataclass
class RetryStats:
    retries: int = 0
    gave_up: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)


def _retryable(error: BaseException) -> bool:
    return isinstance(error, ObjectStorageError) and error.retryable


class RetryingAdapter(LayerAdapter):
    """Wraps any adapter and retries the failures marked retryable, where retrying is safe.

    - Reads, listings, heads, copies and unconditional puts are retried on any retryable error
      (throttling, 5xx, timeouts, resets, expired credentials the store renews, integrity errors in transit).
    - A conditional put (create-only, if-match) is retried too: the precondition stops it from overwriting
      anyone's change, and if a retry fails on the effect of an earlier try that did land (the object now holds
      exactly our content), the put succeeded.
    - A streamed put is retried only if its source can seek back to where it started.
    - A read that fails part-way resumes where it stopped, on the same version of the object.
    - A delete retried after it did take effect is not reported as "not found".

    Waits follow full-jitter exponential backoff, never shorter than the store's Retry-After, and stop at the
    policy's attempts or deadline, whichever comes first; no try starts at or after the deadline.
    """

    def __init__(
        self,
        inner: IObjectStorageAdapter,
        policy: RetryPolicy | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(inner)
        self.policy = policy or RetryPolicy()
        self.stats = RetryStats()
        self._sleep = sleep
        self._clock = clock
        self._random = random.Random(seed)
        self.name = inner.name
        # Whether the store records on its read streams the version they read (then no HEAD pins it first).
        self._streams_tagged = False
        self._controllers: dict[Callable[[BaseException], bool], tenacity.Retrying] = {}
        self._busy = threading.local()

    def __repr__(self) -> str:
        return f"RetryingAdapter({self.inner!r})"

    def counters(self) -> dict[str, int]:
        return {"retries": self.stats.retries, "retries_exhausted": self.stats.gave_up}

    def _wait(self, state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        return backoff_delay(
            state.attempt_number, error, base=self.policy.base, max_wait=self.policy.max_wait, rng=self._random
        )

    def _retrying(self, when: Callable[[BaseException], bool]) -> tenacity.Retrying:
        """One tenacity controller per predicate, built once: building it costs more than a small request.

        tenacity keeps a call's state per thread, so threads share it; a call nested inside another in the same
        thread (none does today) gets a controller of its own.
        """
        cached = self._controllers.get(when)
        if cached is not None and not getattr(self._busy, "on", False):
            return cached

        def before_sleep(state: tenacity.RetryCallState) -> None:
            self.stats.add("retries")

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(when),
            wait=self._wait,
            stop=self._stop,
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        if cached is None:
            self._controllers[when] = retrying
        return retrying

    def _stop(self, state: tenacity.RetryCallState) -> bool:
        """Stop at the last attempt, or when the next try would start (after its wait) at or past the deadline."""
        if state.attempt_number >= self.policy.attempts:
            return True
        return bool(self._clock() + state.upcoming_sleep >= self._busy.deadline_at)

    def _run(
        self,
        operation: Callable[[], T],
        *,
        when: Callable[[BaseException], bool] = _retryable,
        deadline_at: float | None = None,
    ) -> T:
        """Run ``operation`` with retries, starting no try at or after ``deadline_at`` (a ``clock`` time; by
        default the policy's deadline from now)."""
        retrying = self._retrying(when)
        nested = getattr(self._busy, "on", False)
        outer_deadline = getattr(self._busy, "deadline_at", None)
        self._busy.on = True
        self._busy.deadline_at = self._clock() + self.policy.deadline if deadline_at is None else deadline_at
        try:
            return retrying(operation)
        except ObjectStorageError as exc:
            if when(exc):
                self.stats.add("gave_up")
            raise
        finally:
            self._busy.on = nested
            self._busy.deadline_at = outer_deadline

    # --- reads ----------------------------------------------------------------------------------------------

    def head_object(self, prefix: str, key: str) -> ObjectInfo:
        return self._run(lambda: self.inner.head_object(prefix, key))

    def exists(self, prefix: str, key: str) -> bool:
        return self._run(lambda: self.inner.exists(prefix, key))

    def list_objects(self, prefix: str) -> list[str]:
        return self._run(lambda: self.inner.list_objects(prefix))

    def get_object(self, prefix: str, key: str) -> bytes:
        with self.get_object_stream(prefix, key) as stream:
            return stream.read()

    @contextmanager
    def get_object_stream(
        self, prefix: str, key: str, start: int | None = None, end: int | None = None
    ) -> Generator[BinaryIO, None, None]:
        with ExitStack() as stack:
            opened = self._run(lambda: self._open(stack, prefix, key, start, end))
            reader = _ResumingReader(self, stack, prefix, key, start, end, opened)
            with io.BufferedReader(reader, buffer_size=1024 * 1024) as buffered:
                yield buffered

    def iter_objects(
        self, prefix: str = "", recursive: bool = True, *, page_size: int | None = None
    ) -> Iterator[ObjectInfo]:
        """Restarts a listing that failed part-way and skips what it already gave (listings are in key order).

        Attempts and deadline count from the last entry given (a listing may rightly take longer than the
        deadline); time the caller spends between entries is not counted.
        """
        last: str | None = None
        patience = _Patience(self)
        while True:
            try:
                for info in self.inner.iter_objects(prefix, recursive, page_size=page_size):
                    if last is not None and info.key <= last:
                        continue
                    last = info.key
                    yield info
                    patience.resumed()
                return
            except ObjectStorageError as exc:
                patience.failed(exc)

    # --- writes ---------------------------------------------------------------------------------------------

    def put_object(self, prefix: str, key: str, content: bytes | bytearray | memoryview, **options: Any) -> None:
        def put() -> None:
            self.inner.put_object(prefix, key, content, **options)

        if options.get("if_none_match") or options.get("if_match"):
            self._run_conditional(prefix, key, put, lambda: hashlib.sha256(content).hexdigest())
        else:
            self._run(put)

    def put_object_stream(
        self,
        prefix: str,
        key: str,
        stream: IO[bytes] | BinaryIO | Any,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        if_none_match: str | None = None,
        if_match: str | None = None,
    ) -> ObjectInfo:
        def put() -> ObjectInfo:
            return self.inner.put_object_stream(
                prefix,
                key,
                stream,
                content_type=content_type,
                metadata=metadata,
                if_none_match=if_none_match,
                if_match=if_match,
            )

        if not is_seekable(stream):
            return put()  # a pipe cannot be sent twice: the first failure is final
        position = stream.tell()

        def from_the_start() -> ObjectInfo:
            stream.seek(position)
            return put()

        def sha256() -> str:
            stream.seek(position)
            digest = hashlib.sha256()
            while chunk := stream.read(1024 * 1024):
                digest.update(chunk)
            return digest.hexdigest()

        if if_none_match or if_match:
            return self._run_conditional(prefix, key, from_the_start, sha256)
        return self._run(from_the_start)

    def _run_conditional(self, prefix: str, key: str, put: Callable[[], T], sha256: Callable[[], str]) -> T | Any:
        """A conditional put (create-only, if-match), retried without ever overwriting someone else's change.

        Throttled tries never ran, so they are simply sent again. After any other retryable failure the try may
        have been applied; the retry then fails on its own effect (exists / etag changed). In that case the
        object is read back: if it holds exactly our content (its SHA-256), our earlier try did land and the put
        succeeded; anything else is a real conflict and is raised.
        """
        maybe_applied = [False]

        def attempt() -> T | ObjectInfo:
            try:
                return put()
            except (ObjectAlreadyExists, PreconditionFailed):
                if maybe_applied[0]:
                    landed = self.inner.head_object(prefix, key)
                    if landed.checksum_sha256 is not None and landed.checksum_sha256 == sha256():
                        return landed
                raise
            except ObjectStorageError as exc:
                if exc.retryable and not isinstance(exc, Throttled):
                    maybe_applied[0] = True
                raise

        return self._run(attempt)

    def copy_object(self, src_prefix: str, src_key: str, dst_prefix: str, dst_key: str) -> None:
        self._run(lambda: self.inner.copy_object(src_prefix, src_key, dst_prefix, dst_key))

    def delete_object(self, prefix: str, key: str) -> None:
        tried = [False]

        def delete() -> None:
            try:
                self.inner.delete_object(prefix, key)
            except ObjectNotFound:
                if not tried[0]:
                    raise
                # Not found after a failed try: that try deleted it.
            finally:
                tried[0] = True

        self._run(delete)

    def delete_objects(self, prefix: str, keys: Iterable[str]) -> DeleteResult:
        batch = list(keys)  # taken once: a retry must see the same keys (the caller may pass a generator)
        deadline_at = self._clock() + self.policy.deadline  # one deadline for the batch and its retries
        result = self._run(lambda: self.inner.delete_objects(prefix, batch), deadline_at=deadline_at)
        deleted = list(result.deleted)
        errors = dict(result.errors)
        for _ in range(self.policy.attempts - 1):
            again = [key for key, error in errors.items() if error.retryable]
            if not again or self._clock() >= deadline_at:
                break
            self.stats.add("retries")
            retry = self._run(
                lambda again=again: self.inner.delete_objects(prefix, again),  # type: ignore[misc]
                deadline_at=deadline_at,
            )
            deleted += retry.deleted
            errors = {key: error for key, error in errors.items() if key not in retry.deleted} | dict(retry.errors)
        return DeleteResult(tuple(deleted), errors)

    def _open(
        self, stack: ExitStack, prefix: str, key: str, start: int | None, end: int | None
    ) -> tuple[BinaryIO, str | None]:
        """Open a read and learn the version it reads, so a resumed read can insist on the same one.

        Stores that tag their streams (S3, GCS, Azure) cost nothing more after their first read; for the others
        a HEAD taken before each read pins the version. A suffix range (negative start) is not resumable.
        """
        resumable = start is None or start >= 0
        pinned = None
        if resumable and not self._streams_tagged:  # before the read: a version replaced meanwhile is caught
            pinned = self.inner.head_object(prefix, key).etag
        with ExitStack() as attempt:
            stream = attempt.enter_context(self.inner.get_object_stream(prefix, key, start, end))
            etag = stream_etag(stream)
            if resumable and etag is not None:
                self._streams_tagged = True
                if pinned is not None and pinned != etag:
                    raise TransientError("the object was replaced as the read began", key=key)
            elif resumable and pinned is None:  # a store that tags its streams gave an untagged one
                pinned = self.inner.head_object(prefix, key).etag
            stack.enter_context(attempt.pop_all())
        return stream, (etag or pinned) if resumable else None


class _Patience:
    """The retry budget of an operation that makes progress between failures (a listing, a long read).

    Attempts and the deadline count from the moment the caller last asked for more after progress (an entry or
    bytes delivered), so a long listing or read may take any time in all, while one that stops moving gives up
    within the deadline (plus the one timeout of a try already under way).
    """

    def __init__(self, layer: RetryingAdapter) -> None:
        self._layer = layer
        self.failures = 0
        self.since = layer._clock()

    @property
    def deadline_at(self) -> float:
        return self.since + self._layer.policy.deadline

    def resumed(self) -> None:
        """The operation made progress and the caller asks for more: a new budget starts now."""
        self.failures = 0
        self.since = self._layer._clock()

    def failed(self, exc: ObjectStorageError) -> None:
        """Wait before trying again, or raise ``exc`` if it is not retryable or the budget is spent."""
        layer, policy = self._layer, self._layer.policy
        self.failures += 1
        if not exc.retryable:
            raise exc
        delay = backoff_delay(self.failures, exc, base=policy.base, max_wait=policy.max_wait, rng=layer._random)
        if self.failures >= policy.attempts or layer._clock() + delay >= self.deadline_at:
            layer.stats.add("gave_up")
            raise exc
        layer.stats.add("retries")
        layer._sleep(delay)


class _ResumingReader(io.RawIOBase):
    """Reads through a stream; if it breaks with a retryable error, reopens at the byte reached, same version."""

    def __init__(
        self,
        layer: RetryingAdapter,
        stack: ExitStack,
        prefix: str,
        key: str,
        start: int | None,
        end: int | None,
        opened: tuple[BinaryIO, str | None],
    ) -> None:
        super().__init__()
        self._layer, self._stack = layer, stack
        self._prefix, self._key, self._start, self._end = prefix, key, start, end
        self._stream, self._etag = opened
        self._delivered = 0
        self._patience = _Patience(layer)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        self._patience.resumed()
        while True:
            try:
                n = _read_into(self._stream, view)
            except ObjectStorageError as exc:
                self._resume(exc)
                continue
            self._delivered += n
            return n

    def _resume(self, exc: ObjectStorageError) -> None:
        if self._etag is None:
            raise exc
        self._patience.failed(exc)  # waits, or raises when the error is final or the budget spent
        deadline_at = self._patience.deadline_at
        current = self._layer._run(
            lambda: self._layer.inner.head_object(self._prefix, self._key), deadline_at=deadline_at
        )
        if current.etag != self._etag:
            raise TransientError("the object was replaced while it was being read", key=exc.key) from exc
        offset = (self._start or 0) + self._delivered
        self._stream = self._layer._run(
            lambda: self._stack.enter_context(
                self._layer.inner.get_object_stream(self._prefix, self._key, offset, self._end)
            ),
            deadline_at=deadline_at,
        )


def _read_into(stream: Any, view: memoryview) -> int:
    """Fill ``view`` from ``stream`` straight into the caller's buffer where it can (no intermediate copy)."""
    readinto = getattr(stream, "readinto", None)
    if readinto is not None:
        return int(readinto(view) or 0)
    data = stream.read(len(view))
    view[: len(data)] = data
    return len(data)
