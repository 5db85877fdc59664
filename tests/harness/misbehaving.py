"""A small HTTP server on 127.0.0.1 that misbehaves the way real servers and middleboxes do, for the tests.

Standard library only (``http.server`` in a thread). Modes:

- ``hang``: accepts every connection, reads nothing and never answers (a stuck gateway, a dead backend behind a
  load balancer that still accepts).
- ``s3-repeat-token``: S3 ``ListObjectsV2`` whose every page says it is truncated and hands back the same
  ``NextContinuationToken``; ``GetObject``/``HeadObject`` answer 404.
- ``s3-outside-prefix``: S3 ``ListObjectsV2`` answering ``short.bin`` whatever prefix was asked for.
- ``gcs-repeat-token`` / ``gcs-outside-prefix``: the same two lies in the GCS JSON API's object listing
  (``GET /storage/v1/b/BUCKET/o``, ``nextPageToken``).

Every request is recorded (method and path) so a test can count how many the client made.
"""

from __future__ import annotations

import http.server
import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.harness.servers import free_port

__all__ = ["MODES", "MisbehavingServer", "misbehaving_server"]

MODES = ("hang", "s3-repeat-token", "s3-outside-prefix", "gcs-repeat-token", "gcs-outside-prefix")
OUTSIDE_KEY = "short.bin"
REPEATED_TOKEN = "the-same-token"  # noqa: S105 - a page token, not a secret


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *_: Any) -> None:
        pass

    def _record(self) -> None:
        with self.server.lock:
            self.server.requests.append((self.command, self.path))

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        self._record()
        mode = self.server.mode
        if mode == "hang":
            self.server.stopping.wait()  # holds the connection open, silent, until the server stops
            self.close_connection = True
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        if mode.startswith("s3-") and self.command == "GET" and query.get("list-type") == "2":
            self._answer(200, _s3_listing(mode, query), "application/xml")
        elif mode.startswith("gcs-") and self.command == "GET" and url.path.endswith("/o"):
            self._answer(200, _gcs_listing(mode, query), "application/json")
        elif mode.startswith("gcs-"):
            body = json.dumps({"error": {"code": 404, "message": "No such object"}}).encode()
            self._answer(404, body, "application/json")
        else:
            body = b"<Error><Code>NoSuchKey</Code><Message>no such key</Message></Error>"
            self._answer(404, b"" if self.command == "HEAD" else body, "application/xml")

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle


def _s3_listing(mode: str, query: dict[str, str]) -> bytes:
    prefix = query.get("prefix", "")
    if mode == "s3-repeat-token":
        # A new key on each page, so only the token gives the loop away.
        with _counter_lock:
            _counter[0] += 1
            key = f"{prefix}item-{_counter[0]:09d}"
        truncated = "<IsTruncated>true</IsTruncated>"
        token = f"<NextContinuationToken>{REPEATED_TOKEN}</NextContinuationToken>"
    else:
        key, truncated, token = OUTSIDE_KEY, "<IsTruncated>false</IsTruncated>", ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"<Name>bucket</Name><Prefix>{prefix}</Prefix><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys>{truncated}"
        f"{token}<Contents><Key>{key}</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified>"
        '<ETag>"d41d8cd98f00b204e9800998ecf8427e"</ETag><Size>3</Size><StorageClass>STANDARD</StorageClass>'
        "</Contents></ListBucketResult>"
    ).encode()


def _gcs_listing(mode: str, query: dict[str, str]) -> bytes:
    prefix = query.get("prefix", "")
    if mode == "gcs-repeat-token":
        with _counter_lock:
            _counter[0] += 1
            name = f"{prefix}item-{_counter[0]:09d}"
        extra: dict[str, Any] = {"nextPageToken": REPEATED_TOKEN}
    else:
        name, extra = OUTSIDE_KEY, {}
    item = {
        "kind": "storage#object",
        "name": name,
        "bucket": "bucket",
        "generation": "1",
        "size": "3",
        "updated": "2026-01-01T00:00:00.000Z",
    }
    return json.dumps({"kind": "storage#objects", "items": [item], **extra}).encode()


_counter = [0]
_counter_lock = threading.Lock()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, mode: str) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.mode = mode
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()


class MisbehavingServer:
    """One misbehaving server in a background thread; ``url`` is its endpoint.

    Attributes:
        mode: One of :data:`MODES`.
        url: ``http://127.0.0.1:PORT``.
    """

    def __init__(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        self.mode = mode
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = _Server(self.port, mode)
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"misbehaving-{mode}", daemon=True)

    @property
    def requests(self) -> list[tuple[str, str]]:
        """The requests received so far: (method, path with query)."""
        with self._server.lock:
            return list(self._server.requests)

    def start(self) -> MisbehavingServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.stopping.set()  # releases the handlers of ``hang``
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@contextmanager
def misbehaving_server(mode: str) -> Iterator[MisbehavingServer]:
    """A started :class:`MisbehavingServer`, stopped on exit."""
    server = MisbehavingServer(mode).start()
    try:
        yield server
    finally:
        server.stop()
