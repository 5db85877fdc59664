"""The error hierarchy: one base, the matching built-ins, context, pickling."""

from __future__ import annotations

import pickle

import pytest

import objstore
from objstore import Exceptions as TopLevelExceptions
from objstore.domain import errors
from objstore.ports import Exceptions


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (errors.ObjectNotFound, FileNotFoundError),
        (errors.ObjectAlreadyExists, FileExistsError),
        (errors.PermissionDenied, PermissionError),
        (errors.InvalidKey, ValueError),
        (errors.ConfigurationError, ValueError),
        (errors.NotSupported, NotImplementedError),
        (errors.AuthenticationError, PermissionError),
        (errors.TransientError, ConnectionError),
    ],
)
def test_each_error_is_also_the_matching_builtin(cls: type[Exception], builtin: type[Exception]) -> None:
    error = cls("message")
    assert isinstance(error, builtin)
    assert isinstance(error, errors.ObjectStorageError)
    assert str(error) == "message"


def test_every_public_error_derives_from_the_base() -> None:
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.ObjectStorageError)
        assert getattr(objstore, name) is getattr(errors, name)
        assert getattr(Exceptions, name) is getattr(errors, name)


def test_seed_compatible_spelling() -> None:
    assert Exceptions.ObjectNotFound is errors.ObjectNotFound
    assert TopLevelExceptions is Exceptions


@pytest.mark.parametrize(
    ("cls", "retryable"),
    [
        (errors.Throttled, True),
        (errors.TransientError, True),
        (errors.CredentialsExpired, True),
        (errors.IntegrityError, True),
        (errors.ObjectNotFound, False),
        (errors.PreconditionFailed, False),
        (errors.AuthenticationError, False),
        (errors.ObjectStorageError, False),
    ],
)
def test_retryable_defaults(cls: type[errors.ObjectStorageError], retryable: bool) -> None:
    assert cls("x").retryable is retryable
    assert cls("x", retryable=not retryable).retryable is not retryable


def test_context_is_shown_and_survives_pickling() -> None:
    error = errors.Throttled(
        "slow down", operation="put_object", adapter="s3", key="a/b", request_id="REQ1", status=503, retry_after=2.5
    )
    assert str(error) == "slow down [s3 put_object 'a/b'] (request id REQ1)"
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is errors.Throttled
    assert (copy.key, copy.request_id, copy.status, copy.retry_after, copy.retryable) == ("a/b", "REQ1", 503, 2.5, True)


def test_with_context_fills_only_what_is_missing() -> None:
    error = errors.ObjectNotFound("gone", key="original")
    error.with_context(key="other", operation="get_object")
    assert (error.key, error.operation) == ("original", "get_object")
