"""The GCS and Azure error tables: the same meaning as S3's for the same situation."""

from __future__ import annotations

from typing import Any

import pytest
from azure.core import exceptions as azure_exceptions
from google.api_core import exceptions as google_exceptions

from objstore import (
    AuthenticationError,
    ConfigurationError,
    IntegrityError,
    ObjectAlreadyExists,
    ObjectNotFound,
    ObjectStorageError,
    PermissionDenied,
    PreconditionFailed,
    Throttled,
    TransientError,
)
from objstore.adapters import azure_blob, gcs


class FakeResponse:
    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.status_code = status
        self.headers = headers or {}
        self.reason = "reason"
        self.request = None

    def text(self) -> str:
        return ""


def azure_error(code: str, status: int, headers: dict[str, str] | None = None) -> Any:
    error = azure_exceptions.HttpResponseError(message=f"{code} happened", response=FakeResponse(status, headers))
    error.status_code = status
    error.error_code = code
    return error


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("BlobNotFound", 404, ObjectNotFound),
        ("ContainerNotFound", 404, ConfigurationError),
        ("BlobAlreadyExists", 409, ObjectAlreadyExists),
        ("ConditionNotMet", 412, PreconditionFailed),
        ("AuthenticationFailed", 403, AuthenticationError),
        ("AuthorizationPermissionMismatch", 403, PermissionDenied),
        ("ServerBusy", 503, Throttled),
        ("", 429, Throttled),
        ("InternalError", 500, TransientError),
        ("SomethingNew", 502, TransientError),
        ("Md5Mismatch", 400, IntegrityError),
        ("SomethingElse", 400, ObjectStorageError),
    ],
)
def test_azure_table(code: str, status: int, expected: type[ObjectStorageError]) -> None:
    error = azure_blob.translate_error(azure_error(code, status, {"x-ms-request-id": "REQ"}), key="k")
    assert type(error) is expected
    assert (error.status, error.request_id, error.key) == (status, "REQ", "k")


def test_azure_condition_on_create_only_means_already_exists() -> None:
    error = azure_blob.translate_error(azure_error("ConditionNotMet", 412), key="k", conditional_create=True)
    assert isinstance(error, ObjectAlreadyExists)


def test_azure_network_errors_are_transient() -> None:
    assert isinstance(
        azure_blob.translate_error(azure_exceptions.ServiceRequestError("down"), key=None), TransientError
    )
    assert isinstance(
        azure_blob.translate_error(azure_exceptions.ServiceResponseError("cut"), key=None), TransientError
    )


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (google_exceptions.NotFound("No such object"), ObjectNotFound),
        (google_exceptions.NotFound("The specified bucket does not exist."), ConfigurationError),
        (google_exceptions.PreconditionFailed("precondition"), PreconditionFailed),
        (google_exceptions.Forbidden("forbidden"), PermissionDenied),
        (google_exceptions.Unauthorized("who are you"), AuthenticationError),
        (google_exceptions.TooManyRequests("slow down"), Throttled),
        (google_exceptions.ServiceUnavailable("backend error"), TransientError),
        (google_exceptions.InternalServerError("oops"), TransientError),
        (google_exceptions.BadRequest("bad"), ObjectStorageError),
    ],
)
def test_gcs_table(exc: Exception, expected: type[ObjectStorageError]) -> None:
    assert type(gcs.translate_error(exc, key="k")) is expected


def test_gcs_precondition_on_create_only_means_already_exists() -> None:
    error = gcs.translate_error(google_exceptions.PreconditionFailed("p"), key="k", conditional_create=True)
    assert isinstance(error, ObjectAlreadyExists)
