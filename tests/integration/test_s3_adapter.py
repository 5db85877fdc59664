"""S3 adapter behaviour on a real server (SeaweedFS): multipart, integrity, credentials, failures."""

from __future__ import annotations

import hashlib
import io
import random
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ConnectionClosedError

from objstore import (
    AuthenticationError,
    ConfigurationError,
    IntegrityError,
    ObjectAlreadyExists,
    ObjectNotFound,
    ObjectStorageError,
    ObjectStorageFactory,
    ObjectStorageService,
    TransientError,
)
from objstore.adapters.layers.retry import RetryingAdapter, RetryPolicy
from objstore.adapters.s3 import S3Adapter
from objstore.ports.credentials import Credentials, ICredentialsProvider
from objstore.testing.conformance import PatternStream, ShortReadStream
from tests.conformance.test_s3 import boto_client, dead_s3_adapter, direct_requests, s3_adapter
from tests.harness.servers import free_port

MiB = 1024 * 1024


@pytest.fixture
def adapter(s3_server: Any, s3_bucket: str) -> S3Adapter:
    return s3_adapter(s3_server, s3_bucket)


@pytest.fixture
def store(adapter: S3Adapter) -> ObjectStorageService:
    return ObjectStorageService(adapter)


def bucket_key(adapter: S3Adapter, key: str) -> str:
    return f"{adapter.config.base_prefix}/{key}"


def open_uploads(s3_server: Any, bucket: str, adapter: S3Adapter) -> list[str]:
    response = s3_server.client().list_multipart_uploads(Bucket=bucket, Prefix=adapter.config.base_prefix)
    return [upload["Key"] for upload in response.get("Uploads", [])]


PATHS = pytest.mark.parametrize("direct", [True, False], ids=["direct", "sdk"])


def watch_parts(
    adapter: S3Adapter, before: Callable[[int], None], after: Callable[[int], None] = lambda number: None
) -> None:
    """Call ``before(part number)`` as each part is about to be sent (it may raise, as a dropped connection
    would) and ``after`` once it is sent, on whichever path the adapter sends parts: direct or botocore."""
    direct = direct_requests(adapter)
    if direct is not None:
        send = direct.upload_part

        def watched(bucket_key: str, upload_id: str, number: int, body: Any) -> dict[str, str]:
            before(number)
            try:
                return send(bucket_key, upload_id, number, body)
            finally:
                after(number)

        direct.upload_part = watched  # type: ignore[method-assign]
        return
    events = boto_client(adapter).meta.events
    events.register(
        "before-send.s3.UploadPart", lambda request, **_: before(int(request.url.split("partNumber=")[1].split("&")[0]))
    )
    events.register("after-call.s3.UploadPart", lambda **_: after(0))  # the number is not at hand here


@PATHS
def test_parts_go_up_in_parallel_within_the_concurrency_limit(direct: bool, s3_server: Any, s3_bucket: str) -> None:
    adapter = s3_adapter(s3_server, s3_bucket, direct_requests=direct)
    store = ObjectStorageService(adapter)
    in_flight = 0
    most = 0
    lock = threading.Lock()

    def before(number: int) -> None:
        nonlocal in_flight, most
        with lock:
            in_flight += 1
            most = max(most, in_flight)

    def after(number: int) -> None:
        nonlocal in_flight
        with lock:
            in_flight -= 1

    watch_parts(adapter, before, after)
    source = PatternStream(40 * MiB + 7, seed=11)
    info = store.put_object_stream("mp", "parallel.bin", source)
    assert info.size == 40 * MiB + 7
    assert 1 < most <= adapter.config.max_concurrency
    digest = hashlib.sha256(store.get_object("mp", "parallel.bin")).hexdigest()
    assert digest == source.sha256.hexdigest()


