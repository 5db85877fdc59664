"""S3 adapter pieces that need no server: the error table, listing order, body checks, SSE (moto)."""

from __future__ import annotations

import hashlib
import io
import itertools
import random
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import botocore.exceptions
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws
from urllib3.exceptions import ProtocolError

from objstore import (
    AuthenticationError,
    ConfigurationError,
    CredentialsExpired,
    IntegrityError,
    InvalidKey,
    NotSupported,
    ObjectAlreadyExists,
    ObjectNotFound,
    ObjectStorageError,
    ObjectStorageService,
    PermissionDenied,
    PreconditionFailed,
    Throttled,
    TransientError,
)
from objstore.adapters.s3 import S3Adapter, S3Config, translate_error
from objstore.adapters.s3_transport import BotocoreTransport
from objstore.adapters.transfer import VerifyingReader
from objstore.domain.listing import in_key_order, page_in_name_order
from objstore.domain.models import ObjectInfo, ReadOptions
from objstore.ports.credentials import Credentials, ICredentialsProvider, RefreshingCredentials


def boto_client(adapter: S3Adapter) -> Any:
    transport = adapter._transport
    assert isinstance(transport, BotocoreTransport)
    return transport.client


def client_error(code: str, status: int, *, retry_after: str | None = None) -> botocore.exceptions.ClientError:
    headers = {"retry-after": retry_after} if retry_after else {}
    return botocore.exceptions.ClientError(
        {
            "Error": {"Code": code, "Message": f"{code} happened"},
            "ResponseMetadata": {"RequestId": "REQ-42", "HTTPStatusCode": status, "HTTPHeaders": headers},
        },
        "AnyOperation",
    )


@pytest.mark.parametrize(
    ("code", "status", "expected", "retryable"),
    [
        ("NoSuchKey", 404, ObjectNotFound, False),
        ("404", 404, ObjectNotFound, False),
        ("NoSuchBucket", 404, ConfigurationError, False),
        ("AccessDenied", 403, PermissionDenied, False),
        ("403", 403, PermissionDenied, False),
        ("InvalidAccessKeyId", 403, AuthenticationError, False),
        ("SignatureDoesNotMatch", 403, AuthenticationError, False),
        ("ExpiredToken", 400, CredentialsExpired, True),
        ("InvalidToken", 400, CredentialsExpired, True),
        ("SlowDown", 503, Throttled, True),
        ("503", 503, Throttled, True),
        ("TooManyRequestsException", 429, Throttled, True),
        ("429", 429, Throttled, True),
        ("PreconditionFailed", 412, PreconditionFailed, False),
        ("InternalError", 500, TransientError, True),
        ("502", 502, TransientError, True),
        ("SomethingNew", 500, TransientError, True),
        ("RequestTimeout", 400, TransientError, True),
        ("KeyTooLongError", 400, InvalidKey, False),
        ("BadDigest", 400, IntegrityError, True),
        ("NotImplemented", 501, NotSupported, False),
        ("SomethingElse", 400, ObjectStorageError, False),
    ],
)
def test_error_table(code: str, status: int, expected: type[ObjectStorageError], retryable: bool) -> None:
    error = translate_error(client_error(code, status), key="a/b")
    assert type(error) is expected
    assert error.retryable is retryable
    assert (error.key, error.status, error.request_id) == ("a/b", status, "REQ-42")


def test_precondition_on_a_create_only_put_means_already_exists() -> None:
    error = translate_error(client_error("PreconditionFailed", 412), key="k", conditional_create=True)
    assert isinstance(error, ObjectAlreadyExists)


def test_retry_after_is_kept() -> None:
    assert translate_error(client_error("SlowDown", 503, retry_after="2.5"), key=None).retry_after == 2.5
    assert translate_error(client_error("SlowDown", 503, retry_after="soon"), key=None).retry_after is None


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (botocore.exceptions.EndpointConnectionError(endpoint_url="http://x"), TransientError),
        (botocore.exceptions.ReadTimeoutError(endpoint_url="http://x"), TransientError),
        (botocore.exceptions.NoCredentialsError(), ConfigurationError),
        (botocore.exceptions.ParamValidationError(report="bad"), ConfigurationError),
        (RuntimeError("boom"), ObjectStorageError),
    ],
)
def test_client_side_errors(exc: Exception, expected: type[ObjectStorageError]) -> None:
    assert type(translate_error(exc, key=None)) is expected


def _level(keys: list[str]) -> list[ObjectInfo]:
    return [ObjectInfo(key=k, is_prefix=k.endswith("/")) for k in keys]


