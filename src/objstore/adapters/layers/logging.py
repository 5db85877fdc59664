"""LoggingAdapter: one structured line per operation on the standard ``logging`` module, secrets masked."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO, TypeVar

from objstore.domain.errors import ObjectStorageError
from objstore.domain.models import DeleteResult, ObjectInfo
from objstore.ports.storage import IObjectStorageAdapter, LayerAdapter

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

    def get_object(self, prefix: str, key: str) -> bytes:
        return self._log("get_object", key, lambda: self.inner.get_object(prefix, key), len)

    @contextmanager
    def get_object_stream(
        self, prefix: str, key: str, start: int | None = None, end: int | None = None
    ) -> Generator[BinaryIO, None, None]:
        started = time.perf_counter()
        try:
            with self.inner.get_object_stream(prefix, key, start, end) as stream:
                yield stream
        except ObjectStorageError as exc:
            self._line("get_object_stream", key, 0, started, type(exc).__name__, exc)
            raise
        self._line("get_object_stream", key, 0, started, "ok", None)

    def put_object(self, prefix: str, key: str, content: Any, **options: Any) -> None:
        self._log("put_object", key, lambda: self.inner.put_object(prefix, key, content, **options))

    def put_object_stream(self, prefix: str, key: str, stream: Any, **options: Any) -> ObjectInfo:
        return self._log(
            "put_object_stream",
            key,
            lambda: self.inner.put_object_stream(prefix, key, stream, **options),
            lambda i: i.size,
        )

    def delete_object(self, prefix: str, key: str) -> None:
        self._log("delete_object", key, lambda: self.inner.delete_object(prefix, key))

    def delete_objects(self, prefix: str, keys: Iterable[str]) -> DeleteResult:
        return self._log("delete_objects", prefix or None, lambda: self.inner.delete_objects(prefix, keys))

    def copy_object(self, src_prefix: str, src_key: str, dst_prefix: str, dst_key: str) -> None:
        self._log("copy_object", src_key, lambda: self.inner.copy_object(src_prefix, src_key, dst_prefix, dst_key))

    def iter_objects(
        self, prefix: str = "", recursive: bool = True, *, page_size: int | None = None
    ) -> Iterator[ObjectInfo]:
        started = time.perf_counter()
        count = 0
        try:
            for info in self.inner.iter_objects(prefix, recursive, page_size=page_size):
                count += 1
                yield info
        except ObjectStorageError as exc:
            self._line("iter_objects", prefix or None, 0, started, type(exc).__name__, exc)
            raise
        self._line("iter_objects", prefix or None, 0, started, f"ok ({count} entries)", None)