@PATHS
def test_a_part_that_fails_is_sent_again_alone(direct: bool, s3_server: Any, s3_bucket: str) -> None:
    """Part 3 fails three times: under the retry layer the upload resumes at part 3, not from the start. The adapter
    itself sends each part once (no retries of its own, nor of botocore's): the retry layer is the one place."""
    adapter = s3_adapter(s3_server, s3_bucket, direct_requests=direct)
    sends: dict[int, int] = {}
    lock = threading.Lock()

    def before(number: int) -> None:
        with lock:
            sends[number] = sends.get(number, 0) + 1
            failing = number == 3 and sends[number] <= 3
        if failing:  # the connection dropped while part 3 was sent
            raise ConnectionClosedError(endpoint_url="part 3") if not direct else ConnectionResetError("part 3")

    watch_parts(adapter, before)
    with pytest.raises(TransientError):
        ObjectStorageService(adapter).put_object_stream("mp", "alone.bin", PatternStream(22 * MiB, seed=5))
    assert sends.get(3) == 1  # tried once, and the upload failed (and was aborted)
    assert open_uploads(s3_server, s3_bucket, adapter) == []
    sends.clear()
    store = ObjectStorageService(RetryingAdapter(adapter, RetryPolicy(attempts=4), sleep=lambda _: None))
    source = PatternStream(22 * MiB, seed=5)
    info = store.put_object_stream("mp", "resumed.bin", source)
    assert info.size == 22 * MiB
    assert sends == {1: 1, 2: 1, 3: 4, 4: 1, 5: 1}  # 3 failures, then the 4th try of part 3 lands
    digest = hashlib.sha256(store.get_object("mp", "resumed.bin")).hexdigest()
    assert digest == source.sha256.hexdigest()


def test_a_failed_multipart_upload_is_aborted_and_leaves_nothing(
    store: ObjectStorageService, adapter: S3Adapter, s3_server: Any, s3_bucket: str
) -> None:
    class DiesAfter20MiB:
        sent = 0

        def read(self, n: int = -1) -> bytes:
            if self.sent >= 20 * MiB:
                raise OSError("the source disk went away")
            take = min(n if n > 0 else MiB, MiB)
            self.sent += take
            return b"z" * take

    with pytest.raises(ObjectStorageError):
        store.put_object_stream("mp", "doomed.bin", DiesAfter20MiB())
    assert open_uploads(s3_server, s3_bucket, adapter) == []
    assert not store.exists("mp", "doomed.bin")


def test_a_seekable_multipart_source_gets_a_sha256_and_a_pipe_does_not(
    store: ObjectStorageService, tmp_path: Path
) -> None:
    content = random.Random(12).randbytes(12 * MiB + 5)
    path = tmp_path / "big.bin"
    path.write_bytes(content)
    with open(path, "rb") as handle:
        info = store.put_object_stream("mp", "from-file.bin", handle)
    assert info.checksum_sha256 == hashlib.sha256(content).hexdigest()
    assert store.head_object("mp", "from-file.bin").checksum_sha256 == info.checksum_sha256
    store.put_object_stream("mp", "from-pipe.bin", ShortReadStream(content, most=MiB))
    assert store.head_object("mp", "from-pipe.bin").checksum_sha256 is None
    assert store.get_object("mp", "from-pipe.bin") == content


def test_create_only_multipart_is_refused_before_uploading(store: ObjectStorageService, adapter: S3Adapter) -> None:
    store.put_object("mp", "exists.bin", b"already here")
    calls: list[int] = []
    watch_parts(adapter, calls.append)
    with pytest.raises(ObjectAlreadyExists):
        store.put_object_stream("mp", "exists.bin", PatternStream(12 * MiB), if_none_match="*")
    assert calls == []
    assert store.get_object("mp", "exists.bin") == b"already here"


def test_create_only_multipart_loses_to_a_writer_that_finishes_first(
    store: ObjectStorageService, adapter: S3Adapter, s3_server: Any, s3_bucket: str
) -> None:
    class RacingSource(PatternStream):
        raced = False

        def read(self, n: int = -1) -> bytes:
            if not self.raced and self._left < 6 * MiB:
                self.raced = True
                store.put_object("mp", "contested.bin", b"the other writer won")
            return super().read(n)

    with pytest.raises(ObjectAlreadyExists):
        store.put_object_stream("mp", "contested.bin", RacingSource(12 * MiB, seed=3), if_none_match="*")
    assert store.get_object("mp", "contested.bin") == b"the other writer won"
    assert open_uploads(s3_server, s3_bucket, adapter) == []


