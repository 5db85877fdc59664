"""Direct S3 requests: SigV4-signed requests over pooled ``http.client`` connections, without botocore's pipeline.

botocore spends about 2 ms of CPU on each request (parameter validation, a dozen event hooks, endpoint rules,
header objects, response parsing). For a large object that is nothing; for a folder of small files it is most
of the work, and with the GIL it caps a sync at a few hundred objects a second. This module sends the requests
that carry data or are made most often (``PutObject``, ``UploadPart``, ``GetObject`` and ``ListObjectsV2``
pages) for about a tenth of that; the rest (heads, deletes, copies, multipart bookkeeping) stays with botocore.
:class:`DirectTransport` is the :class:`~objstore.adapters.s3_transport.S3Transport` made of both: these requests
sent directly, the others by the botocore transport it extends.

It serves custom endpoints (S3-compatible stores), where an object's URL is plain: ``endpoint/bucket/key``, or
``bucket.endpoint/key`` when virtual-hosted. AWS itself, with its endpoint rules, stays with botocore. What is
not per-request still comes from botocore: the resolved endpoint and signing region, the credentials (read
afresh for each request, so refreshed ones are used); the certificate check is the one the client was built
with. Each request is sent once: retrying is the retry layer's. Errors are handed back as
``botocore.exceptions.ClientError`` with the fields botocore would fill, so ``translate_error`` maps them
exactly as it maps the SDK's.
"""

from __future__ import annotations

import email.utils
import hashlib
import http.client
import select
import socket
import ssl
import threading
import urllib.parse
import urllib.request
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any
from xml.etree import ElementTree

import botocore.exceptions
import botocore.httpsession
import botocore.parsers

from objstore.adapters.s3_transport import (
    BotocoreTransport,
    Conditions,
    Data,
    Encryption,
    ObjectAttributes,
    S3Get,
    S3Head,
    S3Listed,
    S3Page,
    content_md5,
)
from objstore.adapters.sigv4 import EMPTY_SHA256 as _EMPTY_SHA256
from objstore.adapters.sigv4 import CredentialSource, SigV4Signer

__all__ = ["DirectRequests", "DirectTransport", "PooledBody", "head_of_headers", "parse_timestamp"]


