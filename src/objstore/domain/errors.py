"""One error hierarchy for every store.

Every error raised by objstore derives from :class:`ObjectStorageError`, and each subclass also derives from
the matching built-in exception, so ``except FileNotFoundError`` keeps working for pathlib-style callers while
``except ObjectStorageError`` catches everything objstore raises. Adapters translate provider errors into these
classes once, at their boundary, with ``raise ... from exc`` so the provider's own error stays attached.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "CredentialsExpired",
    "IntegrityError",
    "InvalidKey",
    "InvalidMetadata",
    "NotSupported",
    "ObjectAlreadyExists",
    "ObjectNotFound",
    "ObjectStorageError",
    "PermissionDenied",
    "PreconditionFailed",
    "ProtocolError",
    "Throttled",
    "TransientError",
]


class ObjectStorageError(Exception):
    """Base of every error objstore raises.

    Attributes:
        message: What went wrong, in words a user can act on. Never contains a secret.
        operation: The port operation that failed (``"get_object"``, ``"put_object_stream"``, ...).
        adapter: The adapter's name (``"filesystem"``, ``"s3"``, ...).
        key: The object key relative to the store's root, where one applies.
        request_id: The provider's request id, where the provider gave one.
        status: The provider's HTTP status, where there is one.
        retryable: Whether trying the same call again may succeed.
        retry_after: Seconds the provider asked us to wait before retrying, if it said.
        attempts: Tries made of the failing call (more than one when the retry layer tried it again).
        retries_exhausted: The retry layer gave up on this retryable error: it ran out of tries or of time. A
            caller should not retry it again at once (the layer already did, as far as its policy allows).
    """

    default_retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        operation: str | None = None,
        adapter: str | None = None,
        key: str | None = None,
        request_id: str | None = None,
        status: int | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
        attempts: int = 1,
        retries_exhausted: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.operation = operation
        self.adapter = adapter
        self.key = key
        self.request_id = request_id
        self.status = status
        self.retryable = self.default_retryable if retryable is None else retryable
        self.retry_after = retry_after
        self.attempts = attempts
        self.retries_exhausted = retries_exhausted

    def mark_exhausted(self, attempts: int) -> ObjectStorageError:
        """Mark the error as one the retry layer gave up on after ``attempts`` tries, and return it."""
        self.attempts = attempts
        self.retries_exhausted = True
        return self

    def _context(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "adapter": self.adapter,
            "key": self.key,
            "request_id": self.request_id,
            "status": self.status,
            "retryable": self.retryable,
            "retry_after": self.retry_after,
            "attempts": self.attempts,
            "retries_exhausted": self.retries_exhausted,
        }

    def with_context(self, **context: Any) -> ObjectStorageError:
        """Fill in context fields that are still unset, and return the same error."""
        for name, value in context.items():
            if value is not None and getattr(self, name, None) is None:
                setattr(self, name, value)
        return self

    def __str__(self) -> str:
        where = []
        if self.adapter:
            where.append(self.adapter)
        if self.operation:
            where.append(self.operation)
        if self.key is not None:
            where.append(repr(self.key))
        text = f"{self.message} [{' '.join(where)}]" if where else self.message
        if self.request_id:
            text += f" (request id {self.request_id})"
        if self.retries_exhausted:
            text += f" (gave up after {self.attempts} {'try' if self.attempts == 1 else 'tries'})"
        return text

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only context would be lost by the default pickling of exceptions (multiprocessing, logging).
        return (_rebuild_error, (type(self), self.message, self._context()))


def _rebuild_error(cls: type[ObjectStorageError], message: str, context: dict[str, Any]) -> ObjectStorageError:
    return cls(message, **context)


class ObjectNotFound(ObjectStorageError, FileNotFoundError):
    """The object does not exist."""


class ObjectAlreadyExists(ObjectStorageError, FileExistsError):
    """A create-only put found the object already there, or the key collides with an existing object."""


class PermissionDenied(ObjectStorageError, PermissionError):
    """The store refused the operation for these credentials, or the path leaves the store's root."""


class InvalidKey(ObjectStorageError, ValueError):
    """The key or prefix is not acceptable (empty segment, traversal, control characters, too long, ...)."""


class InvalidMetadata(ObjectStorageError, ValueError):
    """User metadata or content type that not every store can keep exactly."""


class ConfigurationError(ObjectStorageError, ValueError):
    """The store is misconfigured: unknown option, missing bucket, missing optional dependency, bad URL."""


class NotSupported(ObjectStorageError, NotImplementedError):
    """The store does not have this capability (see ``adapter.capabilities``)."""


class PreconditionFailed(ObjectStorageError):
    """A conditional put's ``if_match`` did not match: the object changed or is gone."""


class AuthenticationError(ObjectStorageError, PermissionError):
    """The credentials were rejected (unknown key, bad signature, bad API key)."""


class CredentialsExpired(AuthenticationError):
    """Temporary credentials expired; renewing them and retrying may succeed."""

    default_retryable = True


class Throttled(ObjectStorageError):
    """The store asked us to slow down (HTTP 429, 503 SlowDown)."""

    default_retryable = True


class TransientError(ObjectStorageError, ConnectionError):
    """A failure that may pass: 5xx, timeout, connection reset, a transfer cut off part-way."""

    default_retryable = True


class IntegrityError(ObjectStorageError):
    """Data read back does not match its checksum or expected size."""

    default_retryable = True


class ProtocolError(ObjectStorageError):
    """The store answered against its own protocol: a listing that repeats a page's continuation token (and so
    would loop forever), names keys outside the prefix that was asked for, or says it is truncated without saying
    where to go on. Not retryable: asking the same store again gets the same answer."""
