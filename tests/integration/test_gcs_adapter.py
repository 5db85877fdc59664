"""GCS adapter behaviour on fake-gcs-server: signed URLs, credentials, resumable uploads, integrity."""

from __future__ import annotations

import hashlib
import json
import random
import threading
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from objstore import (
    ConfigurationError,
    IntegrityError,
    NotSupported,
    ObjectAlreadyExists,
    ObjectNotFound,
    ObjectStorageFactory,
    ObjectStorageService,
)
from objstore.adapters.gcs import GCSAdapter, GCSConfig
from objstore.adapters.layers.retry import RetryingAdapter
from objstore.domain.errors import TransientError
from objstore.domain.models import ReadOptions
from objstore.ports.storage import unwrap
from objstore.testing.conformance import ShortReadStream
from tests.conformance.test_gcs import gcs_adapter

MiB = 1024 * 1024


@pytest.fixture
def adapter(gcs_server: str, gcs_bucket: str) -> GCSAdapter:
    return gcs_adapter(gcs_server, gcs_bucket)


@pytest.fixture
def store(adapter: GCSAdapter) -> ObjectStorageService:
    return ObjectStorageService(adapter)


@pytest.fixture
def service_account_file(tmp_path: Path) -> tuple[Path, rsa.RSAPublicKey]:
    """A service-account key file with a key made here: nothing leaves the machine."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "objstore-test",
        "private_key_id": "test-key-1",
        "private_key": pem,
        "client_email": "signer@objstore-test.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    path = tmp_path / "service-account.json"
    path.write_text(json.dumps(info))
    return path, key.public_key()


def v4_string_to_sign(url: str, method: str) -> tuple[bytes, bytes]:
    """Rebuild what a V4 signed URL signed (canonical request -> string to sign), and return its signature."""
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    signature = bytes.fromhex(dict(query)["X-Goog-Signature"])
    canonical_query = "&".join(
        f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
        for k, v in sorted(query)
        if k != "X-Goog-Signature"
    )
    params = dict(query)
    signed_headers = params["X-Goog-SignedHeaders"]
    assert signed_headers == "host"
    canonical_request = "\n".join(
        [method, parts.path, canonical_query, f"host:{parts.netloc}\n", signed_headers, "UNSIGNED-PAYLOAD"]
    )
    scope = params["X-Goog-Credential"].split("/", 1)[1]
    string_to_sign = "\n".join(
        [
            params["X-Goog-Algorithm"],
            params["X-Goog-Date"],
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    return string_to_sign.encode(), signature


@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_signed_url_verifies_against_the_public_key(
    gcs_server: str, gcs_bucket: str, service_account_file: tuple[Path, rsa.RSAPublicKey], method: str
) -> None:
    path, public_key = service_account_file
    store = ObjectStorageService(gcs_adapter(gcs_server, gcs_bucket, service_account_path=str(path)))
    assert store.capabilities.presigned_urls
    url = store.presign_url("share", "report.pdf", expires_in=600, method=method)
    assert "X-Goog-Algorithm=GOOG4-RSA-SHA256" in url
    assert "X-Goog-Expires=600" in url
    assert "signer%40objstore-test.iam.gserviceaccount.com" in url
    signed, signature = v4_string_to_sign(url, method)
    public_key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())  # raises if it does not verify
    with pytest.raises(InvalidSignature):
        public_key.verify(signature, signed + b"tampered", padding.PKCS1v15(), hashes.SHA256())


def test_anonymous_credentials_cannot_sign(store: ObjectStorageService) -> None:
    assert not store.capabilities.presigned_urls
    with pytest.raises(NotSupported, match="can sign"):
        store.presign_url("", "k")


def test_resumable_upload_of_a_seekable_source_keeps_its_sha256(store: ObjectStorageService, tmp_path: Path) -> None:
    content = random.Random(21).randbytes(9 * MiB + 11)
    path = tmp_path / "source.bin"
    path.write_bytes(content)
    with open(path, "rb") as handle:
        info = store.put_object_stream("r", "file.bin", handle)
    assert info.checksum_sha256 == hashlib.sha256(content).hexdigest()
    assert store.head_object("r", "file.bin").checksum_sha256 == info.checksum_sha256
    store.put_object_stream("r", "pipe.bin", ShortReadStream(content, most=65536))
    assert store.head_object("r", "pipe.bin").size == len(content)
    assert store.get_object("r", "pipe.bin") == content


def test_a_resumable_chunk_that_fails_is_sent_again_alone(
    adapter: GCSAdapter, store: ObjectStorageService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The third chunk's connection drops: the SDK sends that chunk again (still in memory), not the upload."""
    session = adapter._bucket.client._http
    real = session.request
    sends: dict[str, int] = {}

    def flaky(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        span = (kwargs.get("headers") or {}).get("content-range", "")
        if method == "PUT" and span.startswith("bytes "):
            first = span.split()[1].split("-")[0]
            sends[first] = sends.get(first, 0) + 1
            if first == str(8 * MiB) and sends[first] == 1:
                raise requests.ConnectionError("the connection dropped while chunk 3 was sent")
        return real(method, url, *args, **kwargs)

    monkeypatch.setattr(session, "request", flaky)
    content = random.Random(3).randbytes(14 * MiB)
    store.put_object_stream("", "resumed.bin", ShortReadStream(content, most=1_000_000))
    assert sends == {"0": 1, str(4 * MiB): 1, str(8 * MiB): 2, str(12 * MiB): 1}
    assert store.get_object("", "resumed.bin") == content


def test_create_only_resumable_upload_is_refused_before_uploading(store: ObjectStorageService) -> None:
    store.put_object("r", "taken.bin", b"first")
    with pytest.raises(ObjectAlreadyExists):
        store.put_object_stream("r", "taken.bin", ShortReadStream(b"x" * (9 * MiB)), if_none_match="*")
    assert store.get_object("r", "taken.bin") == b"first"


def test_content_not_matching_its_stored_sha256_is_an_integrity_error(
    store: ObjectStorageService, adapter: GCSAdapter
) -> None:
    blob = adapter._bucket.blob(f"{adapter.config.base_prefix}/tampered.bin")
    blob.metadata = {"objstore_sha256": hashlib.sha256(b"original").hexdigest()}
    blob.upload_from_string(b"changed behind our back")
    with pytest.raises(IntegrityError):
        store.get_object("", "tampered.bin")


def test_gs_urls_and_the_original_style_constructor(gcs_server: str, gcs_bucket: str) -> None:
    store = ObjectStorageFactory.from_url(f"gs://{gcs_bucket}/via-url", endpoint=gcs_server)
    store.put_object("", "k", b"x")
    assert isinstance(unwrap(store.adapter), GCSAdapter)
    assert isinstance(store.adapter, RetryingAdapter)  # a store across a network retries by default
    assert not isinstance(
        ObjectStorageFactory.from_url(f"gs://{gcs_bucket}?retry=false", endpoint=gcs_server).adapter, RetryingAdapter
    )
    again = ObjectStorageFactory.ObjectStorageServiceGCP(gcs_bucket, "via-url", endpoint=gcs_server)
    assert again.get_object("", "k") == b"x"


def test_the_emulator_host_variable_is_honoured(
    gcs_server: str, gcs_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_server)
    store = ObjectStorageFactory.from_url(f"gs://{gcs_bucket}/emulator-env")
    store.put_object("", "k", b"via STORAGE_EMULATOR_HOST")
    assert store.get_object("", "k") == b"via STORAGE_EMULATOR_HOST"


def test_no_google_credentials_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "STORAGE_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))
    monkeypatch.setenv("NO_GCE_CHECK", "True")  # never ask a metadata server
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")
    with pytest.raises(ConfigurationError, match="no Google credentials"):
        ObjectStorageFactory.from_url("gs://some-bucket")


def test_a_broken_key_file_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigurationError):
        GCSAdapter(GCSConfig(bucket="b", service_account_path=str(tmp_path / "bad.json")))
    with pytest.raises(ConfigurationError):
        GCSAdapter(GCSConfig(bucket="b", service_account_path=str(tmp_path / "missing.json")))