class DirectRequests:
    """Signed single requests to one bucket, over a small pool of keep-alive connections.

    Build it with :meth:`for_client`, which returns None where the direct path cannot promise what botocore
    does (no credentials, a proxy in the way, a bucket type with its own session auth).
    """

    def __init__(
        self,
        *,
        scheme: str,
        host: str,
        path_prefix: str,
        region: str,
        credentials: CredentialSource,
        timeout: tuple[float, float],
        pool_size: int,
        ssl_context: ssl.SSLContext | None,
        user_agent: str,
    ) -> None:
        self._scheme = scheme
        self._host = host
        self._path_prefix = path_prefix
        self._region = region
        self._credentials = credentials
        self._connect_timeout, self._read_timeout = timeout
        self._pool_size = pool_size
        self._ssl_context = ssl_context
        self._user_agent = user_agent
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._signer = SigV4Signer(region, "s3")

    @classmethod
    def for_client(
        cls,
        client: Any,
        bucket: str,
        *,
        virtual_hosted: bool,
        pool_size: int,
        user_agent: str,
        credentials: CredentialSource | None = None,
        verify: bool | str = True,
    ) -> DirectRequests | None:
        """Direct requests to ``bucket`` at the client's (custom) endpoint, signed as it signs; or None.

        ``credentials`` are the ones the client signs with, from botocore's public API: the session's
        ``get_credentials()`` (refreshable; read with ``get_frozen_credentials()`` at each request), or the
        explicit keys the client was built with. ``verify`` is the certificate check the client was built with
        (True, or a CA bundle's path). None where this path cannot promise what botocore does: no credentials, a
        proxy in the way, certificate checks turned off.
        """
        if credentials is None or verify is False:
            return None  # no credentials, or certificate checks off: left to botocore, this path always verifies
        endpoint = urllib.parse.urlsplit(client.meta.endpoint_url)
        if endpoint.scheme not in ("http", "https") or not endpoint.netloc:
            return None
        if urllib.request.getproxies().get(endpoint.scheme) and not urllib.request.proxy_bypass(
            endpoint.hostname or endpoint.netloc
        ):
            return None  # botocore would go through the proxy; so must we, and this path has none
        context = None
        if endpoint.scheme == "https":
            cafile = botocore.httpsession.get_cert_path(verify)
            context = ssl.create_default_context(cafile=cafile if isinstance(cafile, str) else None)
        base = endpoint.path.rstrip("/")
        if virtual_hosted:
            host, path_prefix = f"{bucket}.{endpoint.netloc}", f"{base}/"
        else:
            host, path_prefix = endpoint.netloc, f"{base}/{urllib.parse.quote(bucket)}/"
        config = client.meta.config
        return cls(
            scheme=endpoint.scheme,
            host=host,
            path_prefix=path_prefix,
            region=client.meta.region_name or "us-east-1",
            credentials=credentials,
            timeout=(float(config.connect_timeout), float(config.read_timeout)),
            pool_size=pool_size,
            ssl_context=context,
            user_agent=user_agent,
        )

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    # --- requests ---------------------------------------------------------------------------------------------

    def put_object(
        self, bucket_key: str, body: bytes | bytearray | memoryview, headers: Mapping[str, str]
    ) -> dict[str, str]:
        """PUT ``body`` at ``bucket_key``.

        Returns the response headers (lower-case names). Raises ``botocore.exceptions.ClientError`` for an error
        answer and ``http.client``/``OSError`` exceptions for network failures, as botocore would.
        """
        return self._put(bucket_key, "", body, headers, operation="PutObject")

    def upload_part(
        self, bucket_key: str, upload_id: str, number: int, body: bytes | bytearray | memoryview
    ) -> dict[str, str]:
        """Send part ``number`` of multipart upload ``upload_id``; the response headers hold its ETag."""
        query = f"partNumber={number}&uploadId={urllib.parse.quote(upload_id, safe='-_.~')}"
        return self._put(bucket_key, query, body, {}, operation="UploadPart")

    def _put(
        self,
        bucket_key: str,
        query: str,
        body: bytes | bytearray | memoryview,
        headers: Mapping[str, str],
        *,
        operation: str,
    ) -> dict[str, str]:
        # The payload is signed with its SHA-256, which the store checks against what arrives: an integrity check
        # end to end that costs less CPU than Content-MD5 (SHA-256 runs at about twice MD5's speed with the
        # CPU's SHA extensions), and hashlib releases the GIL while it runs.
        payload_hash = hashlib.sha256(body).hexdigest()
        path = self._path_prefix + urllib.parse.quote(bucket_key, safe="/~")
        request_headers = {name.lower(): value for name, value in headers.items()}
        request_headers["content-length"] = str(len(body))
        signed = self._sign("PUT", path, query, request_headers, payload_hash)
        signed["user-agent"] = self._user_agent
        return self._send("PUT", f"{path}?{query}" if query else path, body, signed, operation=operation)

    def get_object(self, bucket_key: str, headers: Mapping[str, str]) -> tuple[dict[str, str], PooledBody]:
        """GET ``bucket_key`` (``headers`` may hold a ``range``): the response headers and the body to read.

        The body holds its connection until it is read to the end (the connection then goes back to the pool)
        or closed (a connection with unread data on it is closed, not reused).
        """
        path = self._path_prefix + urllib.parse.quote(bucket_key, safe="/~")
        request_headers = {name.lower(): value for name, value in headers.items()}
        signed = self._sign("GET", path, "", request_headers, _EMPTY_SHA256)
        signed["user-agent"] = self._user_agent
        connection, response = self._exchange("GET", path, None, signed)
        response_headers = {name.lower(): value for name, value in response.getheaders()}
        if response.status >= 300:
            answer = self._finish(connection, response)
            raise _client_error("GetObject", response.status, response_headers, answer)
        return response_headers, PooledBody(self, connection, response)

    def list_objects_v2(self, prefix: str, *, delimiter: str | None, max_keys: int | None, token: str | None) -> S3Page:
        """One ``ListObjectsV2`` page.

        Keys are asked for URL-encoded (``encoding-type=url``, as botocore does), so a key holding characters
        XML cannot carry still arrives intact; they are decoded here.
        """
        params = {"encoding-type": "url", "list-type": "2", "prefix": prefix}
        if delimiter:
            params["delimiter"] = delimiter
        if max_keys:
            params["max-keys"] = str(max_keys)
        if token:
            params["continuation-token"] = token
        query = "&".join(f"{_encode(name)}={_encode(value)}" for name, value in sorted(params.items()))
        path = self._path_prefix.rstrip("/") or "/"
        signed = self._sign("GET", path, query, {}, _EMPTY_SHA256)
        signed["user-agent"] = self._user_agent
        connection, response = self._exchange("GET", f"{path}?{query}", None, signed)
        answer = self._finish(connection, response)
        if response.status >= 300:
            headers = {name.lower(): value for name, value in response.getheaders()}
            raise _client_error("ListObjectsV2", response.status, headers, answer)
        return _parse_listing(answer)

    def _send(
        self, method: str, path: str, body: bytes | bytearray | memoryview, headers: dict[str, str], *, operation: str
    ) -> dict[str, str]:
        connection, response = self._exchange(method, path, body, headers)
        answer = self._finish(connection, response)
        response_headers = {name.lower(): value for name, value in response.getheaders()}
        if response.status >= 300:
            raise _client_error(operation, response.status, response_headers, answer)
        return response_headers

    def _exchange(
        self, method: str, path: str, body: bytes | bytearray | memoryview | None, headers: dict[str, str]
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """Send a request, once, and read the status line and headers, on a pooled connection or a new one."""
        connection = self._checkout()
        try:
            connection.request(method, path, body=body, headers=headers)
            return connection, connection.getresponse()
        except BaseException:
            connection.close()
            raise

    def _finish(self, connection: http.client.HTTPConnection, response: http.client.HTTPResponse) -> bytes:
        """Read the rest of a response; the connection goes back to the pool if the server keeps it open."""
        try:
            answer = response.read()
        except BaseException:
            connection.close()
            raise
        self._release(connection, response)
        return answer

    def _release(self, connection: http.client.HTTPConnection, response: http.client.HTTPResponse) -> None:
        if response.will_close or not response.isclosed():
            connection.close()
        else:
            self._checkin(connection)

    def _checkout(self) -> http.client.HTTPConnection:
        """An idle connection the server has not closed meanwhile (checked as urllib3 checks), else a new one.

        Checked before use rather than sent again after a failure: a request is never sent twice from here.
        """
        while True:
            with self._lock:
                if not self._idle:
                    break
                connection = self._idle.pop()
            if not _dropped(connection.sock):
                return connection
            connection.close()
        return self._connect()

    def _checkin(self, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < self._pool_size:
                self._idle.append(connection)
                return
        connection.close()

    def _connect(self) -> http.client.HTTPConnection:
        if self._scheme == "https":
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                self._host, timeout=self._connect_timeout, context=self._ssl_context
            )
        else:
            connection = http.client.HTTPConnection(self._host, timeout=self._connect_timeout)
        connection.connect()
        if connection.sock is not None:
            connection.sock.settimeout(self._read_timeout)
        return connection

    # --- SigV4 ------------------------------------------------------------------------------------------------

    def _sign(self, method: str, path: str, query: str, headers: dict[str, str], payload_hash: str) -> dict[str, str]:
        """The headers to send, signed with SigV4 as S3 expects (see :mod:`objstore.adapters.sigv4`).

        ``path`` is sent as given (encoded once); ``query`` is already canonical: its parameters sorted by name,
        names and values URI-encoded. The credentials are read afresh for each request (they may be refreshed).
        """
        headers["host"] = self._host
        return self._signer.sign(
            method, path, query, headers, payload_hash, self._credentials.get_frozen_credentials()
        ).headers


class PooledBody:
    """A response body that gives its connection back to the pool once read to the end."""

    def __init__(
        self, owner: DirectRequests, connection: http.client.HTTPConnection, response: http.client.HTTPResponse
    ) -> None:
        self._owner = owner
        self._connection: http.client.HTTPConnection | None = connection
        self._response = response

    def read(self, size: int = -1) -> bytes:
        data = self._response.read(None if size is None or size < 0 else size)
        if not data or self._response.isclosed():
            self._done()
        return data

    def readinto(self, buffer: Any) -> int:
        count = self._response.readinto(buffer)
        if not count or self._response.isclosed():
            self._done()
        return count

    def close(self) -> None:
        """Stop reading: a connection with unread data on it cannot carry another request, so it is closed."""
        if self._connection is not None:
            if not self._response.isclosed():
                self._connection.close()
                self._connection = None
            else:
                self._done()

    def _done(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            self._owner._release(connection, self._response)


class DirectTransport(BotocoreTransport):
    """The S3 transport of custom endpoints: reads, writes, parts and listings as direct requests (the calls made
    most often, or carrying data); the rest (heads, deletes, copies, multipart bookkeeping, presigned URLs)
    through botocore, by the transport it extends."""

    def __init__(
        self, client: Any, bucket: str, requests: DirectRequests, *, encryption: Encryption | None = None
    ) -> None:
        super().__init__(client, bucket, encryption=encryption)
        self.requests = requests
        self._sse_headers = encryption.headers() if encryption is not None else {}

    def get(self, key: str, range_header: str | None) -> S3Get:
        headers, body = self.requests.get_object(key, {"range": range_header} if range_header is not None else {})
        return S3Get(head_of_headers(headers), body)

    def list_page(self, prefix: str, *, delimiter: str | None, max_keys: int | None, token: str | None) -> S3Page:
        return self.requests.list_objects_v2(prefix, delimiter=delimiter, max_keys=max_keys, token=token)

    def put(self, key: str, data: Data, attributes: ObjectAttributes, conditions: Conditions) -> str:
        headers = {"content-md5": content_md5(data), **self._sse_headers, **conditions.headers()}
        if attributes.content_type:
            headers["content-type"] = attributes.content_type
        headers.update({f"{_META}{name}": value for name, value in attributes.metadata.items()})
        return self.requests.put_object(key, data, headers).get("etag", "")

    def upload_part(self, key: str, upload_id: str, number: int, data: Data) -> str:
        return self.requests.upload_part(key, upload_id, number, data).get("etag", "")

    def close(self) -> None:
        self.requests.close()
        super().close()


_META = "x-amz-meta-"


def head_of_headers(headers: Mapping[str, str]) -> S3Head:
    """The object a direct GET's answer describes (header names in lower case), as botocore would shape it."""
    modified = headers.get("last-modified")
    try:
        last_modified = parse_timestamp(modified) if modified else None
    except ValueError:  # a date no parser reads: the object is still what the answer says
        last_modified = None
    return S3Head(
        length=int(headers.get("content-length", 0)),
        etag=headers.get("etag") or None,
        last_modified=last_modified,
        content_type=headers.get("content-type"),
        metadata={name[len(_META) :]: value for name, value in headers.items() if name.startswith(_META)},
        content_range=headers.get("content-range"),
    )


def parse_timestamp(value: Any) -> datetime:
    """S3's times without dateutil (which costs about 0.3 ms a time, once per object read or listed): ISO 8601 in
    listings (``2026-11-21T17:31:00.000Z``), HTTP dates in headers (``Sat, 21 Nov 2026 17:31:00 GMT``); anything
    else the default way."""
    if isinstance(value, str):
        try:
            if value[:4].isdigit():  # 2026-11-21T17:31:00.000Z (an HTTP date starts with the day's name)
                parsed = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
            else:
                parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            pass
        else:
            return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)
    return botocore.parsers.DEFAULT_TIMESTAMP_PARSER(value)  # type: ignore[no-any-return]


def _dropped(sock: socket.socket | None) -> bool:
    """Whether an idle keep-alive connection was closed by the server: its socket reads (an end of file, or bytes
    no request asked for), or is gone."""
    if sock is None:
        return True
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def _encode(value: str) -> str:
    return urllib.parse.quote(value, safe="-_.~")


def _parse_listing(answer: bytes) -> S3Page:
    """A ListObjectsV2 answer (the fields objstore reads), keys URL-decoded."""
    if b"<!DOCTYPE" in answer or b"<!ENTITY" in answer:
        raise http.client.HTTPException("a listing with a document type declaration")
    root = ElementTree.fromstring(answer)  # noqa: S314 - no DTD, so no entity expansion
    ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    url_encoded = (root.findtext(f"{ns}EncodingType") or "") == "url"

    def key(text: str | None) -> str:
        return urllib.parse.unquote_plus(text or "") if url_encoded else (text or "")  # S3 writes a space as +

    objects = [
        S3Listed(
            key=key(item.findtext(f"{ns}Key")),
            size=int(item.findtext(f"{ns}Size") or 0),
            etag=item.findtext(f"{ns}ETag") or None,
            last_modified=parse_timestamp(item.findtext(f"{ns}LastModified")),
        )
        for item in root.iterfind(f"{ns}Contents")
    ]
    return S3Page(
        objects=objects,
        prefixes=[key(item.findtext(f"{ns}Prefix")) for item in root.iterfind(f"{ns}CommonPrefixes")],
        truncated=(root.findtext(f"{ns}IsTruncated") or "").lower() == "true",
        next_token=root.findtext(f"{ns}NextContinuationToken") or None,
    )


def _client_error(
    operation: str, status: int, headers: dict[str, str], answer: bytes
) -> botocore.exceptions.ClientError:
    """The ClientError botocore would raise for this answer: the code and message of S3's XML error body."""
    code, message, request_id = str(status), "", headers.get("x-amz-request-id", "")
    if answer:
        try:
            if b"<!DOCTYPE" in answer or b"<!ENTITY" in answer:  # an S3 error body never declares entities
                raise ElementTree.ParseError("a document type declaration in an error body")
            root = ElementTree.fromstring(answer)  # noqa: S314 - no DTD, so no entity expansion
        except ElementTree.ParseError:
            message = answer[:200].decode("utf-8", "replace")
        else:
            code = root.findtext("Code") or code
            message = root.findtext("Message") or ""
            request_id = root.findtext("RequestId") or request_id
    return botocore.exceptions.ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": headers, "RequestId": request_id},
        },
        operation,
    )
