"""The S3 transport seam: S3Adapter driven by a fake transport (no server), and the two transports' own shapes."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import botocore.exceptions
import certifi
import pytest

from objstore import (
    AuthenticationError,
    ConfigurationError,
    IntegrityError,
    NotSupported,
    ObjectAlreadyExists,
    ObjectNotFound,
    ObjectStorageService,
    PermissionDenied,
    PreconditionFailed,
    TransientError,
)
from objstore.adapters import s3 as s3_module
from objstore.adapters.s3 import S3Adapter, S3Config
from objstore.adapters.s3_direct import DirectRequests, DirectTransport, head_of_headers
from objstore.adapters.s3_transport import (
    BatchError,
    BotocoreTransport,
    Conditions,
    Encryption,
    ObjectAttributes,
    S3Get,
    S3Head,
    S3Listed,
    S3Page,
    S3Transport,
    content_md5,
)
from objstore.domain.models import ReadOptions
from objstore.ports.credentials import Credentials, ICredentialsProvider

SHA = "objstore_sha256"


def client_error(code: str, status: int, operation: str = "Any") -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError(
        {
            "Error": {"Code": code, "Message": f"{code} happened"},
            "ResponseMetadata": {"RequestId": "REQ-7", "HTTPStatusCode": status, "HTTPHeaders": {}},
        },
        operation,
    )


class FakeTransport:
    """An S3Transport in memory: objects as (head, data), each call recorded; ``fail`` makes a call raise."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[S3Head, bytes]] = {}
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.fail: dict[str, list[BaseException]] = {}
        self.pages: list[S3Page] = []
        self.batch_errors: list[BatchError] = []
        self.parts: dict[str, dict[int, bytes]] = {}

    def _record(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))
        pending = self.fail.get(name)
        if pending:
            raise pending.pop(0)

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def head_bucket(self) -> None:
        self._record("head_bucket")

    def create_bucket(self) -> None:
        self._record("create_bucket")

    def head(self, key: str) -> S3Head:
        self._record("head", key)
        if key not in self.objects:
            raise client_error("404", 404, "HeadObject")
        return self.objects[key][0]

    def get(self, key: str, range_header: str | None) -> S3Get:
        self._record("get", key, range_header)
        if key not in self.objects:
            raise client_error("NoSuchKey", 404, "GetObject")
        head, data = self.objects[key]
        if range_header is None:
            return S3Get(head, io.BytesIO(data))
        first, _, last = range_header.removeprefix("bytes=").partition("-")
        piece = data[int(first) : int(last) + 1]
        ranged = S3Head(
            length=len(piece),
            etag=head.etag,
            last_modified=head.last_modified,
            content_type=head.content_type,
            metadata=head.metadata,
            content_range=f"bytes {first}-{last}/{len(data)}",
        )
        return S3Get(ranged, io.BytesIO(piece))

    def list_page(self, prefix: str, *, delimiter: str | None, max_keys: int | None, token: str | None) -> S3Page:
        self._record("list_page", prefix, delimiter, max_keys, token)
        return self.pages.pop(0)

    def put(self, key: str, data: Any, attributes: ObjectAttributes, conditions: Conditions) -> str:
        self._record("put", key, bytes(data), attributes, conditions)
        head = S3Head(length=len(data), etag='"e1"', content_type=attributes.content_type, metadata=attributes.metadata)
        self.objects[key] = (head, bytes(data))
        return '"e1"'

    def create_multipart(self, key: str, attributes: ObjectAttributes) -> str:
        self._record("create_multipart", key, attributes)
        self.parts["u1"] = {}
        return "u1"

    def upload_part(self, key: str, upload_id: str, number: int, data: Any) -> str:
        self._record("upload_part", key, upload_id, number)
        self.parts[upload_id][number] = bytes(data)
        return f'"p{number}"'

    def upload_part_copy(self, key: str, upload_id: str, number: int, source: str, first: int, last: int) -> str:
        self._record("upload_part_copy", key, upload_id, number, source, first, last)
        return f'"c{number}"'

    def complete_multipart(
        self, key: str, upload_id: str, parts: Sequence[tuple[int, str]], conditions: Conditions
    ) -> str:
        self._record("complete_multipart", key, upload_id, list(parts), conditions)
        return '"m-2"'

    def abort_multipart(self, key: str, upload_id: str) -> None:
        self._record("abort_multipart", key, upload_id)

    def copy(self, source: str, key: str) -> None:
        self._record("copy", source, key)

    def delete(self, key: str) -> None:
        self._record("delete", key)
        self.objects.pop(key, None)

    def delete_batch(self, keys: Sequence[str]) -> list[BatchError]:
        self._record("delete_batch", list(keys))
        return self.batch_errors

    def presign(self, method: str, key: str, expires_in: int) -> str:
        self._record("presign", method, key, expires_in)
        return f"https://signed/{key}?{method}&{expires_in}"

    def close(self) -> None:
        self._record("close")