def test_config_is_checked() -> None:
    for bad in ({"bucket": ""}, {"bucket": "b", "chunk_size": 1000}, {"bucket": "b", "delete_concurrency": 0}):
        with pytest.raises(ConfigurationError):
            GCSConfig(**bad)  # type: ignore[arg-type]


def test_secrets_stay_out_of_repr(gcs_server: str, service_account_file: tuple[Path, Any]) -> None:
    path, _ = service_account_file
    adapter = gcs_adapter(gcs_server, "objstore-tests", service_account_path=str(path))
    private = json.loads(path.read_text())["private_key"]
    body = private.split("-----")[2].strip().splitlines()[1]
    for text in (repr(adapter), repr(adapter.config)):
        assert body not in text


def _count_requests(adapter: GCSAdapter, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Record the requests the adapter sends on its session from this thread (method and URL path with its query).

    Only the adapter's own calls count: a call the transport makes from inside one (google-auth sends a request
    again after refreshing a token) and calls from other threads are not the adapter's. They are printed, so a
    failing test's captured output shows them.
    """
    session = adapter._client._http
    real = session.request
    caller = threading.get_ident()
    inside = threading.local()
    sent: list[tuple[str, str]] = []

    def recording(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        parts = urllib.parse.urlsplit(url)
        entry = (method, f"{parts.path}?{parts.query}")
        outermost = not getattr(inside, "depth", 0) and threading.get_ident() == caller
        inside.depth = getattr(inside, "depth", 0) + 1
        try:
            response = real(method, url, *args, **kwargs)
        finally:
            inside.depth -= 1
        if outermost:
            sent.append(entry)
        else:
            print("not the adapter's own request:", entry, response.status_code)
        return response

    monkeypatch.setattr(session, "request", recording)
    return sent


@pytest.mark.parametrize(("start", "end"), [(None, None), (3, 9), (3, None), (0, -2), (2, -3), (0, 100)])
def test_a_read_is_one_get_described_by_its_answer(
    adapter: GCSAdapter, store: ObjectStorageService, monkeypatch: pytest.MonkeyPatch, start: Any, end: Any
) -> None:
    """No metadata read first (no window for a writer): the GET's headers describe the version it serves."""
    content = b"0123456789abcdef"
    store.put_object("d", "k", content, content_type="text/csv", metadata={"owner": "ana", "plain": "v"})
    head = store.head_object("d", "k")
    sent = _count_requests(adapter, monkeypatch)
    with adapter.open_object("d", "k", ReadOptions(start, end)) as opened:
        assert opened.stream.read() == content[start:end]
    assert [method for method, _ in sent] == ["GET"]
    assert "alt=media" in sent[0][1]
    assert "generation" not in sent[0][1]
    info = opened.info
    assert (info.key, info.size, info.etag, info.content_type) == ("d/k", len(content), head.etag, "text/csv")
    assert info.checksum_sha256 == head.checksum_sha256 == hashlib.sha256(content).hexdigest()
    assert dict(info.metadata) == dict(head.metadata) == {"owner": "ana", "plain": "v"}
    assert info.last_modified is not None
    assert head.last_modified is not None
    assert abs((info.last_modified - head.last_modified).total_seconds()) < 2


