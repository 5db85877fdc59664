"""The domain: the service applications call, errors, keys and value objects. No adapter, no SDK."""

from __future__ import annotations

from objstore.domain.errors import (
    AuthenticationError,
    ConfigurationError,
    CredentialsExpired,
    IntegrityError,
    InvalidKey,
    InvalidMetadata,
    NotSupported,
    ObjectAlreadyExists,
    ObjectNotFound,
    ObjectStorageError,
    PermissionDenied,
    PreconditionFailed,
    ProtocolError,
    Throttled,
    TransientError,
)
from objstore.domain.models import Capabilities, DeleteResult, ObjectInfo
from objstore.domain.service import ObjectStorageService

__all__ = [
    "AuthenticationError",
    "Capabilities",
    "ConfigurationError",
    "CredentialsExpired",
    "DeleteResult",
    "IntegrityError",
    "InvalidKey",
    "InvalidMetadata",
    "NotSupported",
    "ObjectAlreadyExists",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectStorageError",
    "ObjectStorageService",
    "PermissionDenied",
    "PreconditionFailed",
    "ProtocolError",
    "Throttled",
    "TransientError",
]
