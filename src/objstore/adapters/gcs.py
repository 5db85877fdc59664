"""GCSAdapter: Google Cloud Storage through google-cloud-storage.

Listings page by page (flat and by delimiter), ranged reads as one streamed GET described by its answer, resumable
uploads above a threshold with memory bounded by the chunk size, generation preconditions for create-only and
if-match puts, server-side rewrite for copies of any size, parallel deletes, V4 signed URLs when the credentials
can sign. A SHA-256 of the content is kept as metadata (``objstore_sha256``) and checked on whole reads.

Etags are object generations: they change on every write and are exactly what GCS preconditions compare.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import io
import math
import os
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

try:
    import google.auth
    import google.auth.exceptions
    import requests
    import urllib3
    from google.api_core import exceptions as api_exceptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage
    from google.cloud.storage import retry as gcs_retry
    from google.oauth2 import service_account
except ImportError as exc:  # pragma: no cover - exercised by the factory's missing-extra error
    raise ModuleNotFoundError(str(exc), name="google.cloud.storage") from exc

from objstore.adapters.transfer import PrefixedStream, VerifyingReader, prehash_sha256, read_first
from objstore.domain.buffers import Lease
from objstore.domain.errors import (
    AuthenticationError,
    ConfigurationError,
    IntegrityError,
    InvalidKey,
    NotSupported,
    ObjectAlreadyExists,
    ObjectNotFound,
    ObjectStorageError,
    PermissionDenied,
    PreconditionFailed,
    ProtocolError,
    Throttled,
    TransientError,
)
from objstore.domain.keys import StoreRoot, as_listed, is_valid_key
from objstore.domain.listing import ListingGuard, in_key_order, page_in_name_order
from objstore.domain.models import (
    Capabilities,
    DeleteResult,
    ListOptions,
    ObjectInfo,
    OpenedObject,
    ReadOptions,
    WriteOptions,
)
from objstore.domain.streams import CHUNK_SIZE, is_seekable, resolve_range
from objstore.ports.storage import IObjectStorageAdapter, Readable, build_config

__all__ = ["GCSAdapter", "GCSConfig"]

MiB = 1024 * 1024
SHA256_METADATA = "objstore_sha256"
SECRET = {"secret": True}
T = TypeVar("T")


@dataclass(frozen=True)
class GCSConfig:
    """Options of the Google Cloud Storage store.

    Attributes:
        bucket: The bucket (``gs://BUCKET/prefix``).
        base_prefix: The folder inside the bucket that is the store's root.
        service_account_path: A service-account key file; else ``GOOGLE_APPLICATION_CREDENTIALS`` and the rest
            of Application Default Credentials. Signed URLs need credentials that can sign (a key file).
        project_id: The project; else the credentials' or ``GOOGLE_CLOUD_PROJECT``.
        endpoint: A custom endpoint (an emulator); else ``STORAGE_EMULATOR_HOST``. With an endpoint and no key
            file the client is anonymous, as emulators expect.
        credentials: A ready ``google.auth`` credentials object, in place of the above.
        resumable_threshold: Objects at least this large go up in a resumable upload.
        chunk_size: Resumable upload chunk (a multiple of 256 KiB); an upload's memory is bounded by it. Reads do
            not use it: each is one streamed GET, whatever its size, read as it arrives.
        store_sha256: Keep a SHA-256 as metadata (pre-hashed for seekable sources of resumable uploads).
        verify_sha256: Check it on whole reads (``IntegrityError``).
        delete_concurrency: Deletes in flight during a batch delete.
        create_bucket: Create the bucket if it does not exist.
        connect_timeout: Seconds to wait for a connection (URL option ``?connect_timeout=5``).
        read_timeout: Seconds to wait for any answer on a connection (``?read_timeout=30``). Every call is made
            once (``retry=None``): retrying is the retry layer's, costing one read timeout per try of a server that
            never answers. The one exception is a resumable upload's chunks (see ``GCSAdapter.write_object``).
    """

    bucket: str
    base_prefix: str = ""
    service_account_path: str | None = None
    project_id: str | None = None
    endpoint: str | None = None
    credentials: Any = field(default=None, repr=False, metadata=SECRET)
    resumable_threshold: int = 8 * MiB
    chunk_size: int = 8 * MiB
    store_sha256: bool = True
    verify_sha256: bool = True
    delete_concurrency: int = 16
    create_bucket: bool = False
    connect_timeout: float = 10.0
    read_timeout: float = 60.0

    def __post_init__(self) -> None:
        if not self.bucket:
            raise ConfigurationError("the GCS store needs a bucket (gs://BUCKET/prefix)")
        if self.chunk_size <= 0 or self.chunk_size % (256 * 1024):
            raise ConfigurationError("chunk_size must be a positive multiple of 256 KiB")
        if self.resumable_threshold < 1 or self.delete_concurrency < 1:
            raise ConfigurationError("resumable_threshold and delete_concurrency must be positive")
        if not all(0 < timeout < math.inf for timeout in (self.connect_timeout, self.read_timeout)):
            raise ConfigurationError("connect_timeout and read_timeout must be positive numbers of seconds")


_STATUS_TABLE: dict[int, type[ObjectStorageError]] = {
    400: ObjectStorageError,
    401: AuthenticationError,
    403: PermissionDenied,
    404: ObjectNotFound,
    409: TransientError,
    412: PreconditionFailed,
    429: Throttled,
    500: TransientError,
    502: TransientError,
    503: TransientError,
    504: TransientError,
}


def translate_error(exc: BaseException, *, key: str | None, conditional_create: bool = False) -> ObjectStorageError:
    """Translate a google-cloud-storage exception into the objstore hierarchy."""
    if isinstance(exc, ObjectStorageError):
        return exc
    if isinstance(exc, api_exceptions.GoogleAPICallError):
        status = int(exc.code) if exc.code else None
        cls = _STATUS_TABLE.get(status or 0, TransientError if (status or 0) >= 500 else ObjectStorageError)
        message = exc.message or type(exc).__name__
        if cls is ObjectNotFound and "bucket" in message.lower():
            cls, message = ConfigurationError, "the bucket does not exist"
        if cls is PreconditionFailed and conditional_create:
            cls, message = ObjectAlreadyExists, "the object already exists"
        if status == 400 and "name" in message.lower() and "invalid" in message.lower():
            cls = InvalidKey
        request_id = None
        response = getattr(exc, "response", None)
        if response is not None and getattr(response, "headers", None):
            request_id = response.headers.get("x-guploader-uploadid") or response.headers.get("x-goog-request-id")
        return cls(f"{message} ({status})", key=key, status=status, request_id=request_id)
    if isinstance(exc, google.auth.exceptions.DefaultCredentialsError):
        return ConfigurationError(
            "no Google credentials found: set GOOGLE_APPLICATION_CREDENTIALS, pass service_account_path, "
            "or give an emulator endpoint",
            key=key,
        )
    if isinstance(exc, google.auth.exceptions.RefreshError):
        return AuthenticationError(f"the Google credentials were refused: {exc}", key=key)
    if isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout | ConnectionError):
        return TransientError(f"network error talking to GCS: {type(exc).__name__}: {exc}", key=key)
    if type(exc).__name__ == "DataCorruption":
        return IntegrityError(f"GCS reported corrupted data: {exc}", key=key)
    if type(exc).__name__ == "InvalidResponse":
        status = getattr(getattr(exc, "response", None), "status_code", None)
        cls = _STATUS_TABLE.get(status or 0, ObjectStorageError)
        if cls is PreconditionFailed and conditional_create:
            cls = ObjectAlreadyExists
        return cls(f"GCS answered {status}: {exc}", key=key, status=status)
    return ObjectStorageError(f"unexpected {type(exc).__name__}: {exc}", key=key)


def _is_timeout(exc: BaseException) -> bool:
    if isinstance(exc, requests.exceptions.Timeout | TimeoutError):
        return True
    # google-auth wraps transport failures (a token refresh that timed out) with the original as its argument.
    return isinstance(exc, google.auth.exceptions.TransportError) and any(
        isinstance(arg, BaseException) and _is_timeout(arg) for arg in exc.args
    )


def _resend_chunk(exc: BaseException) -> bool:
    """What a resumable upload may send again itself (its chunk alone): what google-cloud-storage would (429,
    5xx, dropped connections), less timeouts, which are the retry layer's (one timeout per try, not many)."""
    return not _is_timeout(exc) and bool(gcs_retry._should_retry(exc))


def _read_error(exc: BaseException, relative: str) -> ObjectStorageError:
    """Translate an error raised while a download's body streams: a broken or stalled body is retryable."""
    if isinstance(exc, urllib3.exceptions.HTTPError | http.client.HTTPException | ConnectionError | TimeoutError):
        return TransientError(f"the read from GCS broke off: {type(exc).__name__}: {exc}", key=relative)
    return translate_error(exc, key=relative)


_META_HEADER = "x-goog-meta-"


def _live_range(options: ReadOptions) -> tuple[bool, str | None]:
    """Whether a read can be one GET of the live object, and the Range header it sends (None: the whole object).

    A range from a start counted from the front can be asked without knowing the size (an end counted from the
    back is applied once the answer gives the size: the rest of the body is never read). A start counted from
    the back, or a range empty whatever the size, cannot: see ``GCSAdapter._open_described``.
    """
    start, end = options.start or 0, options.end
    if start < 0 or (end is not None and 0 <= end <= start):
        return False, None
    if end is not None and end > 0:
        return True, f"bytes={start}-{end - 1}"
    return True, f"bytes={start}-" if start else None


def _served_range(status: int, headers: Any) -> tuple[int, int | None]:
    """The first byte a media GET serves and the object's whole size: ``Content-Range`` for a 206, else the
    stored length (the bytes are served as stored, see ``GCSAdapter._media_get``)."""
    if status == 206:
        span, _, total = str(headers.get("content-range", "")).removeprefix("bytes ").partition("/")
        first = span.partition("-")[0]
        if not (first.isdigit() and total.isdigit()):
            return 0, None
        return int(first), int(total)
    length = headers.get("x-goog-stored-content-length") or headers.get("content-length")
    return 0, int(length) if length and str(length).isdigit() else None


def _header_text(value: str) -> str:
    """A header value as text: HTTP hands header bytes on as Latin-1, GCS sends metadata as UTF-8."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None


class GCSAdapter(IObjectStorageAdapter):
    """A GCS bucket (and optional base prefix) as a store.

    Args:
        config: A :class:`GCSConfig`, or the bucket name followed by config fields as keywords.
    """

    name = "gcs"

    def __init__(self, config: GCSConfig | str, **options: Any) -> None:
        config = build_config(GCSConfig, config, options, "GCS")
        self.config = config
        self._root = StoreRoot.of(config.base_prefix)
        # Every request: bounded waits, and made once: retrying is the retry layer's (see GCSConfig.read_timeout).
        self._request: dict[str, Any] = {"timeout": (config.connect_timeout, config.read_timeout), "retry": None}
        # The one exception, until the retry layer drives part resume: a resumable upload's failed chunk is sent
        # again alone (its bytes are in memory), as Azure's blocks and S3's parts are, not the whole upload.
        self._resend = gcs_retry.DEFAULT_RETRY.with_predicate(_resend_chunk).with_timeout(config.read_timeout)
        self._credentials, self._client = self._build_client()
        self._bucket = self._client.bucket(config.bucket)
        if config.create_bucket:
            self._ensure_bucket()

    def _build_client(self) -> tuple[Any, Any]:
        config = self.config
        endpoint = config.endpoint or os.environ.get("STORAGE_EMULATOR_HOST")
        try:
            credentials = config.credentials
            project = config.project_id or os.environ.get("GOOGLE_CLOUD_PROJECT")
            if credentials is None and config.service_account_path:
                credentials = service_account.Credentials.from_service_account_file(
                    os.path.expanduser(config.service_account_path),
                    scopes=["https://www.googleapis.com/auth/devstorage.read_write"],
                )
                project = project or credentials.project_id
            elif credentials is None and endpoint:
                credentials = AnonymousCredentials()
                project = project or "objstore"
            elif credentials is None:
                credentials, default_project = google.auth.default()
                project = project or default_project
            options = {"api_endpoint": endpoint} if endpoint else None
            client = storage.Client(project=project, credentials=credentials, client_options=options)
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"cannot use the Google credentials: {exc}") from None
        except Exception as exc:
            raise translate_error(exc, key=None) from exc
        return credentials, client

    def _ensure_bucket(self) -> None:
        with contextlib.suppress(ObjectAlreadyExists):
            self.make_bucket()

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:
        where = f"gs://{self.config.bucket}/{self._root.prefix}".rstrip("/")
        endpoint = f", endpoint={self.config.endpoint!r}" if self.config.endpoint else ""
        return f"GCSAdapter({where!r}{endpoint})"

    @property
    def location(self) -> str:
        """``gs://bucket/prefix``, and ``at`` the endpoint if it is not Google's (without any credential in it)."""
        endpoint = self.config.endpoint or os.environ.get("STORAGE_EMULATOR_HOST")
        where = f"gs://{self.config.bucket}/{self._root.prefix}".rstrip("/")
        return f"{where} at {_without_credentials(endpoint)}" if endpoint else where

    def _where(self) -> str:
        """The store as a user knows it, for errors: its URL, and the endpoint if it is not Google's."""
        endpoint = self.config.endpoint or os.environ.get("STORAGE_EMULATOR_HOST")
        where = f"gs://{self.config.bucket}/{self._root.prefix}".rstrip("/")
        return f"{where} at {endpoint}" if endpoint else where

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            server_side_copy=True,
            presigned_urls=self._can_sign(),
            checksum_sha256=self.config.store_sha256,
            max_key_bytes=self._root.max_key_bytes,
            buckets=True,
        )

    def _can_sign(self) -> bool:
        return callable(getattr(self._credentials, "sign_bytes", None)) and bool(
            getattr(self._credentials, "service_account_email", None)
        )

    # --- plumbing -------------------------------------------------------------------------------------------

    @staticmethod
    def _call(key: str | None, operation: Callable[[], T], *, conditional_create: bool = False) -> T:
        try:
            return operation()
        except Exception as exc:
            raise translate_error(exc, key=key, conditional_create=conditional_create) from exc

    # --- the bucket -----------------------------------------------------------------------------------------

    def make_bucket(self) -> None:
        """Create the bucket (in the project; GCS's default location). GCS answers 409 whether the bucket is
        yours or another project's: both are ``ObjectAlreadyExists``."""
        try:
            self._call(None, lambda: self._client.create_bucket(self.config.bucket, **self._request))
        except ObjectStorageError as exc:
            if exc.status != 409:
                raise
            raise ObjectAlreadyExists("bucket already exists", status=409, request_id=exc.request_id) from exc

    def remove_bucket(self) -> None:
        """Delete the bucket once a listing shows no object. GCS refuses a bucket that is not empty too (409,
        412 on fake-gcs-server, with old versions left, or an object written since the listing): the same error."""

        def first_blob() -> Any:
            return next(iter(self._client.list_blobs(self._bucket, max_results=1, **self._request)), None)

        try:
            held = self._call(None, first_blob)
            if held is None:
                self._call(None, lambda: self._bucket.delete(**self._request))
        except ObjectStorageError as exc:
            if exc.status == 404:
                raise ObjectNotFound("the bucket does not exist", status=404, request_id=exc.request_id) from exc
            if exc.status in (409, 412):
                not_empty = PreconditionFailed("the bucket is not empty", status=exc.status, request_id=exc.request_id)
                raise not_empty from exc
            raise
        if held is not None:
            raise PreconditionFailed("the bucket is not empty")

    def _blob_info(self, blob: Any, *, full: bool) -> ObjectInfo:
        metadata = dict(blob.metadata or {}) if full else {}
        sha256 = metadata.pop(SHA256_METADATA, None)
        return ObjectInfo(
            key=self._root.relative(blob.name),
            size=int(blob.size or 0),
            etag=str(blob.generation) if blob.generation is not None else None,
            last_modified=blob.updated,
            content_type=blob.content_type if full else None,
            metadata=metadata,
            checksum_sha256=sha256,
        )

    def _get_blob(self, relative: str, name: str) -> Any:
        blob = self._bucket.blob(name)
        self._call(relative, lambda: blob.reload(**self._request))
        return blob

    # --- reads ----------------------------------------------------------------------------------------------

    def head_object(self, prefix: str, key: str) -> ObjectInfo:
        relative, name = self._root.locate(prefix, key)
        return self._blob_info(self._get_blob(relative, name), full=True)

    @contextmanager
    def open_object(self, prefix: str, key: str, options: ReadOptions) -> Generator[OpenedObject, None, None]:
        """One streamed media GET of the live object, described by its own answer, so the read is of one version.

        The SDK's reader (``Blob.open``) fetches ``chunk_size`` ranges in separate requests pinned to the
        generation: once a writer replaces the object that generation is gone, and the next range 404s part way
        through the read. One media GET (``alt=media``, with a Range header for a slice) is served from one
        version by the server however long it streams, and its body is read as it arrives, so memory stays
        bounded (as the S3 and Azure adapters read theirs).

        What the read describes (``OpenedObject.info``) comes from that GET's headers: the generation (the etag,
        as ``head_object`` gives it), the whole size (``Content-Range``, else the length), ``Last-Modified``,
        ``Content-Type``, the user metadata (``x-goog-meta-*``) and the stored SHA-256. No metadata read comes
        first, so no writer can slip in between: a 404 means the object is missing (``ObjectNotFound``), and
        once the answer has come no writer can fail the read.

        Only a read that needs the size before it can ask (see :meth:`_open_described`) reads the metadata first.
        """
        relative, name = self._root.locate(prefix, key)
        live, byte_range = _live_range(options)
        response = self._media_get(relative, self._bucket.blob(name), byte_range, pinned=False) if live else None
        if response is None or response.status_code == 416:  # 416: the range starts at or past the end
            if response is not None:
                response.close()
            with self._open_described(relative, name, options) as described:
                yield described
            return
        try:
            served, info = self._response_info(relative, response)
            first, stop = resolve_range(options.start, options.end, info.size)
            if served > first:
                raise ProtocolError(f"GCS served the range from byte {served}, not {first}", key=relative)
            self._skip(relative, response.raw, first - served)  # a server that ignored the range: skip to it
        except BaseException:
            response.close()
            raise
        with self._body(relative, info, response, first, stop) as buffered:
            yield OpenedObject(info, buffered)

    @contextmanager
    def _open_described(self, relative: str, name: str, options: ReadOptions) -> Generator[OpenedObject, None, None]:
        """A read that needs the object's size before it asks: a metadata read, then a GET of that generation.

        Used for a slice counted from the end (a negative start), for a range that is empty whatever the size
        (``[5:3]``, which needs no GET at all) and for a range past the end (416, after the live GET). Such reads
        are rare. A writer may replace the object between the metadata read and the GET of its generation, which
        then 404s before any byte has come: that is a retryable ``TransientError`` (the object exists, so not
        ``ObjectNotFound``), and the retry layer opens it again; adapters do not loop. A 404 of the metadata read
        itself means the object really is missing.
        """
        blob = self._get_blob(relative, name)  # ObjectNotFound here: the object really is missing
        info = self._blob_info(blob, full=True)
        first, stop = resolve_range(options.start, options.end, info.size)
        if stop <= first:
            yield OpenedObject(info, io.BytesIO(b""))
            return
        byte_range = None if (first, stop) == (0, info.size) else f"bytes={first}-{stop - 1}"
        pinned = self._bucket.blob(name, generation=blob.generation)
        response = self._media_get(relative, pinned, byte_range, pinned=True)
        if response.status_code == 200 and byte_range:
            try:
                self._skip(relative, response.raw, first)  # a server that ignored the range: skip to it
            except BaseException:
                response.close()
                raise
        with self._body(relative, info, response, first, stop) as buffered:
            yield OpenedObject(info, buffered)

    def _media_get(self, relative: str, blob: Any, byte_range: str | None, *, pinned: bool) -> Any:
        """Start the media GET of ``blob`` (of its generation when ``pinned``): the streamed response.

        Answers 200 and 206, and 416 (a range past the end) when not pinned; other answers are raised. A 404 of a
        pinned GET means that generation is gone (replaced since its metadata was read): a retryable
        ``TransientError``, so the retry layer reads the new version. A 404 of the live object is ``ObjectNotFound``.

        ``Accept-Encoding: gzip`` and an undecoded body: the bytes served are the stored bytes, whose size,
        ranges and SHA-256 are the ones the metadata describes (no decompressive transcoding on either side).
        """
        headers = {"Accept-Encoding": "gzip"}
        if byte_range:
            headers["Range"] = byte_range
        response = self._call(relative, lambda: self._media_request(blob, headers))
        status = response.status_code
        if status in (200, 206) or (status == 416 and not pinned):
            return response
        if status == 404 and pinned:
            response.close()
            raise TransientError("the object was replaced as the read opened: open it again", key=relative)
        try:
            error = api_exceptions.from_http_response(response)  # reads the (small) error body
        finally:
            response.close()
        raise translate_error(error, key=relative)

    def _media_request(self, blob: Any, headers: dict[str, str]) -> Any:
        """Send the streamed media GET of ``blob`` on the client's authorized session; the one private use.

        google-cloud-storage has no public call that streams a download's body as it arrives and shows the
        answer's headers (``Blob.open`` makes one request per chunk; ``download_to_file`` and
        google-resumable-media's downloads write the whole body before they return). The SDK's own two pieces
        are used: ``Blob._get_download_url`` (the media URL on the client's endpoint, with ``generation=N`` when
        the blob names one) and ``Client._http``, the authorized session it sends every request with.
        """
        url = blob._get_download_url(self._client)
        session = self._client._http
        return session.request("GET", url, headers=headers, stream=True, timeout=self._request["timeout"])

    def _response_info(self, relative: str, response: Any) -> tuple[int, ObjectInfo]:
        """The first byte a media GET serves, and the object it describes, from its headers."""
        headers = response.headers  # case-insensitive
        generation = headers.get("x-goog-generation")
        served, size = _served_range(response.status_code, headers)
        if not generation or size is None:
            raise ProtocolError("GCS answered a read without the object's generation or size", key=relative)
        metadata = {
            name[len(_META_HEADER) :].lower(): _header_text(value)
            for name, value in headers.items()
            if name.lower().startswith(_META_HEADER)
        }
        sha256 = metadata.pop(SHA256_METADATA, None)
        return served, ObjectInfo(
            key=relative,
            size=size,
            etag=generation,
            last_modified=_http_date(headers.get("last-modified")),
            content_type=headers.get("content-type"),
            metadata=metadata,
            checksum_sha256=sha256,
        )

    @staticmethod
    def _skip(relative: str, raw: Any, count: int) -> None:
        while count > 0:
            try:
                data = raw.read(min(count, CHUNK_SIZE), decode_content=False)
            except Exception as exc:
                raise _read_error(exc, relative) from exc
            if not data:
                raise TransientError(f"the transfer was cut off {count} bytes before the range", key=relative)
            count -= len(data)

    def _body(self, relative: str, info: ObjectInfo, response: Any, first: int, stop: int) -> io.BufferedReader:
        """The response body as a stream of bytes [first, stop) (the rest is never read); whole reads are verified."""
        whole = first == 0 and stop == info.size
        expected = info.checksum_sha256 if (whole and self.config.verify_sha256) else None
        raw = response.raw
        left = [stop - first]

        def read(n: int) -> bytes:
            if left[0] <= 0:
                return b""
            data = raw.read(min(n, left[0]), decode_content=False) or b""
            left[0] -= len(data)
            return bytes(data)

        verifying = VerifyingReader(
            read,
            response.close,  # a read abandoned part way closes its connection rather than draining the body
            key=relative,
            length=stop - first,
            sha256=expected,
            translate=lambda exc: _read_error(exc, relative),
        )
        return io.BufferedReader(verifying, buffer_size=CHUNK_SIZE)

    def scan_objects(self, prefix: str, options: ListOptions) -> Iterator[ObjectInfo]:
        name_prefix = self._root.folder(prefix)
        pages = self._pages(name_prefix, delimiter=not options.recursive, page_size=options.page_size)
        yield from pages if options.recursive else in_key_order(pages)

    def _pages(self, name_prefix: str, *, delimiter: bool, page_size: int | None) -> Iterator[ObjectInfo]:
        label = self._root.relative(name_prefix) or None
        guard = ListingGuard(self._where(), self.name, name_prefix, label)
        blobs = self._call(
            label,
            lambda: self._client.list_blobs(
                self._bucket,
                prefix=name_prefix or None,
                delimiter="/" if delimiter else None,
                page_size=page_size,
                **self._request,
            ),
        )
        pages = iter(blobs.pages)
        while True:
            page = self._call(label, lambda: next(pages, None))
            if page is None:
                return
            items = list(page)
            names = [guard.key(blob.name) for blob in items]
            subs = [guard.key(sub) for sub in page.prefixes] if delimiter else []
            # The iterator follows the page token itself: checked before it asks for the next page with it.
            guard.next_token(blobs.next_page_token, entries=len(names) + len(subs))
            entries = [self._blob_info(blob, full=False) for blob in items]
            entries = [listed for listed in map(as_listed, entries) if listed is not None]
            if delimiter:
                entries += [
                    ObjectInfo(key=self._root.relative(sub), is_prefix=True)
                    for sub in subs
                    if is_valid_key(self._root.relative(sub).rstrip("/"))
                ]
                entries = page_in_name_order(entries)
            yield from entries

    # --- writes ---------------------------------------------------------------------------------------------

    def write_object(self, prefix: str, key: str, stream: Readable, options: WriteOptions) -> ObjectInfo:
        """One upload request below ``resumable_threshold``, else a resumable upload in ``chunk_size`` chunks.

        Every call is made once, except a resumable upload's chunks: one that fails at once (a dropped
        connection, 429, 5xx; never a timeout) is sent again alone by the SDK, within ``read_timeout``, so the
        upload resumes at that chunk rather than starting over (a pipe could not be read again).
        """
        relative, name = self._root.locate(prefix, key)
        generation = self._generation_condition(relative, options)
        threshold, chunk_size = self.config.resumable_threshold, self.config.chunk_size
        # The first buffer comes from the shared pool, with budget reserved for the SDK's copy of it or of each
        # chunk it sends (see objstore.domain.buffers): all of this upload's memory, borrowed at once.
        first = read_first(stream, threshold, extra=max(threshold, chunk_size))
        try:
            return self._put_first(relative, name, first, stream, options, generation)
        finally:
            first.release()

    def _put_first(
        self, relative: str, name: str, first: Lease, stream: Readable, options: WriteOptions, generation: int | None
    ) -> ObjectInfo:
        single = first.size < self.config.resumable_threshold
        sha256 = None
        if self.config.store_sha256 and single:
            sha256 = hashlib.sha256(first.view()).hexdigest()
        elif self.config.store_sha256 and is_seekable(stream):
            sha256 = prehash_sha256(stream, first.view())
        blob = self._bucket.blob(name, chunk_size=None if single else self.config.chunk_size)
        user = dict(options.metadata)
        if sha256:
            user[SHA256_METADATA] = sha256
        blob.metadata = user or None
        content_type = options.content_type
        if not single:
            # Emulators ignore preconditions on resumable uploads; checking first fails early everywhere.
            self._check_conditions_early("", relative, options)

        def upload() -> None:
            if single:
                blob.upload_from_string(
                    bytes(first.view()), content_type=content_type, if_generation_match=generation, **self._request
                )
            else:
                blob.upload_from_file(
                    PrefixedStream(first.view(), stream),
                    content_type=content_type,
                    if_generation_match=generation,
                    **{**self._request, "retry": self._resend},
                )

        self._call(relative, upload, conditional_create=bool(options.if_none_match))
        return ObjectInfo(
            key=relative,
            size=int(blob.size) if blob.size is not None else first.size,
            etag=str(blob.generation) if blob.generation is not None else None,
            last_modified=blob.updated,
            content_type=content_type,
            metadata=options.metadata,
            checksum_sha256=sha256,
        )

    @staticmethod
    def _generation_condition(relative: str, options: WriteOptions) -> int | None:
        if options.if_none_match:
            return 0
        if options.if_match is None:
            return None
        if not options.if_match.isdigit():
            raise PreconditionFailed("the object changed (etag differs)", key=relative)
        return int(options.if_match)

    def delete_object(self, prefix: str, key: str) -> None:
        relative, name = self._root.locate(prefix, key)
        self._call(relative, lambda: self._bucket.blob(name).delete(**self._request))

    def delete_objects(self, prefix: str, keys: Iterable[str]) -> DeleteResult:
        deleted: list[str] = []
        errors: dict[str, ObjectStorageError] = {}

        def delete(key: str) -> tuple[str, ObjectStorageError | None]:
            try:
                self.delete_object(prefix, key)
            except ObjectNotFound:
                return key, None
            except ObjectStorageError as exc:
                return key, exc
            return key, None

        # The JSON batch endpoint is not available everywhere (emulators); parallel deletes work on every GCS.
        with ThreadPoolExecutor(self.config.delete_concurrency) as pool:
            for key, error in pool.map(delete, keys):
                if error is None:
                    deleted.append(key)
                else:
                    errors[key] = error
        return DeleteResult(tuple(deleted), errors)

    def copy_object(self, src_prefix: str, src_key: str, dst_prefix: str, dst_key: str) -> None:
        src_relative, src_name = self._root.locate(src_prefix, src_key)
        _, dst_name = self._root.locate(dst_prefix, dst_key)
        source = self._get_blob(src_relative, src_name)
        if src_name == dst_name:
            return
        target = self._bucket.blob(dst_name)
        # Sent with the rewrite, so content type and metadata follow the copy on every server.
        target.content_type = source.content_type
        target.metadata = source.metadata

        def rewrite_all() -> None:
            # Large objects take several calls; each resumes with the token of the previous one.
            token, _, _ = target.rewrite(source, **self._request)
            while token is not None:
                token, _, _ = target.rewrite(source, token=token, **self._request)

        self._call(src_relative, rewrite_all)

    # --- links ----------------------------------------------------------------------------------------------

    def presign_url(self, prefix: str, key: str, *, expires_in: int = 3600, method: str = "GET") -> str:
        relative, name = self._root.locate(prefix, key)
        if not self._can_sign():
            raise NotSupported("signed URLs need credentials that can sign (a service-account key file)", key=relative)
        endpoint = self.config.endpoint or os.environ.get("STORAGE_EMULATOR_HOST")
        extra = {"api_access_endpoint": endpoint} if endpoint else {}
        return str(
            self._call(
                relative,
                lambda: self._bucket.blob(name).generate_signed_url(
                    version="v4", expiration=timedelta(seconds=expires_in), method=method, **extra
                ),
            )
        )


def _without_credentials(url: str) -> str:
    """An endpoint URL as it may be shown: no ``user:password@``, no query (a signature or token may be there)."""
    host = url.split("?", 1)[0].split("#", 1)[0]
    scheme, sep, rest = host.rpartition("://")
    netloc, slash, path = rest.partition("/")
    return f"{scheme}{sep}{netloc.rpartition('@')[2]}{slash}{path}".rstrip("/")
