"""Direct S3 requests (``direct_requests``): the same objects and the same errors as botocore's path."""

from __future__ import annotations

import http.server
import io
import socket
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from objstore import (
    AuthenticationError,
    IntegrityError,
    ObjectAlreadyExists,
    ObjectNotFound,
    ObjectStorageService,
    PreconditionFailed,
    Throttled,
    TransientError,
)
from objstore.adapters.layers.retry import RetryingAdapter, RetryPolicy
from objstore.adapters.s3 import S3Adapter, S3Config
from objstore.domain.models import ReadOptions
from tests.conformance.test_s3 import dead_s3_adapter, direct_requests, s3_adapter

PATHS = pytest.mark.parametrize("direct", [True, False], ids=["direct", "sdk"])


def test_direct_requests_are_on_for_a_custom_endpoint(s3_server: Any, s3_bucket: str) -> None:
    assert direct_requests(s3_adapter(s3_server, s3_bucket)) is not None
    assert direct_requests(s3_adapter(s3_server, s3_bucket, direct_requests=False)) is None


def test_direct_requests_are_off_for_aws_and_behind_a_proxy(
    monkeypatch: pytest.MonkeyPatch, s3_server: Any, s3_bucket: str
) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    aws = S3Config(bucket="b", region_name="eu-west-1", access_key_id="k", secret_access_key="s")
    assert direct_requests(S3Adapter(aws)) is None
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "")
    assert direct_requests(s3_adapter(s3_server, s3_bucket)) is None


def test_a_virtual_hosted_endpoint_puts_the_bucket_in_the_host_name() -> None:
    adapter = S3Adapter(
        S3Config(
            bucket="b",
            endpoint_url="https://storage.example:9000/base/",
            addressing_style="virtual",
            region_name="r1",
            access_key_id="k",
            secret_access_key="s",
        )
    )
    direct = direct_requests(adapter)
    assert direct is not None
    assert (direct._scheme, direct._host, direct._path_prefix, direct._region) == (
        "https",
        "b.storage.example:9000",
        "/base/",
        "r1",
    )


def test_both_paths_store_the_same_object(s3_server: Any, s3_bucket: str) -> None:
    prefix = f"same/{uuid.uuid4().hex}"
    raw = s3_server.client()
    heads = []
    for direct in (True, False):
        adapter = s3_adapter(s3_server, s3_bucket, base_prefix=prefix, direct_requests=direct)
        key = f"path-{direct}/naïve key (1) + ~tilde!.txt"
        info = ObjectStorageService(adapter).put_object_stream(
            "", key, io.BytesIO(b"hello"), content_type="text/plain", metadata={"owner": "data-team"}
        )
        head = raw.head_object(Bucket=s3_bucket, Key=f"{prefix}/{key}")
        assert info.etag == head["ETag"].strip('"')
        heads.append((head["ContentType"], head["Metadata"], head["ContentLength"]))
    assert (
        heads[0]
        == heads[1]
        == ("text/plain", {"owner": "data-team", "objstore_sha256": heads[0][1]["objstore_sha256"]}, 5)
    )


@PATHS
def test_both_paths_raise_the_same_errors(direct: bool, s3_server: Any, s3_bucket: str) -> None:
    store = ObjectStorageService(s3_adapter(s3_server, s3_bucket, direct_requests=direct))
    store.put_object("", "k", b"one")
    first = store.head_object("", "k")
    with pytest.raises(ObjectAlreadyExists):
        store.put_object("", "k", b"two", if_none_match="*")
    with pytest.raises(PreconditionFailed):
        store.put_object("", "k", b"two", if_match="0" * 32)
    store.put_object("", "k", b"two", if_match=first.etag)
    assert store.get_object("", "k") == b"two"
    wrong = ObjectStorageService(s3_adapter(s3_server, s3_bucket, secret_access_key="not-it", direct_requests=direct))
    with pytest.raises(AuthenticationError) as caught:
        wrong.put_object("", "k", b"x")
    assert "not-it" not in str(caught.value)
    dead = dead_s3_adapter(direct_requests=direct)
    with pytest.raises(TransientError):
        ObjectStorageService(dead).put_object("", "k", b"x")