def with_fake(monkeypatch: pytest.MonkeyPatch, **options: Any) -> tuple[S3Adapter, FakeTransport]:
    """An S3Adapter (AWS settings: no network at construction) whose transport is a fake."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    fake = FakeTransport()
    settings: dict[str, Any] = {"region_name": "us-east-1", "access_key_id": "k", "secret_access_key": "s"}
    settings.update(options)
    monkeypatch.setattr(S3Adapter, "_build_transport", lambda self: fake)
    adapter = S3Adapter(S3Config(bucket="b", **settings))
    return adapter, fake


def test_the_fake_is_a_transport() -> None:
    transport: S3Transport = FakeTransport()  # the Protocol, checked structurally by mypy where tests are typed
    assert callable(transport.get)


def test_errors_from_the_transport_go_through_the_one_table(monkeypatch: pytest.MonkeyPatch) -> None:
    adapter, fake = with_fake(monkeypatch, base_prefix="root")
    with pytest.raises(ObjectNotFound) as caught:
        adapter.head_object("", "absent")
    assert (caught.value.key, caught.value.status, caught.value.request_id) == ("absent", 404, "REQ-7")
    fake.fail["put"] = [client_error("PreconditionFailed", 412, "PutObject")]
    with pytest.raises(ObjectAlreadyExists):
        ObjectStorageService(adapter).put_object("", "k", b"x", if_none_match="*")
    fake.fail["put"] = [client_error("PreconditionFailed", 412, "PutObject")]
    with pytest.raises(PreconditionFailed):
        ObjectStorageService(adapter).put_object("", "k", b"x", if_match="abc")
    fake.fail["put"] = [botocore.exceptions.EndpointConnectionError(endpoint_url="http://x")]
    with pytest.raises(TransientError):
        ObjectStorageService(adapter).put_object("", "k", b"x")
    fake.fail["put"] = [ConnectionResetError("reset")]  # what the direct path's http.client raises
    with pytest.raises(TransientError):
        ObjectStorageService(adapter).put_object("", "k", b"x")


def test_a_ranged_read_is_described_by_its_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    adapter, fake = with_fake(monkeypatch)
    data = b"0123456789"
    head = S3Head(
        length=10, etag='"abc"', content_type="text/plain", metadata={SHA: hashlib.sha256(data).hexdigest(), "o": "t"}
    )
    fake.objects["d.txt"] = (head, data)
    with adapter.open_object("", "d.txt", ReadOptions(3, 7)) as opened:
        assert opened.stream.read() == b"3456"
    assert fake.calls == [("get", ("d.txt", "bytes=3-6"))]  # one GET, no HEAD
    info = opened.info
    assert (info.size, info.etag, info.content_type, dict(info.metadata)) == (10, "abc", "text/plain", {"o": "t"})
    assert info.checksum_sha256 == hashlib.sha256(data).hexdigest()
    assert info == adapter.head_object("", "d.txt")


def test_a_whole_read_is_checked_against_its_sha256(monkeypatch: pytest.MonkeyPatch) -> None:
    adapter, fake = with_fake(monkeypatch)
    fake.objects["t"] = (S3Head(length=5, etag='"e"', metadata={SHA: "0" * 64}), b"other")
    with pytest.raises(IntegrityError):
        ObjectStorageService(adapter).get_object("", "t")


def test_a_range_beyond_the_end_is_an_empty_read_of_an_object_that_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    adapter, fake = with_fake(monkeypatch)
    fake.objects["k"] = (S3Head(length=3, etag='"e"'), b"abc")
    fake.fail["get"] = [client_error("InvalidRange", 416, "GetObject")]
    with adapter.open_object("", "k", ReadOptions(20)) as opened:
        assert opened.stream.read() == b""
    assert opened.info.size == 3
    assert fake.names() == ["get", "head"]


def test_listing_pages_follow_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    adapter, fake = with_fake(monkeypatch, base_prefix="root")
    fake.pages = [
        S3Page([S3Listed("root/a", 1, '"ea"', None)], [], truncated=True, next_token="t1"),
        S3Page([S3Listed("root/b", 2, None, None)], [], truncated=False, next_token=None),
    ]
    listed = list(adapter.iter_objects("", page_size=1))
    assert [(i.key, i.size, i.etag) for i in listed] == [("a", 1, "ea"), ("b", 2, None)]
    assert [args for _, args in fake.calls] == [("root/", None, 1, None), ("root/", None, 1, "t1")]


def test_a_single_put_hands_the_transport_its_attributes_and_conditions(monkeypatch: pytest.MonkeyPatch) -> None:
    adapter, fake = with_fake(monkeypatch)
    info = ObjectStorageService(adapter).put_object_stream(
        "", "k", io.BytesIO(b"hello"), content_type="text/plain", metadata={"o": "t"}, if_match="e0"
    )
    ((name, (key, data, attributes, conditions)),) = fake.calls
    assert (name, key, data) == ("put", "k", b"hello")
    assert attributes == ObjectAttributes("text/plain", {"o": "t", SHA: hashlib.sha256(b"hello").hexdigest()})
    assert conditions == Conditions(None, "e0")
    assert info.etag == "e1"


def test_a_multipart_upload_that_fails_is_aborted(monkeypatch: pytest.MonkeyPatch) -> None:
    adapter, fake = with_fake(monkeypatch, multipart_threshold=5 * 2**20, multipart_chunksize=5 * 2**20)
    content = bytes(11 * 2**20)
    info = ObjectStorageService(adapter).put_object_stream("", "big", io.BytesIO(content), if_none_match="*")
    assert info.etag == "m-2"
    complete = [args for name, args in fake.calls if name == "complete_multipart"]
    assert complete == [("big", "u1", [(1, '"p1"'), (2, '"p2"'), (3, '"p3"')], Conditions("*", None))]
    assert b"".join(fake.parts["u1"][n] for n in (1, 2, 3)) == content
    fake.calls.clear()
    fake.fail["complete_multipart"] = [client_error("PreconditionFailed", 412)]
    with pytest.raises(ObjectAlreadyExists):
        ObjectStorageService(adapter).put_object_stream("", "big", io.BytesIO(content), if_none_match="*")
    assert fake.names()[-1] == "abort_multipart"


def test_batch_delete_errors_use_the_same_table(monkeypatch: pytest.MonkeyPatch) -> None:
    adapter, fake = with_fake(monkeypatch)
    fake.batch_errors = [BatchError("b", "AccessDenied", "Access Denied"), BatchError("c", "NoSuchKey", "")]
    result = adapter.delete_objects("", ["a", "b", "c"])
    assert sorted(result.deleted) == ["a", "c"]
    assert isinstance(result.errors["b"], PermissionDenied)


def test_presigned_urls_are_the_transports_for_get_and_put_only(monkeypatch: pytest.MonkeyPatch) -> None:
    adapter, _ = with_fake(monkeypatch)
    assert adapter.presign_url("", "k", expires_in=60, method="put") == "https://signed/k?PUT&60"
    with pytest.raises(NotSupported):
        adapter.presign_url("", "k", method="DELETE")


class _Provider(ICredentialsProvider):
    def __init__(self) -> None:
        self.fetched = 0

    def fetch(self) -> Credentials:
        self.fetched += 1
        return Credentials(access_key_id=f"k{self.fetched}", secret_access_key="s")


def test_rejected_provider_credentials_are_renewed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = _Provider()
    adapter, fake = with_fake(monkeypatch, access_key_id=None, secret_access_key=None, credentials_provider=provider)
    fake.objects["k"] = (S3Head(length=1), b"x")
    fake.fail["head"] = [client_error("InvalidAccessKeyId", 403)]
    assert adapter.head_object("", "k").size == 1
    assert fake.names() == ["head", "head"]
    fake.fail["head"] = [client_error("InvalidAccessKeyId", 403), client_error("InvalidAccessKeyId", 403)]
    with pytest.raises(AuthenticationError):
        adapter.head_object("", "k")


# --- the transports themselves -------------------------------------------------------------------------------


class _Requests:
    """Stands in for DirectRequests: records what DirectTransport asks of it."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    def put_object(self, key: str, body: Any, headers: dict[str, str]) -> dict[str, str]:
        self.sent.append(("put", (key, bytes(body), dict(headers))))
        return {"etag": '"d1"'}

    def upload_part(self, key: str, upload_id: str, number: int, body: Any) -> dict[str, str]:
        self.sent.append(("part", (key, upload_id, number)))
        return {"etag": '"dp"'}

    def close(self) -> None:
        self.sent.append(("close", None))


