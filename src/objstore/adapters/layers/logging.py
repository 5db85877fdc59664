"""LoggingAdapter: one structured line per operation on the standard ``logging`` module, secrets masked."""

from __future__ import annotations

import io
import logging
import re
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, BinaryIO, TypeVar

from objstore.domain.errors import ObjectStorageError
from objstore.domain.models import DeleteResult, ListOptions, ObjectInfo, OpenedObject, ReadOptions, WriteOptions
from objstore.ports.storage import IObjectStorageAdapter, LayerAdapter, Readable

__all__ = ["LoggingAdapter", "redact"]

T = TypeVar("T")

# What a secret looks like where one could slip into text: signed-URL and header parameters, connection strings.
_SECRETS = re.compile(
    r"(?i)((?:x-amz-signature|x-amz-security-token|x-goog-signature|sig|signature|accountkey|sharedaccesssignature"
    r"|password|secret[_-]?key|secret_access_key|token|authorization)[\"']?\s*[=:]\s*[\"']?(?:bearer\s+)?)"
    r"[^&;,\s\"']+"
)


def redact(text: str) -> str:
    """Mask the values of secret-looking parameters (signatures, tokens, keys, passwords) in a text."""
    return _SECRETS.sub(r"\1***", text)


class LoggingAdapter(LayerAdapter):
    """Logs each operation: ``op=… adapter=… key=… bytes=… ms=… outcome=…`` (with the request id on failures).

    Every primitive is logged under its own name, whatever call of the application made it: ``exists`` shows as
    its ``head_object``, ``get_object`` as its ``open_object`` (with the bytes read), ``list_objects`` as its
    ``scan_objects``. A read is logged when its stream is closed, a listing when it ends.

    Successes at DEBUG, retryable failures at WARNING, other failures at ERROR, a missing object at DEBUG (it is an
    answer, not a fault). Log records carry the same fields as ``extra`` attributes for structured handlers.
    """

    def __init__(self, inner: IObjectStorageAdapter, logger: logging.Logger | str = "objstore.operations") -> None:
        super().__init__(inner)
        self.logger = logging.getLogger(logger) if isinstance(logger, str) else logger
        self.name = inner.name

    def __repr__(self) -> str:
        return f"LoggingAdapter({self.inner!r})"

    def _log(self, operation: str, key: str | None, call: Callable[[], T], size: Callable[[T], int] = lambda _: 0) -> T:
        started = time.perf_counter()
        try:
            result = call()
        except ObjectStorageError as exc:
            self._line(operation, key, 0, started, type(exc).__name__, exc)
            raise
        self._line(operation, key, size(result), started, "ok", None)
        return result

    def _line(
        self, operation: str, key: str | None, size: int, started: float, outcome: str, error: ObjectStorageError | None
    ) -> None:
        ms = (time.perf_counter() - started) * 1000
        fields = {
            "op": operation,
            "adapter": self.name,
            "key": key,
            "bytes": size,
            "ms": round(ms, 1),
            "outcome": outcome,
        }
        if error is None or outcome == "ObjectNotFound":
            level = logging.DEBUG
        else:
            level = logging.WARNING if error.retryable else logging.ERROR
            fields["request_id"] = error.request_id
            fields["error"] = redact(error.message)
        if self.logger.isEnabledFor(level):
            text = " ".join(f"{name}={value}" for name, value in fields.items() if value is not None)
            self.logger.log(level, redact(text), extra={"objstore": fields})

    def head_object(self, prefix: str, key: str) -> ObjectInfo:
        return self._log("head_object", key, lambda: self.inner.head_object(prefix, key))

    @contextmanager
    def open_object(self, prefix: str, key: str, options: ReadOptions) -> Generator[OpenedObject, None, None]:
        """One line when the read ends (its stream is closed): the bytes read, and the read's error if it failed."""
        started = time.perf_counter()
        with ExitStack() as stack:
            try:
                opened = stack.enter_context(self.inner.open_object(prefix, key, options))
            except ObjectStorageError as exc:
                self._line("open_object", key, 0, started, type(exc).__name__, exc)
                raise
            counted = _CountingReader(opened.stream)
            try:
                with io.BufferedReader(counted) as stream:
                    yield OpenedObject(opened.info, stream)
            finally:
                error = counted.error
                outcome = "ok" if error is None else type(error).__name__
                self._line("open_object", key, counted.count, started, outcome, error)

    def write_object(self, prefix: str, key: str, stream: Readable, options: WriteOptions) -> ObjectInfo:
        return self._log("write_object", key, lambda: self.inner.write_object(prefix, key, stream, options), _size)

    def delete_object(self, prefix: str, key: str) -> None:
        self._log("delete_object", key, lambda: self.inner.delete_object(prefix, key))

    def scan_objects(self, prefix: str, options: ListOptions) -> Iterator[ObjectInfo]:
        started = time.perf_counter()
        count = 0
        try:
            for info in self.inner.scan_objects(prefix, options):
                count += 1
                yield info
        except ObjectStorageError as exc:
            self._line("scan_objects", prefix or None, 0, started, type(exc).__name__, exc)
            raise
        except GeneratorExit:  # the caller stopped early
            self._line("scan_objects", prefix or None, 0, started, f"closed ({count} entries)", None)
            raise
        self._line("scan_objects", prefix or None, 0, started, f"ok ({count} entries)", None)

    def copy_object(self, src_prefix: str, src_key: str, dst_prefix: str, dst_key: str) -> None:
        self._log("copy_object", src_key, lambda: self.inner.copy_object(src_prefix, src_key, dst_prefix, dst_key))

    def delete_objects(self, prefix: str, keys: Iterable[str]) -> DeleteResult:
        return self._log("delete_objects", prefix or None, lambda: self.inner.delete_objects(prefix, keys))

    def presign_url(self, prefix: str, key: str, *, expires_in: int = 3600, method: str = "GET") -> str:
        # The URL itself is a credential: it is never logged.
        return self._log(
            "presign_url", key, lambda: self.inner.presign_url(prefix, key, expires_in=expires_in, method=method)
        )


def _size(info: ObjectInfo) -> int:
    return info.size


class _CountingReader(io.RawIOBase):
    """A read's stream that counts the bytes delivered and keeps the error it failed with, for the log line."""

    def __init__(self, stream: BinaryIO) -> None:
        super().__init__()
        self._stream = stream
        self.count = 0
        self.error: ObjectStorageError | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        try:
            readinto = getattr(self._stream, "readinto", None)
            if readinto is not None:
                n = int(readinto(view) or 0)
            else:
                data = self._stream.read(len(view))
                n = len(data)
                view[:n] = data
        except ObjectStorageError as exc:
            self.error = exc
            raise
        self.count += n
        return n

    def readall(self) -> bytes:
        try:
            data = self._stream.read()
        except ObjectStorageError as exc:
            self.error = exc
            raise
        self.count += len(data)
        return data
