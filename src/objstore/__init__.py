"""objstore: one clean API over every object store, and a folder sync you can trust.

Typical use::

    from objstore import ObjectStorageFactory

    store = ObjectStorageFactory.from_url("file:///srv/data")
    store.put_object("reports", "2026/summary.json", b"{}")
"""

from __future__ import annotations

from objstore.domain import (
    AuthenticationError,
    Capabilities,
    ConfigurationError,
    CredentialsExpired,
    DeleteResult,
    IntegrityError,
    InvalidKey,
    InvalidMetadata,
    NotSupported,
    ObjectAlreadyExists,
    ObjectInfo,
    ObjectNotFound,
    ObjectStorageError,
    ObjectStorageService,
    PermissionDenied,
    PreconditionFailed,
    ProtocolError,
    Throttled,
    TransientError,
)
from objstore.domain.sync.engine import SyncReport, sync
from objstore.factory import ObjectStorageFactory
from objstore.ports import Exceptions, IObjectStorageAdapter, IObjectStorageDomain

__version__ = "0.1.0"

__all__ = [
    "AuthenticationError",
    "Capabilities",
    "ConfigurationError",
    "CredentialsExpired",
    "DeleteResult",
    "Exceptions",
    "IObjectStorageAdapter",
    "IObjectStorageDomain",
    "IntegrityError",
    "InvalidKey",
    "InvalidMetadata",
    "NotSupported",
    "ObjectAlreadyExists",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectStorageError",
    "ObjectStorageFactory",
    "ObjectStorageService",
    "PermissionDenied",
    "PreconditionFailed",
    "ProtocolError",
    "SyncReport",
    "Throttled",
    "TransientError",
    "__version__",
    "sync",
]