def test_multipart_copy_above_the_threshold(s3_server: Any, s3_bucket: str) -> None:
    adapter = s3_adapter(s3_server, s3_bucket, copy_multipart_threshold=5 * MiB)
    store = ObjectStorageService(adapter)
    source = PatternStream(12 * MiB + 1, seed=13)
    store.put_object_stream("cp", "src.bin", source, content_type="video/mp4", metadata={"take": "3"})
    calls = []
    boto_client(adapter).meta.events.register("before-call.s3.UploadPartCopy", lambda **_: calls.append(1))
    store.copy_object("cp", "src.bin", "cp", "dst.bin")
    assert len(calls) == 3
    info = store.head_object("cp", "dst.bin")
    assert (info.size, info.content_type, dict(info.metadata)) == (12 * MiB + 1, "video/mp4", {"take": "3"})
    assert hashlib.sha256(store.get_object("cp", "dst.bin")).hexdigest() == source.sha256.hexdigest()


def test_content_not_matching_its_stored_sha256_is_an_integrity_error(
    store: ObjectStorageService, adapter: S3Adapter, s3_server: Any, s3_bucket: str
) -> None:
    s3_server.client().put_object(
        Bucket=s3_bucket,
        Key=bucket_key(adapter, "tampered.bin"),
        Body=b"changed behind our back",
        Metadata={"objstore_sha256": hashlib.sha256(b"original").hexdigest()},
    )
    with pytest.raises(IntegrityError):
        store.get_object("", "tampered.bin")
    with store.get_object_stream("", "tampered.bin", 0, 7) as stream:  # a range cannot be checked: no error
        assert stream.read() == b"changed"


def test_keys_no_objstore_key_can_name_are_not_listed(
    store: ObjectStorageService, adapter: S3Adapter, s3_server: Any, s3_bucket: str
) -> None:
    raw = s3_server.client()
    for key in ("ok.txt", "folder-marker/", "bell\x07.txt"):
        raw.put_object(Bucket=s3_bucket, Key=bucket_key(adapter, key), Body=b"x")
    assert [info.key for info in store.iter_objects("")] == ["ok.txt"]


def test_errors_carry_the_request_id(store: ObjectStorageService) -> None:
    with pytest.raises(ObjectNotFound) as caught:
        store.get_object("", "missing")
    assert caught.value.request_id
    assert caught.value.status == 404


def test_a_wrong_secret_is_an_authentication_error(s3_server: Any, s3_bucket: str) -> None:
    store = ObjectStorageService(s3_adapter(s3_server, s3_bucket, secret_access_key="not-the-secret"))
    with pytest.raises(AuthenticationError) as caught:
        store.list_objects("")
    assert "not-the-secret" not in str(caught.value)


def test_an_unknown_key_id_is_an_authentication_error(s3_server: Any, s3_bucket: str) -> None:
    store = ObjectStorageService(s3_adapter(s3_server, s3_bucket, access_key_id="NOSUCHKEY"))
    with pytest.raises(AuthenticationError):
        store.put_object("", "k", b"x")


def test_a_missing_bucket_is_a_configuration_error(s3_server: Any) -> None:
    store = ObjectStorageService(s3_adapter(s3_server, "no-such-bucket-here"))
    with pytest.raises(ConfigurationError, match="bucket does not exist"):
        store.get_object("", "k")


def test_create_bucket_on_request(s3_server: Any) -> None:
    name = f"created-{uuid.uuid4().hex[:12]}"
    store = ObjectStorageService(s3_adapter(s3_server, name, create_bucket=True))
    store.put_object("", "k", b"x")
    assert name in [bucket["Name"] for bucket in s3_server.client().list_buckets()["Buckets"]]


def test_a_dead_server_is_a_transient_error(s3_server: Any) -> None:
    adapter = dead_s3_adapter()
    with pytest.raises(TransientError) as caught:
        ObjectStorageService(adapter).get_object("", "k")
    assert caught.value.retryable