def _pages(entries: list[ObjectInfo], cuts: list[int]) -> Iterator[ObjectInfo]:
    """What _list_pages yields: pages cut anywhere, each page sorted by name."""
    bounds = sorted({0, len(entries), *[c % (len(entries) + 1) for c in cuts]})
    for first, last in itertools.pairwise(bounds):
        yield from page_in_name_order(entries[first:last])


names = st.text(alphabet="ab-./0_", min_size=1, max_size=4).filter(lambda n: "/" not in n)


@given(
    level=st.dictionaries(names, st.booleans(), min_size=1, max_size=12),
    cuts=st.lists(st.integers(0, 20), max_size=4),
    name_order=st.booleans(),
)
@settings(max_examples=300)
def test_listing_order_is_restored_from_either_server_order(
    level: dict[str, bool], cuts: list[int], name_order: bool
) -> None:
    keys = [name + "/" if is_folder else name for name, is_folder in level.items()]
    order = sorted(keys, key=lambda k: k.rstrip("/")) if name_order else sorted(keys)
    result = [info.key for info in in_key_order(_pages(_level(order), cuts))]
    assert result == sorted(keys)


class FakeBody:
    def __init__(self, data: bytes, fail_after: int | None = None) -> None:
        self.data = data
        self.position = 0
        self.fail_after = fail_after
        self.closed = False

    def read(self, n: int) -> bytes:
        if self.fail_after is not None and self.position >= self.fail_after:
            raise ProtocolError("Connection broken: IncompleteRead")
        chunk = self.data[self.position : self.position + n]
        self.position += len(chunk)
        return chunk

    def close(self) -> None:
        self.closed = True


def body_reader(body: FakeBody, length: int, sha256: str | None) -> VerifyingReader:
    return VerifyingReader(
        body.read,
        body.close,
        key="k",
        length=length,
        sha256=sha256,
        translate=lambda exc: translate_error(exc, key="k"),
    )


def test_body_reader_checks_the_sha256_of_a_whole_read() -> None:
    data = b"x" * 100_000
    good = body_reader(FakeBody(data), len(data), hashlib.sha256(data).hexdigest())
    assert good.readall() == data
    bad = body_reader(FakeBody(data), len(data), hashlib.sha256(b"other").hexdigest())
    with pytest.raises(IntegrityError):
        bad.readall()


def test_body_reader_reports_a_cut_transfer() -> None:
    short = body_reader(FakeBody(b"x" * 10), 100, None)
    with pytest.raises(TransientError, match="cut off after 10 of 100"):
        short.readall()
    broken = body_reader(FakeBody(b"x" * 100, fail_after=50), 100, None)
    with pytest.raises(TransientError):
        broken.readall()


class CountingProvider(ICredentialsProvider):
    def __init__(self, clock: list[datetime], lifetime: timedelta | None) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.fetches = 0

    def fetch(self) -> Credentials:
        self.fetches += 1
        expires = self.clock[0] + self.lifetime if self.lifetime else None
        return Credentials(f"KEY{self.fetches:010d}", "secret", "token", expires_at=expires)


def test_credentials_are_renewed_a_margin_before_they_expire() -> None:
    clock = [datetime(2026, 1, 1, tzinfo=timezone.utc)]
    provider = CountingProvider(clock, timedelta(minutes=15))
    cache = RefreshingCredentials(provider, margin=timedelta(minutes=5), clock=lambda: clock[0])
    first = cache.get()
    clock[0] += timedelta(minutes=9)
    assert cache.get() is first
    clock[0] += timedelta(minutes=1, seconds=1)
    assert cache.get() is not first
    assert provider.fetches == 2


def test_short_lived_credentials_are_not_renewed_constantly() -> None:
    clock = [datetime(2026, 1, 1, tzinfo=timezone.utc)]
    provider = CountingProvider(clock, timedelta(seconds=4))
    cache = RefreshingCredentials(provider, margin=timedelta(minutes=5), clock=lambda: clock[0])
    cache.get()
    clock[0] += timedelta(seconds=1)
    cache.get()
    assert provider.fetches == 1  # renewed at half the lifetime, not on every call
    clock[0] += timedelta(seconds=1, milliseconds=1)
    cache.get()
    assert provider.fetches == 2


def test_credentials_without_expiry_use_the_ttl() -> None:
    clock = [datetime(2026, 1, 1, tzinfo=timezone.utc)]
    provider = CountingProvider(clock, None)
    cache = RefreshingCredentials(provider, ttl=timedelta(minutes=30), clock=lambda: clock[0])
    cache.get()
    clock[0] += timedelta(minutes=31)
    cache.get()
    assert provider.fetches == 2


