"""RetryingAdapter: retries what is safe to retry, with full-jitter backoff, Retry-After and a total deadline."""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import random
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import IO, Any, TypeVar, cast

import tenacity

from objstore.adapters.transfer import retrying_parts
from objstore.domain.backoff import backoff_delay
from objstore.domain.errors import (
    IntegrityError,
    ObjectAlreadyExists,
    ObjectNotFound,
    ObjectStorageError,
    PreconditionFailed,
    Throttled,
    TransientError,
)
from objstore.domain.models import DeleteResult, ListOptions, ObjectInfo, OpenedObject, ReadOptions, WriteOptions
from objstore.domain.streams import CHUNK_SIZE, is_seekable, resolve_range
from objstore.ports.storage import IObjectStorageAdapter, LayerAdapter, Readable

__all__ = ["RetryPolicy", "RetryStats", "RetryingAdapter"]

T = TypeVar("T")

# One record per retry, as it is about to wait: ``objstore -v`` prints them ("retry 3/9 in 1.2 s: ...").
retry_log = logging.getLogger("objstore.retry")


@dataclass(frozen=True)
class RetryPolicy:
    """How the retry layer retries.

    Attributes:
        attempts: Tries in all, the first included.
        deadline: Seconds after the first try when no new try starts: a try that would start (after its backoff)
            at or past the deadline is not made. With every store's timeouts, an operation therefore ends within
            the deadline plus one timeout. For operations that make progress and may rightly run longer than the
            deadline (listings, reads, the parts of a large upload), it counts from the last progress (an entry or
            bytes delivered, a part's first try) instead of the first try.
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
    """Worth another try: marked retryable, and not already given up on (by a layer or part retry below)."""
    return isinstance(error, ObjectStorageError) and error.retryable and not error.retries_exhausted


class RetryingAdapter(LayerAdapter):
    """Wraps any adapter and retries the failures marked retryable, where retrying is safe.

    - Heads, copies, unconditional puts, presigns and batch deletes are retried on any retryable error
      (throttling, 5xx, timeouts, resets, expired credentials the store renews, integrity errors in transit).
    - A conditional put (create-only, if-match) is retried too: the precondition stops it from overwriting
      anyone's change, and if a retry fails on the effect of an earlier try that did land (the object now holds
      exactly our content), the put succeeded.
    - A streamed put is retried whole only if its source can seek back to where it started. The parts of a
      large upload (S3 multipart, Azure blocks) are sent again alone, from memory, with this layer's policy:
      the adapters retry no part themselves (see :func:`objstore.adapters.transfer.retrying_parts`).
    - A read that fails part-way resumes at the byte it reached, on the version the read began with (the etag
      ``open_object`` returned; no HEAD is asked). If the object was replaced meanwhile, the read fails with
      ``TransientError`` rather than mixing versions.
    - A listing that fails part-way restarts and skips what it already gave (listings are in key order).
    - A delete retried after it did take effect is not reported as "not found"; a batch delete sends again the
      keys that failed retryably.

    Waits follow full-jitter exponential backoff, never shorter than the store's Retry-After, and stop at the
    policy's attempts or deadline, whichever comes first; no try starts at or after the deadline. An error the
    layer gave up on is marked (``retries_exhausted``, ``attempts``), and no layer above retries it again.
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
        self._controllers: dict[Callable[[BaseException], bool], tenacity.Retrying] = {}
        self._busy = threading.local()
        self._parts = _PartRetrier(self)

    def __repr__(self) -> str:
        return f"RetryingAdapter({self.inner!r})"

    def counters(self) -> dict[str, int]:
        return {"retries": self.stats.retries, "retries_exhausted": self.stats.gave_up}

    # --- the mechanism for calls that make no progress: tenacity, one deadline from the first try -----------

    def _wait(self, state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        return self._delay(state.attempt_number, error)

    def _delay(self, failures: int, error: BaseException | None) -> float:
        """The wait after ``failures`` failed tries in a row, the last one failing with ``error``."""
        return backoff_delay(failures, error, base=self.policy.base, max_wait=self.policy.max_wait, rng=self._random)

    def _retrying(self, when: Callable[[BaseException], bool], nested: bool = False) -> tenacity.Retrying:
        """One tenacity controller per predicate, built once: building it costs more than a small request.

        tenacity keeps a call's state per thread, so threads share it; a call nested inside another in the same
        thread gets a controller of its own.
        """
        cached = self._controllers.get(when)
        if cached is not None and not nested:
            return cached

        def before_sleep(state: tenacity.RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome is not None else None
            self.note_retry(state.attempt_number, state.upcoming_sleep, error)

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

    def note_retry(self, failures: int, wait: float, error: BaseException | None) -> None:
        """Count a retry about to wait ``wait`` seconds after ``failures`` failed tries, and log it."""
        self.stats.add("retries")
        if retry_log.isEnabledFor(logging.INFO):
            retry_log.info(
                "retry %d/%d in %.1f s: %s",
                failures,
                self.policy.attempts - 1,
                wait,
                error,
                extra={"attempt": failures, "wait": wait, "error": error},
            )

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
        default the policy's deadline from now). An error given up on is marked with the tries made.

        The first try runs without the retry controller (most calls succeed at once, and the controller's
        bookkeeping costs about as much as a small request's CPU); only a retryable failure enters it.
        """
        nested = getattr(self._busy, "on", False)
        outer_deadline = getattr(self._busy, "deadline_at", None)
        self._busy.on = True
        self._busy.deadline_at = self._clock() + self.policy.deadline if deadline_at is None else deadline_at
        try:
            try:
                return operation()
            except ObjectStorageError as exc:
                if not when(exc):
                    raise
                first: ObjectStorageError | None = exc
            return self._retry_after(first, operation, when, nested)
        finally:
            self._busy.on = nested
            self._busy.deadline_at = outer_deadline

    def _retry_after(
        self,
        first: ObjectStorageError | None,
        operation: Callable[[], T],
        when: Callable[[BaseException], bool],
        nested: bool,
    ) -> T:
        """The controller's tries after a first try failed with ``first`` (replayed as its first attempt)."""
        retrying = self._retrying(when, nested)
        tries = 1

        def attempt() -> T:
            nonlocal tries, first
            if first is not None:
                failed, first = first, None
                raise failed
            tries += 1
            return operation()

        try:
            return retrying(attempt)
        except ObjectStorageError as exc:
            if when(exc):
                self.stats.add("gave_up")
                exc.mark_exhausted(tries)
            elif tries > 1 and not exc.retries_exhausted:
                exc.attempts = tries
            raise

    # --- the primitives -------------------------------------------------------------------------------------

    def head_object(self, prefix: str, key: str) -> ObjectInfo:
        return self._run(lambda: self.inner.head_object(prefix, key))

    @contextmanager
    def open_object(self, prefix: str, key: str, options: ReadOptions) -> Generator[OpenedObject, None, None]:
        reader = _ResumingReader(self, prefix, key, options)
        with reader:  # closes the store's stream, even if the buffered reader is never made
            info = reader.open()
            with io.BufferedReader(reader, buffer_size=CHUNK_SIZE) as buffered:
                yield OpenedObject(info, buffered)

    def scan_objects(self, prefix: str, options: ListOptions) -> Iterator[ObjectInfo]:
        """Restarts a listing that failed part-way and skips what it already gave (listings are in key order).

        Attempts and deadline count from the last entry given (a listing may rightly take longer than the
        deadline); time the caller spends between entries is not counted.
        """
        last: str | None = None
        patience = _Patience(self)
        while True:
            try:
                for info in self.inner.scan_objects(prefix, options):
                    if last is not None and info.key <= last:
                        continue
                    last = info.key
                    yield info
                    patience.resumed()
                return
            except ObjectStorageError as exc:
                patience.failed(exc)

    def write_object(self, prefix: str, key: str, stream: Readable, options: WriteOptions) -> ObjectInfo:
        with retrying_parts(self._parts):
            if not is_seekable(stream):
                # A pipe cannot be sent twice: the first failure is final (its parts are still retried).
                return self.inner.write_object(prefix, key, stream, options)
            source = cast(IO[bytes], stream)
            position = source.tell()

            def from_the_start() -> ObjectInfo:
                source.seek(position)
                return self.inner.write_object(prefix, key, source, options)

            if not options.conditional:
                return self._run(from_the_start)

            def sha256() -> str:
                source.seek(position)
                digest = hashlib.sha256()
                while chunk := source.read(CHUNK_SIZE):
                    digest.update(chunk)
                return digest.hexdigest()

            return self._run_conditional(prefix, key, from_the_start, sha256)

    def _run_conditional(
        self, prefix: str, key: str, put: Callable[[], ObjectInfo], sha256: Callable[[], str]
    ) -> ObjectInfo:
        """A conditional put (create-only, if-match), retried without ever overwriting someone else's change.

        Throttled tries never ran, so they are simply sent again. After any other retryable failure the try may
        have been applied; the retry then fails on its own effect (exists / etag changed). In that case the
        object is read back: if it holds exactly our content (its SHA-256), our earlier try did land and the put
        succeeded; anything else is a real conflict and is raised.
        """
        maybe_applied = False

        def attempt() -> ObjectInfo:
            nonlocal maybe_applied
            try:
                return put()
            except (ObjectAlreadyExists, PreconditionFailed):
                if maybe_applied:
                    landed = self.inner.head_object(prefix, key)
                    if landed.checksum_sha256 is not None and landed.checksum_sha256 == sha256():
                        return landed
                raise
            except ObjectStorageError as exc:
                if exc.retryable and not isinstance(exc, Throttled):
                    maybe_applied = True
                raise

        return self._run(attempt)

    def delete_object(self, prefix: str, key: str) -> None:
        tried = False

        def delete() -> None:
            nonlocal tried
            try:
                self.inner.delete_object(prefix, key)
            except ObjectNotFound:
                if not tried:
                    raise
                # Not found after a failed try: that try deleted it.
            finally:
                tried = True

        self._run(delete)

    def copy_object(self, src_prefix: str, src_key: str, dst_prefix: str, dst_key: str) -> None:
        with retrying_parts(self._parts):  # a copy through this process may upload in parts
            self._run(lambda: self.inner.copy_object(src_prefix, src_key, dst_prefix, dst_key))

    def delete_objects(self, prefix: str, keys: Iterable[str]) -> DeleteResult:
        batch = _BatchDelete(self.inner, prefix, list(keys))  # keys taken once: a retry sends the same ones
        try:
            self._run(batch.attempt)
        except _KeysLeft:
            batch.give_up()
        except ObjectStorageError as exc:
            if not batch.started:
                raise
            batch.give_up(exc)  # some keys are gone already: report the rest as failed, as the port says
        return batch.result()

    def presign_url(self, prefix: str, key: str, *, expires_in: int = 3600, method: str = "GET") -> str:
        return self._run(lambda: self.inner.presign_url(prefix, key, expires_in=expires_in, method=method))


class _PartRetrier:
    """Sends one failed part of a large upload again: each part has the layer's attempts and deadline, from its
    own first try (an upload makes progress part by part, and may rightly run longer than the deadline)."""

    def __init__(self, layer: RetryingAdapter) -> None:
        self._layer = layer

    def __call__(self, send: Callable[[], T], /) -> T:
        return self._layer._run(send)


class _KeysLeft(ObjectStorageError):
    """Some keys of a batch delete failed retryably: the batch is tried again for them."""

    default_retryable = True


class _BatchDelete:
    """A batch delete across its tries: what is deleted, what failed, and what is still to be sent again."""

    def __init__(self, inner: IObjectStorageAdapter, prefix: str, keys: list[str]) -> None:
        self._inner, self._prefix = inner, prefix
        self.pending = keys
        self.deleted: list[str] = []
        self.errors: dict[str, ObjectStorageError] = {}
        self.tries = 0

    @property
    def started(self) -> bool:
        """Whether some try got an answer (so some keys may already be gone)."""
        return bool(self.deleted or self.errors)

    def attempt(self) -> None:
        self.tries += 1
        result = self._inner.delete_objects(self._prefix, self.pending)
        self.deleted += result.deleted
        for key in result.deleted:
            self.errors.pop(key, None)
        self.errors.update(result.errors)
        self.pending = [key for key, error in result.errors.items() if _retryable(error)]
        if self.pending:
            waits = [self.errors[key].retry_after or 0.0 for key in self.pending]
            raise _KeysLeft(f"{len(self.pending)} keys failed retryably", retry_after=max(waits))

    def give_up(self, error: ObjectStorageError | None = None) -> None:
        """The tries ran out: the keys still pending keep their last error (or take ``error``), marked as such."""
        for key in self.pending:
            if error is not None:
                self.errors[key] = error
            else:
                self.errors[key].mark_exhausted(self.tries)

    def result(self) -> DeleteResult:
        return DeleteResult(tuple(self.deleted), self.errors)


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
        layer = self._layer
        self.failures += 1
        if not _retryable(exc):
            raise exc
        delay = layer._delay(self.failures, exc)
        if self.failures >= layer.policy.attempts or layer._clock() + delay >= self.deadline_at:
            layer.stats.add("gave_up")
            raise exc.mark_exhausted(self.failures)
        layer.note_retry(self.failures, delay, exc)
        layer._sleep(delay)


class _ResumingReader(io.RawIOBase):
    """Reads through a store's stream; if it breaks with a retryable error, reopens at the byte reached, on the
    version the read began with (the etag of the first ``open_object``)."""

    def __init__(self, layer: RetryingAdapter, prefix: str, key: str, options: ReadOptions) -> None:
        super().__init__()
        self._layer = layer
        self._prefix, self._key, self._options = prefix, key, options
        self._opened = ExitStack()  # the store's read under way
        self._stream: Any = None
        self._etag: str | None = None
        self._first: int | None = None  # where the range starts in the object; None: the read cannot resume
        self._stop = 0
        self._delivered = 0
        self._patience = _Patience(layer)

    def open(self) -> ObjectInfo:
        """Open the read (with retries) and pin the version it reads."""
        opened = self._layer._run(lambda: self._enter(self._options))
        info, options = opened.info, self._options
        self._etag = info.etag
        self._first, self._stop = resolve_range(options.start, options.end, info.size)
        if info.etag is None:
            self._first = None  # nothing to hold a resumed read to
        elif options.start is None or options.start >= 0:
            self._first = options.start or 0  # as asked: the whole size matters only for a suffix range
        return info

    def _enter(self, options: ReadOptions) -> OpenedObject:
        with ExitStack() as attempt:
            opened = attempt.enter_context(self._layer.inner.open_object(self._prefix, self._key, options))
            self._opened = attempt.pop_all()
        self._stream = opened.stream
        return opened

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
        if self._first is None:
            raise exc
        offset = self._first + self._delivered
        if isinstance(exc, IntegrityError) and offset >= self._stop:
            raise exc  # what was delivered does not check out: reading on cannot mend it
        self._patience.failed(exc)  # waits, or raises when the error is final or the budget spent
        self._close_read()
        options = ReadOptions(offset, self._options.end)
        reopened = self._layer._run(lambda: self._enter(options), deadline_at=self._patience.deadline_at)
        if reopened.info.etag != self._etag:
            raise TransientError("the object was replaced while it was being read", key=exc.key) from exc

    def _close_read(self) -> None:
        """Close the broken read before opening the next (a concurrency limit below may have one slot)."""
        opened, self._opened = self._opened, ExitStack()
        with contextlib.suppress(ObjectStorageError, OSError):
            opened.close()

    def close(self) -> None:
        if not self.closed:
            self._opened.close()
        super().close()


def _read_into(stream: Any, view: memoryview) -> int:
    """Fill ``view`` from ``stream`` straight into the caller's buffer where it can (no intermediate copy)."""
    readinto = getattr(stream, "readinto", None)
    if readinto is not None:
        return int(readinto(view) or 0)
    data = stream.read(len(view))
    view[: len(data)] = data
    return len(data)