class _Client:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_the_direct_transport_sends_writes_with_the_headers_botocore_would() -> None:
    requests = _Requests()
    client = _Client()
    transport = DirectTransport(client, "b", requests, encryption=Encryption("aws:kms", "key-1"))  # type: ignore[arg-type]
    etag = transport.put(
        "k", b"data", ObjectAttributes("text/plain", {"o": "t"}), Conditions(if_none_match="*", if_match="e0")
    )
    assert etag == '"d1"'
    ((_, (key, body, headers)),) = requests.sent
    assert (key, body) == ("k", b"data")
    assert headers == {
        "content-md5": content_md5(b"data"),
        "content-type": "text/plain",
        "x-amz-meta-o": "t",
        "x-amz-server-side-encryption": "aws:kms",
        "x-amz-server-side-encryption-aws-kms-key-id": "key-1",
        "if-none-match": "*",
        "if-match": '"e0"',
    }
    assert transport.upload_part("k", "u", 2, b"p") == '"dp"'
    transport.close()
    assert requests.sent[-1] == ("close", None)
    assert client.closed


def test_a_direct_answer_is_described_as_botocore_describes_it() -> None:
    head = head_of_headers(
        {
            "content-length": "4",
            "content-range": "bytes 3-6/10",
            "etag": '"abc"',
            "content-type": "text/plain",
            "last-modified": "Sat, 21 Nov 2026 17:31:00 GMT",
            "x-amz-meta-owner": "team",
        }
    )
    assert (head.length, head.content_range, head.etag, head.content_type) == (4, "bytes 3-6/10", '"abc"', "text/plain")
    assert dict(head.metadata) == {"owner": "team"}
    assert head.last_modified is not None
    assert head.last_modified.tzinfo is not None
    assert head_of_headers({"last-modified": "not a date"}).last_modified is None