def test_a_pooled_connection_the_server_dropped_is_replaced(s3_server: Any, s3_bucket: str) -> None:
    adapter = s3_adapter(s3_server, s3_bucket)
    store = ObjectStorageService(adapter)
    store.put_object("", "a", b"1")
    direct = direct_requests(adapter)
    assert direct is not None
    assert len(direct._idle) == 1
    stale = direct._idle[0]
    assert stale.sock is not None
    stale.sock.shutdown(socket.SHUT_RDWR)  # as a server's idle timeout would
    store.put_object("", "b", b"2")
    assert store.get_object("", "b") == b"2"
    assert len(direct._idle) == 1
    assert direct._idle[0] is not stale


class _Throttling(http.server.BaseHTTPRequestHandler):
    """Answers the first ``throttle`` PUTs with 503 SlowDown (Retry-After: 0), then 200."""

    protocol_version = "HTTP/1.1"
    throttle = 1
    seen: list[str] = []  # noqa: RUF012 - reset per test

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).seen.append(self.path)
        if len(self.seen) <= self.throttle:
            body = b"<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>"
            self.send_response(503)
            self.send_header("Retry-After", "0")
        else:
            body = b""
            self.send_response(200)
            self.send_header("ETag", '"abc"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def throttling() -> Iterator[tuple[str, type[_Throttling]]]:
    handler = type("Handler", (_Throttling,), {"seen": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


@PATHS
def test_a_throttled_put_is_sent_once_and_tried_again_by_the_retry_layer_alone(
    direct: bool, throttling: tuple[str, Any]
) -> None:
    """No retries of the adapter's own (direct requests) or of botocore's: the retry layer is the one place."""
    url, handler = throttling
    config = S3Config(bucket="b", endpoint_url=url, access_key_id="k", secret_access_key="s", direct_requests=direct)
    adapter = S3Adapter(config)
    assert (direct_requests(adapter) is not None) is direct
    with pytest.raises(Throttled) as caught:
        adapter.put_object_stream("", "k", io.BytesIO(b"x"))
    assert caught.value.retryable
    assert caught.value.status == 503
    assert handler.seen == ["/b/k"]
    handler.seen.clear()
    layered = RetryingAdapter(adapter, RetryPolicy(attempts=3), sleep=lambda _: None)
    assert layered.put_object_stream("", "k", io.BytesIO(b"x")).etag == "abc"
    assert handler.seen == ["/b/k", "/b/k"]


def test_a_body_read_to_the_end_gives_its_connection_back_and_one_left_unread_closes_it(
    s3_server: Any, s3_bucket: str
) -> None:
    adapter = s3_adapter(s3_server, s3_bucket)
    store = ObjectStorageService(adapter)
    data = bytes(range(256)) * 8192  # 2 MiB: more than one read
    store.put_object("", "body.bin", data)
    direct = direct_requests(adapter)
    assert direct is not None
    idle_before = len(direct._idle)
    assert store.get_object("", "body.bin") == data
    assert len(direct._idle) == idle_before  # the connection went out and came back
    kept = list(direct._idle)
    with store.get_object_stream("", "body.bin") as stream:
        assert stream.read(10) == data[:10]
        in_use = [c for c in kept if c not in direct._idle]
        assert len(in_use) == 1
    assert in_use[0] not in direct._idle  # closed with 2 MiB unread, not pooled
    assert in_use[0].sock is None
    assert store.get_object("", "body.bin") == data


@PATHS
def test_both_paths_read_the_same(direct: bool, s3_server: Any, s3_bucket: str) -> None:
    adapter = s3_adapter(s3_server, s3_bucket, direct_requests=direct)
    store = ObjectStorageService(adapter)
    store.put_object("", "r.bin", b"0123456789")
    assert store.get_object("", "r.bin") == b"0123456789"
    with store.get_object_stream("", "r.bin", start=3, end=7) as stream:
        assert stream.read() == b"3456"
    with store.get_object_stream("", "r.bin", start=20) as stream:
        assert stream.read() == b""
    with pytest.raises(ObjectNotFound) as caught:
        store.get_object("", "absent.bin")
    assert caught.value.status == 404
    assert caught.value.request_id
    raw = s3_server.client()
    raw.put_object(
        Bucket=s3_bucket,
        Key=f"{adapter.config.base_prefix}/tampered.bin",
        Body=b"not what was hashed",
        Metadata={"objstore_sha256": "0" * 64},
    )
    with pytest.raises(IntegrityError):
        store.get_object("", "tampered.bin")


def test_both_paths_describe_the_version_they_read(s3_server: Any, s3_bucket: str) -> None:
    """open_object's info comes from the GET's answer, the same on both paths: the whole size (from Content-Range
    for a range), etag, content type, metadata, SHA-256 and modification time, as a HEAD gives them."""
    prefix = f"describe/{uuid.uuid4().hex}"
    writer = ObjectStorageService(s3_adapter(s3_server, s3_bucket, base_prefix=prefix))
    writer.put_object("", "d.txt", b"0123456789", content_type="text/plain", metadata={"owner": "data-team"})
    seen = {}
    for direct in (True, False):
        adapter = s3_adapter(s3_server, s3_bucket, base_prefix=prefix, direct_requests=direct)
        assert (direct_requests(adapter) is not None) is direct
        head = adapter.head_object("", "d.txt")
        described = []
        for options in (ReadOptions(), ReadOptions(3, 7), ReadOptions(-4), ReadOptions(2, -2), ReadOptions(5, 5)):
            with adapter.open_object("", "d.txt", options) as opened:
                assert opened.stream.read() == b"0123456789"[options.start : options.end]
            described.append(opened.info)
        for info in described:
            assert info == head, (direct, info)
        seen[direct] = described
    assert seen[True] == seen[False]
    assert seen[True][0].size == 10
    assert seen[True][0].content_type == "text/plain"
    assert dict(seen[True][0].metadata) == {"owner": "data-team"}
    assert seen[True][0].checksum_sha256 is not None
    assert seen[True][0].last_modified is not None


@pytest.mark.parametrize("hierarchical", [False, True], ids=["flat", "by-folder"])
def test_both_paths_list_the_same(hierarchical: bool, s3_server: Any, s3_bucket: str) -> None:
    prefix = f"listing/{uuid.uuid4().hex}"
    keys = [
        "a b.txt",
        "a+b.txt",
        "a%20b.txt",
        "naïve/€ 1.txt",
        "deep/er/still/x.bin",
        "deep/y.bin",
        "z~tilde&amp;.txt",
        *[f"many/{i:03d}.bin" for i in range(25)],
    ]
    writer = ObjectStorageService(s3_adapter(s3_server, s3_bucket, base_prefix=prefix))
    for key in keys:
        writer.put_object("", key, key.encode())
    seen = {}
    for direct in (True, False):
        adapter = s3_adapter(
            s3_server, s3_bucket, base_prefix=prefix, direct_requests=direct, hierarchical=hierarchical
        )
        assert (direct_requests(adapter) is not None) is direct
        flat = [(i.key, i.size, i.etag, i.last_modified) for i in adapter.iter_objects("", page_size=7)]
        top = [(i.key, i.is_prefix) for i in adapter.iter_objects("", recursive=False, page_size=3)]
        seen[direct] = (flat, top)
    assert seen[True] == seen[False]
    assert sorted(key for key, *_ in seen[True][0]) == sorted(keys)
    assert all(when is not None and when.tzinfo is not None for *_, when in seen[True][0])