def test_renewal_is_single_flight_across_threads() -> None:
    clock = [datetime(2026, 1, 1, tzinfo=timezone.utc)]
    provider = CountingProvider(clock, timedelta(minutes=10))
    cache = RefreshingCredentials(provider, margin=timedelta(minutes=1), clock=lambda: clock[0])
    stale = cache.get()
    barrier = threading.Barrier(16)

    def renew() -> Credentials:
        barrier.wait()
        return cache.invalidate(stale)

    threads = [threading.Thread(target=renew) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert provider.fetches == 2


def test_credentials_repr_hides_secrets() -> None:
    creds = Credentials("AKIAABCDEFGHIJKL1234", "very-secret", "very-token")
    text = repr(creds)
    assert "very-secret" not in text
    assert "very-token" not in text
    assert "AKIAABCDEFGH" not in text


@pytest.fixture
def moto_s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="moto-bucket")
        yield client


@pytest.mark.parametrize(
    ("sse", "kms_key", "expected"),
    [("AES256", None, "AES256"), ("aws:kms", "arn:aws:kms:us-east-1:123456789012:key/test", "aws:kms")],
)
def test_server_side_encryption_is_requested(moto_s3: Any, sse: str, kms_key: str | None, expected: str) -> None:
    store = ObjectStorageService(S3Adapter(S3Config(bucket="moto-bucket", sse=sse, sse_kms_key_id=kms_key)))
    store.put_object("", "secret.bin", b"x")
    head = moto_s3.head_object(Bucket="moto-bucket", Key="secret.bin")
    assert head["ServerSideEncryption"] == expected
    if kms_key:
        assert head["SSEKMSKeyId"] == kms_key


def test_exact_error_codes_from_moto(moto_s3: Any) -> None:
    store = ObjectStorageService(S3Adapter(S3Config(bucket="moto-bucket")))
    with pytest.raises(ObjectNotFound):
        store.get_object("", "missing")
    with pytest.raises(ObjectNotFound):
        store.copy_object("", "missing", "", "dst")
    missing_bucket = ObjectStorageService(S3Adapter(S3Config(bucket="no-such-bucket")))
    with pytest.raises(ConfigurationError):
        missing_bucket.put_object("", "k", b"x")