def test_the_botocore_transport_adds_encryption_to_writes_and_copies() -> None:
    seen: dict[str, dict[str, Any]] = {}

    class Client:
        def __getattr__(self, name: str) -> Callable[..., dict[str, Any]]:
            def call(**kwargs: Any) -> dict[str, Any]:
                seen[name] = kwargs
                return {"ETag": '"x"', "UploadId": "u"}

            return call

    transport = BotocoreTransport(Client(), "b", encryption=Encryption("AES256"))
    transport.put("k", b"d", ObjectAttributes(None, {"m": "1"}), Conditions(if_match="e"))
    assert seen["put_object"]["ServerSideEncryption"] == "AES256"
    assert seen["put_object"]["IfMatch"] == '"e"'
    assert seen["put_object"]["Metadata"] == {"m": "1"}
    assert "ContentType" not in seen["put_object"]
    transport.copy("src", "dst")
    assert seen["copy_object"] == {
        "Bucket": "b",
        "Key": "dst",
        "CopySource": {"Bucket": "b", "Key": "src"},
        "MetadataDirective": "COPY",
        "ServerSideEncryption": "AES256",
    }
    assert transport.create_multipart("k", ObjectAttributes()) == "u"
    assert seen["create_multipart_upload"]["ServerSideEncryption"] == "AES256"


