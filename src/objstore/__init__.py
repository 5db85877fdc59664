"""objstore: one clean API over every object store, and a folder sync you can trust.

Typical use::

    from objstore import ObjectStorageFactory

    store = ObjectStorageFactory.from_url("file:///srv/data")
    store.put_object("reports", "2026/summary.json", b"{}")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
from objstore.factory import ObjectStorageFactory
from objstore.ports import Exceptions, IObjectStorageAdapter, IObjectStorageDomain

if TYPE_CHECKING:
    from objstore.syncing.api import sync
    from objstore.syncing.report import SyncReport

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


def __getattr__(name: str) -> object:
    """``sync`` and ``SyncReport``: the sync application is imported when first used, not with the package.

    ``objstore.sync`` is the function :func:`objstore.syncing.api.sync`.
    """
    if name == "sync":
        from objstore.syncing.api import sync

        return sync
    if name == "SyncReport":
        from objstore.syncing.report import SyncReport

        return SyncReport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