@pytest.mark.parametrize(("start", "end"), [(-4, None), (-100, 3), (20, None), (5, 3), (16, 20)])
def test_reads_that_need_the_size_first(
    adapter: GCSAdapter, store: ObjectStorageService, start: int, end: int | None
) -> None:
    """A start counted from the end, an empty range, a range past the end: described by a metadata read."""
    content = b"0123456789abcdef"
    store.put_object("d", "k", content)
    head = store.head_object("d", "k")
    with adapter.open_object("d", "k", ReadOptions(start, end)) as opened:
        assert opened.stream.read() == content[start:end]
    assert (opened.info.size, opened.info.etag) == (len(content), head.etag)


def test_an_empty_object_reads_whole_and_ranged(adapter: GCSAdapter, store: ObjectStorageService) -> None:
    store.put_object("d", "empty", b"")
    etag = store.head_object("d", "empty").etag
    for options in (ReadOptions(), ReadOptions(0, 5), ReadOptions(-3), ReadOptions(2)):
        with adapter.open_object("d", "empty", options) as opened:
            assert opened.stream.read() == b""
        assert (opened.info.size, opened.info.etag) == (0, etag)


def test_a_missing_object_is_not_found_with_one_get(adapter: GCSAdapter, monkeypatch: pytest.MonkeyPatch) -> None:
    sent = _count_requests(adapter, monkeypatch)
    with pytest.raises(ObjectNotFound), adapter.open_object("d", "missing", ReadOptions(2, 5)):
        pass
    assert len(sent) == 1


def test_a_suffix_read_that_loses_the_race_to_a_writer_is_transient(
    adapter: GCSAdapter, store: ObjectStorageService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rare read that reads the metadata first: a writer replacing the object before its pinned GET."""
    store.put_object("d", "k", b"first version")
    real = adapter._media_request

    def replaced_first(blob: Any, headers: dict[str, str]) -> Any:
        store.put_object("d", "k", b"second version")
        return real(blob, headers)

    monkeypatch.setattr(adapter, "_media_request", replaced_first)
    with pytest.raises(TransientError, match="replaced"), adapter.open_object("d", "k", ReadOptions(-7)):
        pass
    monkeypatch.undo()
    with adapter.open_object("d", "k", ReadOptions(-7)) as opened:
        assert opened.stream.read() == b"version"


def test_a_whole_read_checks_the_sha256_its_answer_carries(
    adapter: GCSAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SHA-256 checked is the one served with the bytes (same version), not one read before."""
    blob = adapter._bucket.blob(f"{adapter.config.base_prefix}/tampered-live.bin")
    blob.metadata = {"objstore_sha256": hashlib.sha256(b"original").hexdigest()}
    blob.upload_from_string(b"changed behind our back")
    sent = _count_requests(adapter, monkeypatch)
    with pytest.raises(IntegrityError), adapter.open_object("", "tampered-live.bin", ReadOptions()) as opened:
        opened.stream.read()
    assert len(sent) == 1
    with adapter.open_object("", "tampered-live.bin", ReadOptions(0, 7)) as ranged:  # a slice is not checked
        assert ranged.stream.read() == b"changed"


def test_metadata_written_by_others_reads_from_the_headers(adapter: GCSAdapter) -> None:
    """Header names have no case (names come lowercased); values are UTF-8 sent as header bytes."""
    blob = adapter._bucket.blob(f"{adapter.config.base_prefix}/foreign.txt")
    blob.metadata = {"Mixed": "café ü"}
    blob.upload_from_string(b"x")
    with adapter.open_object("", "foreign.txt", ReadOptions()) as opened:
        assert opened.stream.read() == b"x"
    assert dict(opened.info.metadata) == {"mixed": "café ü"}