# --- which transport, and with what certificate check -----------------------------------------------------------


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


def _verify_given(monkeypatch: pytest.MonkeyPatch, config: S3Config) -> tuple[S3Adapter, list[Any]]:
    """Build an adapter, catching the certificate check handed to the direct requests."""
    given: list[Any] = []
    real = DirectRequests.for_client

    def spy(client: Any, bucket: str, **kwargs: Any) -> DirectRequests | None:
        given.append(kwargs["verify"])
        return real(client, bucket, **kwargs)

    monkeypatch.setattr(s3_module.DirectRequests, "for_client", spy)
    return S3Adapter(config), given


@pytest.mark.usefixtures("no_proxy")
def test_the_transport_is_chosen_once_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = {"access_key_id": "k", "secret_access_key": "s"}
    custom = S3Adapter(S3Config(bucket="b", endpoint_url="http://127.0.0.1:9", **keys))
    assert type(custom._transport) is DirectTransport
    sdk = S3Adapter(S3Config(bucket="b", endpoint_url="http://127.0.0.1:9", direct_requests=False, **keys))
    assert type(sdk._transport) is BotocoreTransport
    aws = S3Adapter(S3Config(bucket="b", region_name="eu-west-1", **keys))
    assert type(aws._transport) is BotocoreTransport


@pytest.mark.usefixtures("no_proxy")
def test_both_paths_check_certificates_with_the_same_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = {"access_key_id": "k", "secret_access_key": "s"}
    endpoint = "https://storage.example:9000"
    adapter, given = _verify_given(monkeypatch, S3Config(bucket="b", endpoint_url=endpoint, **keys))
    assert given == [True]
    assert isinstance(adapter._transport, DirectTransport)
    monkeypatch.setenv("AWS_CA_BUNDLE", certifi.where())
    adapter, given = _verify_given(monkeypatch, S3Config(bucket="b", endpoint_url=endpoint, **keys))
    assert given == [certifi.where()]
    assert isinstance(adapter._transport, DirectTransport)
    assert adapter._transport.requests._ssl_context is not None
    monkeypatch.setenv("AWS_CA_BUNDLE", "/not/this/one.pem")  # the config's bundle comes first
    config = S3Config(bucket="b", endpoint_url=endpoint, ca_bundle=certifi.where(), **keys)
    adapter, given = _verify_given(monkeypatch, config)
    assert given == [certifi.where()]
    monkeypatch.delenv("AWS_CA_BUNDLE")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    adapter, given = _verify_given(monkeypatch, S3Config(bucket="b", endpoint_url=endpoint, **keys))
    assert given == [certifi.where()]


@pytest.mark.parametrize("source", ["option", "AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE"])
def test_a_missing_ca_bundle_is_a_configuration_error_before_any_request(
    source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A certificate bundle that is not there is named as such, typed, when the store is built (not a raw
    FileNotFoundError from deep in the direct path, and not a TLS failure at the first request)."""
    missing = str(tmp_path / "no-such-ca.pem")
    for name in ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE"):  # the machine's own, which would take precedence
        monkeypatch.delenv(name, raising=False)
    options: dict[str, str] = {}
    if source == "option":
        options["ca_bundle"] = missing
    else:
        monkeypatch.setenv(source, missing)
    with pytest.raises(ConfigurationError, match=r"no-such-ca\.pem"):
        S3Adapter(
            S3Config(
                "bucket",
                endpoint_url="https://127.0.0.1:9",
                access_key_id="AKIDEXAMPLE",
                secret_access_key="not-a-secret",
                **options,
            )
        )