def test_no_credentials_anywhere_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    store = ObjectStorageFactory.from_url("s3://bucket", endpoint_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ConfigurationError, match="no S3 credentials"):
        store.get_object("", "k")


def test_the_aws_environment_chain_is_used(
    s3_server: Any, s3_bucket: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_access_key)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint_url)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    prefix = f"env/{uuid.uuid4().hex}"
    store = ObjectStorageFactory.from_url(f"s3://{s3_bucket}/{prefix}")
    store.put_object("", "k", b"from the environment")
    raw = s3_server.client().get_object(Bucket=s3_bucket, Key=f"{prefix}/k")
    assert raw["Body"].read() == b"from the environment"


def test_an_aws_profile_is_used(
    s3_server: Any, s3_bucket: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "credentials").write_text(
        f"[objstore-test]\naws_access_key_id = {s3_server.access_key_id}\n"
        f"aws_secret_access_key = {s3_server.secret_access_key}\n"
    )
    (tmp_path / "config").write_text(
        f"[profile objstore-test]\nregion = eu-west-3\nendpoint_url = {s3_server.endpoint_url}\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_PROFILE", "objstore-test")
    prefix = f"profile/{uuid.uuid4().hex}"
    store = ObjectStorageFactory.from_url(f"s3://{s3_bucket}/{prefix}", addressing_style="path")
    store.put_object("", "k", b"from a profile")
    assert s3_server.client().get_object(Bucket=s3_bucket, Key=f"{prefix}/k")["Body"].read() == b"from a profile"
    with pytest.raises(ConfigurationError, match="profile"):
        ObjectStorageFactory.from_url(f"s3://{s3_bucket}", profile_name="no-such-profile")


def test_a_batch_delete_reports_a_key_too_long_for_the_bucket(store: ObjectStorageService) -> None:
    store.put_object("", "short", b"x")
    too_long = "k" * (store.capabilities.max_key_bytes + 1)
    result = store.delete_objects("", ["short", too_long])
    assert list(result.deleted) == ["short"]
    assert set(result.errors) == {too_long}


def test_the_original_factory_signature(s3_server: Any, s3_bucket: str) -> None:
    store = ObjectStorageFactory.ObjectStorageServiceS3(
        s3_server.access_key_id,
        s3_server.secret_access_key,
        s3_bucket,
        f"orig/{uuid.uuid4().hex}",
        endpoint_url=s3_server.endpoint_url,
    )
    store.put_object("docs", "a.txt", b"x")
    assert store.list_objects("docs") == ["docs/a.txt"]


def test_secrets_stay_out_of_repr(adapter: S3Adapter, s3_server: Any) -> None:
    for text in (repr(adapter), repr(adapter.config), repr(ObjectStorageService(adapter))):
        assert s3_server.secret_access_key not in text
        assert s3_server.access_key_id not in text


class SwitchingProvider(ICredentialsProvider):
    """Hands out a revoked key first, then the good one: the adapter must renew once and carry on."""

    def __init__(self, good: Credentials) -> None:
        self.good = good
        self.fetches = 0

    def fetch(self) -> Credentials:
        self.fetches += 1
        if self.fetches == 1:
            return Credentials("REVOKEDKEY0000", "revoked-secret", expires_at=None)
        return self.good


def test_rejected_provider_credentials_are_renewed_once_and_the_call_succeeds(s3_server: Any, s3_bucket: str) -> None:
    good = Credentials(
        s3_server.access_key_id,
        s3_server.secret_access_key,
        expires_at=datetime.now(timezone.utc) + timedelta(hours=1),
    )
    provider = SwitchingProvider(good)
    adapter = s3_adapter(
        s3_server, s3_bucket, access_key_id=None, secret_access_key=None, credentials_provider=provider
    )
    store = ObjectStorageService(adapter)
    store.put_object("", "k", b"after one renewal")
    assert store.get_object("", "k") == b"after one renewal"
    store.put_object_stream("", "big", io.BytesIO(b"y" * (6 * MiB)))
    assert provider.fetches == 2
    assert adapter.credentials_refresh_count == 2
