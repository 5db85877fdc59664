"""Ports: the interfaces the domain depends on and adapters implement."""

from __future__ import annotations

from objstore.domain import errors as _errors
from objstore.ports.storage import IObjectOperations, IObjectStorageAdapter, IObjectStorageDomain

__all__ = ["Exceptions", "IObjectOperations", "IObjectStorageAdapter", "IObjectStorageDomain"]


class Exceptions:
    """The error classes under the names the original design used (``Exceptions.ObjectNotFound``)."""

    ObjectStorageError = _errors.ObjectStorageError
    ObjectNotFound = _errors.ObjectNotFound
    ObjectAlreadyExists = _errors.ObjectAlreadyExists
    PermissionDenied = _errors.PermissionDenied
    InvalidKey = _errors.InvalidKey
    InvalidMetadata = _errors.InvalidMetadata
    ConfigurationError = _errors.ConfigurationError
    NotSupported = _errors.NotSupported
    PreconditionFailed = _errors.PreconditionFailed
    AuthenticationError = _errors.AuthenticationError
    CredentialsExpired = _errors.CredentialsExpired
    Throttled = _errors.Throttled
    ProtocolError = _errors.ProtocolError
    TransientError = _errors.TransientError
    IntegrityError = _errors.IntegrityError