def test_batch_delete_reports_per_key_errors(moto_s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    adapter = S3Adapter(S3Config(bucket="moto-bucket"))
    store = ObjectStorageService(adapter)
    for key in ("a", "b", "c"):
        store.put_object("", key, b"x")
    real = boto_client(adapter).delete_objects

    def partly_denied(**kwargs: Any) -> dict[str, Any]:
        response: dict[str, Any] = real(**kwargs)
        response["Errors"] = [{"Key": "b", "Code": "AccessDenied", "Message": "Access Denied"}]
        return response

    monkeypatch.setattr(boto_client(adapter), "delete_objects", partly_denied)
    result = store.delete_objects("", ["a", "b", "c"])
    assert sorted(result.deleted) == ["a", "c"]
    assert set(result.errors) == {"b"}
    assert isinstance(result.errors["b"], PermissionDenied)


def test_config_is_checked() -> None:
    for bad in (
        {"bucket": ""},
        {"bucket": "b", "multipart_chunksize": 1024},
        {"bucket": "b", "addressing_style": "sideways"},
        {"bucket": "b", "checksums": "always"},
        {"bucket": "b", "sse": "rot13"},
        {"bucket": "b", "access_key_id": "only-half"},
    ):
        with pytest.raises(ConfigurationError):
            S3Config(**bad)  # type: ignore[arg-type]


def test_ranges_of_a_random_object_match_slicing(moto_s3: Any) -> None:
    store = ObjectStorageService(S3Adapter(S3Config(bucket="moto-bucket")))
    content = random.Random(5).randbytes(1000)
    store.put_object("", "r", content)
    rng = random.Random(6)
    for _ in range(40):
        start = rng.choice([None, *range(-1100, 1100, 37)])
        end = rng.choice([None, *range(-1100, 1100, 41)])
        with store.get_object_stream("", "r", start, end) as stream:
            assert stream.read() == content[start:end], (start, end)


def test_upload_in_parts_bounds_parts_in_flight_and_keeps_order() -> None:
    from objstore.adapters.transfer import upload_in_parts

    in_flight = 0
    most = 0
    lock = threading.Lock()
    content = random.Random(9).randbytes(1000)

    def send(number: int, data: bytes | bytearray) -> tuple[int, bytes]:
        nonlocal in_flight, most
        with lock:
            in_flight += 1
            most = max(most, in_flight)
        threading.Event().wait(0.005)
        with lock:
            in_flight -= 1
        return number, bytes(data)

    source = io.BytesIO(content[30:])
    sent = upload_in_parts(
        source, content[:30], part_size=64, concurrency=3, send=send, key="k", max_parts=100, hash_content=True
    )
    assert [number for number, _ in sent.results] == list(range(1, len(sent.results) + 1))
    assert b"".join(data for _, data in sent.results) == content
    assert sent.size == len(content)
    assert sent.sha256 == hashlib.sha256(content).hexdigest()
    assert most <= 3


def test_upload_in_parts_stops_at_the_first_failure() -> None:
    from objstore.adapters.transfer import upload_in_parts

    started = []

    def send(number: int, data: bytes | bytearray) -> int:
        started.append(number)
        if number == 2:
            raise TransientError("part 2 failed")
        return number

    with pytest.raises(TransientError, match="part 2"):
        upload_in_parts(io.BytesIO(b"x" * 10_000), b"", part_size=10, concurrency=1, send=send, key="k")
    assert max(started) <= 3


def test_listing_timestamps_are_parsed_without_dateutil_and_agree_with_it() -> None:
    import botocore.parsers

    from objstore.adapters.s3_direct import parse_timestamp as _timestamp

    for text in ("2026-11-21T17:31:00.000Z", "2026-11-21T17:31:00Z", "2026-11-21T17:31:00.123456+02:00"):
        assert _timestamp(text) == botocore.parsers.DEFAULT_TIMESTAMP_PARSER(text)
        assert _timestamp(text).tzinfo is not None
    http_date = "Sat, 21 Nov 2026 17:31:00 GMT"  # headers take the default way
    assert _timestamp(http_date) == botocore.parsers.DEFAULT_TIMESTAMP_PARSER(http_date)


def test_a_small_stream_costs_a_small_buffer() -> None:
    import io
    import tracemalloc

    from objstore.adapters.transfer import read_exactly

    tracemalloc.start()
    try:
        data = read_exactly(io.BytesIO(b"x" * 4096), 16 * 1024 * 1024)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert data == b"x" * 4096
    assert peak < 2 * 1024 * 1024  # not a 16 MiB buffer for a 4 KiB file


def test_botocore_sends_each_request_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The retry layer is the one place that retries: botocore's attempts are one, whatever the environment says."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "7")
    adapter = S3Adapter(S3Config(bucket="b", region_name="us-east-1", access_key_id="k", secret_access_key="s"))
    assert boto_client(adapter).meta.config.retries["total_max_attempts"] == 1


def test_a_read_describes_the_object_from_the_answer_of_its_get(moto_s3: Any) -> None:
    adapter = S3Adapter(S3Config(bucket="moto-bucket"))
    store = ObjectStorageService(adapter)
    store.put_object("", "d.txt", b"0123456789", content_type="text/plain", metadata={"owner": "team"})
    head = adapter.head_object("", "d.txt")
    calls: list[str] = []
    boto_client(adapter).meta.events.register("before-call.s3", lambda model, **_: calls.append(model.name))
    for options in (ReadOptions(), ReadOptions(3, 7), ReadOptions(-4), ReadOptions(20)):
        calls.clear()
        with adapter.open_object("", "d.txt", options) as opened:
            assert opened.stream.read() == b"0123456789"[options.start : options.end]
        assert opened.info == head, options
        assert (opened.info.size, opened.info.content_type, dict(opened.info.metadata)) == (
            10,
            "text/plain",
            {"owner": "team"},
        )
        if options.start != 20:  # a start beyond the end is answered 416: a HEAD then describes the object
            assert calls == ["GetObject"]  # no HEAD first


def test_bytes_are_put_as_they_are_without_reading_them_into_a_buffer(
    moto_s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import objstore.adapters.s3 as s3_module

    def no_buffer(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("small bytes went through the streaming path")

    monkeypatch.setattr(s3_module, "read_first", no_buffer)
    store = ObjectStorageService(S3Adapter(S3Config(bucket="moto-bucket")))
    content = bytearray(b"abc" * 1000)
    store.put_object("", "fast", memoryview(content)[3:])
    assert store.get_object("", "fast") == bytes(content[3:])
    assert store.head_object("", "fast").checksum_sha256 == hashlib.sha256(content[3:]).hexdigest()


@pytest.mark.parametrize(
    "text",
    ["Sat, 21 Nov 2026 17:31:00 GMT", "2026-11-21T17:31:00.000Z", "2026-11-21T17:31:00.250+00:00", "1700000000"],
)
def test_timestamps_parse_as_botocore_parses_them(text: str) -> None:
    """The fast parser (HTTP dates in headers, ISO 8601 in listings) agrees with botocore's own on every form."""
    import botocore.parsers

    from objstore.adapters.s3_direct import parse_timestamp

    assert parse_timestamp(text) == botocore.parsers.DEFAULT_TIMESTAMP_PARSER(text)
