"""AzureBlobAdapter: Azure Blob Storage through azure-storage-blob.

Listings page by page (flat and by delimiter), ranged streaming reads locked to one etag, block uploads above a
threshold with blocks staged in parallel (memory bounded by block size x concurrency) and committed with the
content's SHA-256 in the metadata, etag conditions, server-side copy, batch delete, SAS share URLs, an access tier
on every put, container creation on request.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import math
import os
import time
import uuid
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any, TypeVar

try:
    from azure.core import MatchConditions
    from azure.core import exceptions as azure_exceptions
    from azure.storage.blob import (
        BlobPrefix,
        BlobSasPermissions,
        BlobServiceClient,
        ContentSettings,
        StandardBlobTier,
        generate_blob_sas,
    )
    from azure.storage.blob._generated.models import ModifiedAccessConditions
except ImportError as exc:  # pragma: no cover - exercised by the factory's missing-extra error
    raise ModuleNotFoundError(str(exc), name="azure.storage.blob") from exc

from objstore.adapters.transfer import ChunkIteratorReader, VerifyingReader, read_first, upload_in_parts
from objstore.domain.buffers import Lease
from objstore.domain.errors import (
    AuthenticationError,
    ConfigurationError,
    IntegrityError,
    InvalidKey,
    InvalidMetadata,
    NotSupported,
    ObjectAlreadyExists,
    ObjectNotFound,
    ObjectStorageError,
    PermissionDenied,
    PreconditionFailed,
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
from objstore.domain.streams import CHUNK_SIZE, BufferReader, resolve_range
from objstore.ports.storage import IObjectStorageAdapter, Readable, build_config, delete_in_batches

__all__ = ["AzureBlobAdapter", "AzureBlobConfig"]

MiB = 1024 * 1024
SHA256_METADATA = "objstore_sha256"
SECRET = {"secret": True}
MAX_BLOCKS = 50_000
DELETE_BATCH = 256  # the Blob Batch API's limit per request
TIERS = {"hot": "Hot", "cool": "Cool", "cold": "Cold", "archive": "Archive"}
T = TypeVar("T")


@dataclass(frozen=True)
class AzureBlobConfig:
    """Options of the Azure Blob Storage store.

    Credentials, first found wins: ``connection_string``; ``account_key`` (with ``account_name`` or
    ``account_url``); ``sas_token``; ``credential`` (any azure-identity credential); then the environment:
    ``AZURE_STORAGE_CONNECTION_STRING``, ``AZURE_STORAGE_ACCOUNT`` with ``AZURE_STORAGE_KEY`` or
    ``AZURE_STORAGE_SAS_TOKEN`` (the az CLI's names).

    Attributes:
        container: The container (``az://CONTAINER/prefix``).
        base_prefix: The folder inside the container that is the store's root.
        connection_string: A storage connection string.
        account_url: ``https://<account>.blob.core.windows.net`` (or an emulator's URL).
        account_name: The storage account, when no URL is given.
        account_key: The account's shared key (lets objstore make SAS links).
        sas_token: A SAS token (without or with the leading ``?``).
        credential: A token credential object (e.g. azure-identity's ``DefaultAzureCredential()``).
        access_tier: ``hot``, ``cool``, ``cold`` or ``archive``, set on every put (default: the account's).
        block_threshold: Objects at least this large are uploaded as staged blocks.
        block_size: Block size; block buffers come from the process's shared memory budget (docs/reliability.md).
        max_concurrency: Blocks staged at once.
        download_chunk_size: The SDK's own download size (``max_single_get_size`` and ``max_chunk_get_size``),
            for its ``download_blob``. objstore's reads do not use it: each is one streamed GET, whatever its size,
            whose body arrives in the transport's 256 KiB pieces.
        store_sha256: Keep a SHA-256 of the content as metadata.
        verify_sha256: Check it on whole reads (``IntegrityError``).
        create_container: Create the container if it does not exist.
        copy_timeout: Seconds to wait for a server-side copy to finish.
        connection_timeout: Seconds to wait for a connection (URL option ``?connection_timeout=5``). Every
            request is made once (the SDK's retries are off): retrying is the retry layer's, which also stages a
            failed block of a large upload again alone, so the upload resumes at that block.
        read_timeout: Seconds to wait for any answer on a connection (``?read_timeout=30``; the SDK's own default
            is 300). A server that never answers costs one read timeout per try of the retry layer.
    """

    container: str
    base_prefix: str = ""
    connection_string: str | None = field(default=None, repr=False, metadata=SECRET)
    account_url: str | None = None
    account_name: str | None = None
    account_key: str | None = field(default=None, repr=False, metadata=SECRET)
    sas_token: str | None = field(default=None, repr=False, metadata=SECRET)
    credential: Any = field(default=None, repr=False, metadata=SECRET)
    access_tier: str | None = None
    block_threshold: int = 8 * MiB
    block_size: int = 8 * MiB
    max_concurrency: int = 8
    download_chunk_size: int = 2 * MiB
    store_sha256: bool = True
    verify_sha256: bool = True
    create_container: bool = False
    copy_timeout: float = 600.0
    connection_timeout: float = 10.0
    read_timeout: float = 60.0

    def __post_init__(self) -> None:
        if not self.container:
            raise ConfigurationError("the Azure store needs a container (az://CONTAINER/prefix)")
        if self.access_tier is not None and self.access_tier.lower() not in TIERS:
            raise ConfigurationError(f"access_tier must be one of {', '.join(TIERS)}, not {self.access_tier!r}")
        if min(self.block_size, self.block_threshold, self.max_concurrency, self.download_chunk_size) < 1:
            raise ConfigurationError(
                "block_size, block_threshold, max_concurrency and download_chunk_size must be positive"
            )
        if not all(0 < timeout < math.inf for timeout in (self.connection_timeout, self.read_timeout)):
            raise ConfigurationError("connection_timeout and read_timeout must be positive numbers of seconds")


_CODE_TABLE: dict[str, type[ObjectStorageError]] = {
    "BlobNotFound": ObjectNotFound,
    "ResourceNotFound": ObjectNotFound,
    "ContainerNotFound": ConfigurationError,
    "ContainerAlreadyExists": ObjectAlreadyExists,
    "ContainerBeingDeleted": TransientError,  # a container of that name was just removed: Azure takes a while
    "BlobAlreadyExists": ObjectAlreadyExists,
    "ConditionNotMet": PreconditionFailed,
    "TargetConditionNotMet": PreconditionFailed,
    "AuthenticationFailed": AuthenticationError,
    "InvalidAuthenticationInfo": AuthenticationError,
    "AuthorizationFailure": PermissionDenied,
    "AuthorizationPermissionMismatch": PermissionDenied,
    "InsufficientAccountPermissions": PermissionDenied,
    "ServerBusy": Throttled,
    "OperationTimedOut": TransientError,
    "InternalError": TransientError,
    "Md5Mismatch": IntegrityError,
    "Crc64Mismatch": IntegrityError,
    "InvalidMetadata": InvalidMetadata,
    "InvalidResourceName": InvalidKey,
    "OutOfRangeInput": InvalidKey,
    "BlobArchived": NotSupported,
    "FeatureNotSupportedByEmulator": NotSupported,
}
_STATUS_TABLE: dict[int, type[ObjectStorageError]] = {
    401: AuthenticationError,
    403: PermissionDenied,
    404: ObjectNotFound,
    409: ObjectAlreadyExists,
    412: PreconditionFailed,
    429: Throttled,
    500: TransientError,
    502: TransientError,
    503: Throttled,
    504: TransientError,
}


def translate_error(exc: BaseException, *, key: str | None, conditional_create: bool = False) -> ObjectStorageError:
    """Translate an azure-core / azure-storage-blob exception into the objstore hierarchy."""
    if isinstance(exc, ObjectStorageError):
        return exc
    if isinstance(exc, azure_exceptions.HttpResponseError):
        raw_code = getattr(exc, "error_code", None)
        code = str(getattr(raw_code, "value", raw_code) or "")
        status = exc.status_code
        cls = _CODE_TABLE.get(code) or _STATUS_TABLE.get(status or 0) or ObjectStorageError
        if cls is ObjectStorageError and (status or 0) >= 500:
            cls = TransientError
        if cls is PreconditionFailed and conditional_create:
            cls = ObjectAlreadyExists
        message = (exc.reason or code or "Azure error").strip()
        if code == "ContainerNotFound":
            message = "the container does not exist"
        elif code == "ContainerAlreadyExists":
            message = "bucket already exists"
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None) or {}
        retry_after = headers.get("retry-after") if headers else None
        return cls(
            f"{message} ({code or status})",
            key=key,
            status=status,
            request_id=headers.get("x-ms-request-id") if headers else None,
            retry_after=float(retry_after) if retry_after and str(retry_after).isdigit() else None,
        )
    if isinstance(exc, azure_exceptions.ClientAuthenticationError):
        return AuthenticationError(f"Azure refused the credentials: {exc}", key=key)
    if isinstance(exc, azure_exceptions.ServiceRequestError | azure_exceptions.ServiceResponseError):
        return TransientError(f"network error talking to Azure: {type(exc).__name__}: {exc}", key=key)
    if isinstance(exc, ConnectionError | TimeoutError):
        return TransientError(f"network error talking to Azure: {exc}", key=key)
    return ObjectStorageError(f"unexpected {type(exc).__name__}: {exc}", key=key)


def _unquote(etag: str | None) -> str | None:
    return etag.strip('"') if etag else None


def _with_error_code(exc: BaseException) -> BaseException:
    """The generated REST operations raise errors whose code is only in a header; the SDK's calls parse it."""
    if isinstance(exc, azure_exceptions.HttpResponseError) and not getattr(exc, "error_code", None):
        headers = getattr(exc.response, "headers", None) or {}
        exc.error_code = headers.get("x-ms-error-code")  # type: ignore[attr-defined]  # as the SDK sets it
    return exc


class AzureBlobAdapter(IObjectStorageAdapter):
    """An Azure container (and optional base prefix) as a store.

    Args:
        config: An :class:`AzureBlobConfig`, or the container name followed by config fields as keywords.
    """

    name = "azure"

    def __init__(self, config: AzureBlobConfig | str, **options: Any) -> None:
        config = build_config(AzureBlobConfig, config, options, "Azure")
        self.config = config
        self._root = StoreRoot.of(config.base_prefix)
        self._service, self._account_key = self._build_client()
        self._container = self._service.get_container_client(config.container)
        self._tier = StandardBlobTier(TIERS[config.access_tier.lower()]) if config.access_tier else None
        if config.create_container:
            self._ensure_container()

    # --- set-up ---------------------------------------------------------------------------------------------

    def _build_client(self) -> tuple[Any, str | None]:
        config = self.config
        env = os.environ
        sizes: dict[str, Any] = {
            "max_single_put_size": config.block_threshold,
            "max_block_size": config.block_size,
            "max_single_get_size": config.download_chunk_size,
            "max_chunk_get_size": config.download_chunk_size,
            # Each request made once, no SDK retries at all: retrying is the retry layer's, within its deadline.
            "retry_total": 0,
            "retry_connect": 0,
            "retry_read": 0,
            "connection_timeout": config.connection_timeout,
            "read_timeout": config.read_timeout,
        }
        connection_string = config.connection_string
        if not any((connection_string, config.account_key, config.sas_token, config.credential)):
            connection_string = env.get("AZURE_STORAGE_CONNECTION_STRING")
        account_url = config.account_url
        account_name = config.account_name or env.get("AZURE_STORAGE_ACCOUNT")
        if not account_url and account_name:
            account_url = f"https://{account_name}.blob.core.windows.net"
        try:
            if connection_string:
                client = BlobServiceClient.from_connection_string(connection_string, **sizes)
                return client, _connection_string_key(connection_string)
            if not account_url:
                raise ConfigurationError(
                    "no Azure account: set AZURE_STORAGE_CONNECTION_STRING, or give connection_string, "
                    "account_url or account_name"
                )
            account_key = config.account_key or (
                None if (config.sas_token or config.credential) else env.get("AZURE_STORAGE_KEY")
            )
            sas = config.sas_token or (
                None if (account_key or config.credential) else env.get("AZURE_STORAGE_SAS_TOKEN")
            )
            credential: Any
            if account_key:
                name = account_name or _account_from_url(account_url)
                credential = {"account_name": name, "account_key": account_key}
            elif sas:
                credential = sas.lstrip("?")
            elif config.credential is not None:
                credential = config.credential
            else:
                raise ConfigurationError(
                    "no Azure credentials: give account_key, sas_token or credential, or set "
                    "AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN"
                )
            return BlobServiceClient(account_url, credential=credential, **sizes), account_key
        except ConfigurationError:
            raise
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(f"cannot configure the Azure client: {exc}") from None

    def _ensure_container(self) -> None:
        with contextlib.suppress(ObjectAlreadyExists):
            self._call(None, self._container.create_container)

    def close(self) -> None:
        self._service.close()

    def __repr__(self) -> str:
        where = f"az://{self.config.container}/{self._root.prefix}".rstrip("/")
        return f"AzureBlobAdapter({where!r}, account={self._service.account_name!r})"

    @property
    def location(self) -> str:
        """``az://container/prefix (account NAME)``."""
        return self._where()

    def _where(self) -> str:
        """The store as a user knows it, for errors: its URL and account."""
        where = f"az://{self.config.container}/{self._root.prefix}".rstrip("/")
        return f"{where} (account {self._service.account_name})"

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            server_side_copy=True,
            native_batch_delete=True,
            presigned_urls=self._account_key is not None,
            checksum_sha256=self.config.store_sha256,
            max_key_bytes=self._root.max_key_bytes,
            backslash_in_keys=False,  # the Blob service turns "\\" into "/" in blob names
            buckets=True,
        )

    # --- the container ---------------------------------------------------------------------------------------

    def make_bucket(self) -> None:
        """Create the container."""
        self._call(None, self._container.create_container)

    def remove_bucket(self) -> None:
        """Delete the container once a listing shows no blob: Azure itself deletes a container with every blob
        in it, so this check is all that stands between ``rb`` and the data (a blob written between the listing
        and the delete goes with the container)."""
        try:
            if self._call(None, lambda: next(iter(self._container.list_blobs(results_per_page=1)), None)) is not None:
                raise PreconditionFailed("the bucket is not empty")
            self._call(None, self._container.delete_container)
        except ConfigurationError as exc:
            if exc.status != 404:  # ContainerNotFound: for blob calls a configuration error, here what was asked
                raise
            raise ObjectNotFound("the bucket does not exist", status=404, request_id=exc.request_id) from exc

    # --- plumbing -------------------------------------------------------------------------------------------

    @staticmethod
    def _call(key: str | None, operation: Callable[[], T], *, conditional_create: bool = False) -> T:
        try:
            return operation()
        except Exception as exc:
            raise translate_error(exc, key=key, conditional_create=conditional_create) from exc

    def _info(self, properties: Any, *, full: bool) -> ObjectInfo:
        metadata = dict(properties.metadata or {}) if full else {}
        sha256 = metadata.pop(SHA256_METADATA, None)
        settings = getattr(properties, "content_settings", None)
        return ObjectInfo(
            key=self._root.relative(properties.name),
            size=int(properties.size or 0),
            etag=_unquote(properties.etag),
            last_modified=properties.last_modified,
            content_type=settings.content_type if (full and settings) else None,
            metadata=metadata,
            checksum_sha256=sha256,
        )

    @staticmethod
    def _conditions(options: WriteOptions) -> dict[str, Any]:
        if options.if_none_match:
            # IfMissing alone: the SDK consumes ``etag`` only for IfNotModified/IfModified, and a staged (block)
            # upload would hand a stray ``etag`` on to the HTTP session, which refuses it.
            return {"match_condition": MatchConditions.IfMissing}
        if options.if_match:
            return {"etag": f'"{options.if_match}"', "match_condition": MatchConditions.IfNotModified}
        return {}

    @staticmethod
    def _settings(options: WriteOptions) -> ContentSettings | None:
        return ContentSettings(content_type=options.content_type) if options.content_type else None

    # --- reads ----------------------------------------------------------------------------------------------

    def head_object(self, prefix: str, key: str) -> ObjectInfo:
        relative, name = self._root.locate(prefix, key)
        blob = self._container.get_blob_client(name)
        return self._info(self._call(relative, blob.get_blob_properties), full=True)

    @contextmanager
    def open_object(self, prefix: str, key: str, options: ReadOptions) -> Generator[OpenedObject, None, None]:
        """One GET request streamed from the first byte to the last, so the read is of one version.

        The SDK's own download (``download_blob``) fetches ranges in separate requests locked to the first one's
        etag: a writer that replaces the blob between two of them fails the read part way (412), and a loop of
        writers fails nearly every read of a blob larger than a chunk. One request is served from one committed
        version by the service, however long it streams, and memory stays bounded because the body is read as
        it arrives (as the S3 adapter reads its GET). The GET's answer describes the version it serves
        (``OpenedObject.info``: etag, whole size, content type, metadata, modification time). Reads therefore
        need no restart; only a slice counted from the end needs the size first, and is pinned to the
        measured version's etag: if the blob was replaced in between, the read fails with a retryable
        ``TransientError`` and the retry layer opens it again.
        """
        relative, name = self._root.locate(prefix, key)
        offset, length, pinned = self._read_range(prefix, key, options)
        if length == 0:  # the object must exist, even for an empty slice
            yield OpenedObject(self.head_object(prefix, key), io.BytesIO(b""))
            return
        blob = self._container.get_blob_client(name)
        try:
            response, body, headers = self._download(relative, blob, offset, length, pinned)
        except ObjectStorageError as exc:
            if exc.status == 416:  # past the end, or an empty object: the slice is empty
                yield OpenedObject(self.head_object(prefix, key), io.BytesIO(b""))
                return
            raise
        info = self._read_info(relative, response, headers)
        chunks = ChunkIteratorReader(body)
        verifying = VerifyingReader(
            chunks.read,
            response.close,  # a read abandoned part way closes its connection
            key=relative,
            length=int(headers.get("Content-Length") or 0),
            sha256=info.checksum_sha256 if (offset is None and self.config.verify_sha256) else None,
            translate=lambda exc: translate_error(_with_error_code(exc), key=relative),
        )
        with io.BufferedReader(verifying, buffer_size=CHUNK_SIZE) as buffered:
            yield OpenedObject(info, buffered)

    def _read_range(self, prefix: str, key: str, options: ReadOptions) -> tuple[int | None, int | None, str | None]:
        """The GET's range (offset, length; ``None`` for "from the start", "to the end") and the etag it is
        pinned to: only a slice counted from the end measures the object first, and reads what it measured."""
        start, end = options.start, options.end
        if (start or 0) < 0 or (end is not None and end < 0):  # counted from the end: needs the size
            measured = self.head_object(prefix, key)
            first, stop = resolve_range(start, end, measured.size)
            return first, stop - first, measured.etag
        if start or end is not None:
            offset = start or 0
            return offset, None if end is None else max(0, end - offset), None
        return None, None, None

    def _read_info(self, relative: str, response: Any, headers: Mapping[str, Any]) -> ObjectInfo:
        """The version a GET serves, from its answer: the whole size is after the ``/`` of a Content-Range."""
        content_range = str(headers.get("Content-Range") or "")
        size = content_range.rpartition("/")[2] if "/" in content_range else headers.get("Content-Length")
        prefix = "x-ms-meta-"  # user metadata is not among the parsed headers
        metadata = {k[len(prefix) :]: v for k, v in response.headers.items() if k.lower().startswith(prefix)}
        sha256 = metadata.pop(SHA256_METADATA, None)
        return ObjectInfo(
            key=relative,
            size=int(size or 0),
            etag=_unquote(headers.get("ETag")),
            last_modified=headers.get("Last-Modified"),
            content_type=headers.get("Content-Type"),
            metadata=metadata,
            checksum_sha256=sha256,
        )

    @staticmethod
    def _download(
        relative: str, blob: Any, offset: int | None, length: int | None, if_match: str | None
    ) -> tuple[Any, Iterator[bytes], dict[str, Any]]:
        """Start the GET: the HTTP response (to close), its body as it arrives, and its parsed headers.

        azure-storage-blob has no public call that streams one response (``download_blob`` reads each request
        whole, then issues the next), so this calls its generated REST operation, the one ``download_blob``
        itself calls, with the same arguments.
        """
        options: dict[str, Any] = {}
        if offset is not None:
            options["range"] = f"bytes={offset}-" if length is None else f"bytes={offset}-{offset + length - 1}"
        if if_match is not None:
            options["modified_access_conditions"] = ModifiedAccessConditions(if_match=f'"{if_match}"')

        def parts(pipeline_response: Any, body: Any, headers: dict[str, Any]) -> tuple[Any, Any, dict[str, Any]]:
            return pipeline_response.http_response, body, headers

        try:
            response, body, headers = blob._client.blob.download(cls=parts, **options)
        except Exception as exc:
            error = translate_error(_with_error_code(exc), key=relative)
            if isinstance(error, PreconditionFailed):  # only the size-pinned slice sends a condition
                raise TransientError(
                    "the object was replaced between measuring it and reading the slice", key=relative
                ) from exc
            raise error from exc
        return response, iter(body), headers

    def scan_objects(self, prefix: str, options: ListOptions) -> Iterator[ObjectInfo]:
        name_prefix = self._root.folder(prefix)
        pages = self._pages(name_prefix, delimiter=not options.recursive, page_size=options.page_size)
        yield from pages if options.recursive else in_key_order(pages)

    def _pages(self, name_prefix: str, *, delimiter: bool, page_size: int | None) -> Iterator[ObjectInfo]:
        label = self._root.relative(name_prefix) or None
        guard = ListingGuard(self._where(), self.name, name_prefix, label)
        if delimiter:
            listing = self._container.walk_blobs(
                name_starts_with=name_prefix or None, delimiter="/", results_per_page=page_size
            )
        else:
            listing = self._container.list_blobs(name_starts_with=name_prefix or None, results_per_page=page_size)
        paged = self._call(label, listing.by_page)
        pages = iter(paged)
        while True:
            page = self._call(label, lambda: next(pages, None))
            if page is None:
                return
            items = self._call(label, lambda: list(page))  # noqa: B023 - called at once, in this iteration
            for item in items:
                guard.key(item.name)
            # The pager follows the marker itself: checked before it asks for the next page with it.
            guard.next_token(getattr(paged, "continuation_token", None), entries=len(items))
            entries = []
            for item in items:
                if isinstance(item, BlobPrefix):
                    relative = self._root.relative(item.name)
                    if is_valid_key(relative.rstrip("/")):
                        entries.append(ObjectInfo(key=relative, is_prefix=True))
                else:
                    listed = as_listed(self._info(item, full=False))
                    if listed is not None:
                        entries.append(listed)
            yield from page_in_name_order(entries) if delimiter else entries

    # --- writes ---------------------------------------------------------------------------------------------

    def write_object(self, prefix: str, key: str, stream: Readable, options: WriteOptions) -> ObjectInfo:
        relative, name = self._root.locate(prefix, key)
        blob = self._container.get_blob_client(name)
        threshold = self.config.block_threshold
        # Room for a whole first block: the upload never holds one buffer while it waits for another from the
        # shared pool (see objstore.domain.buffers).
        first = read_first(stream, threshold, capacity=max(threshold, self.config.block_size))
        try:
            if first.size < threshold:
                return self._put_single(relative, blob, first, options)
            return self._put_blocks(relative, blob, first, stream, options)
        finally:
            first.release()  # once only: the block upload may have returned it already

    def _put_single(self, relative: str, blob: Any, first: Lease, options: WriteOptions) -> ObjectInfo:
        data = bytes(first.view())  # the SDK wants bytes; the pooled buffer is held (counted) until it is sent
        user = dict(options.metadata)
        if self.config.store_sha256:
            user[SHA256_METADATA] = hashlib.sha256(data).hexdigest()
        # Create-only is overwrite=False here (the SDK sends If-None-Match: * itself).
        conditions = {} if options.if_none_match else self._conditions(options)
        response = self._call(
            relative,
            lambda: blob.upload_blob(
                data,
                overwrite=not options.if_none_match,
                metadata=user,
                content_settings=self._settings(options),
                standard_blob_tier=self._tier,
                **conditions,
            ),
            conditional_create=bool(options.if_none_match),
        )
        return self._written(relative, response, len(data), options, user.get(SHA256_METADATA))

    def _put_blocks(
        self, relative: str, blob: Any, first: Lease, stream: Readable, options: WriteOptions
    ) -> ObjectInfo:
        self._check_conditions_early("", relative, options)
        upload_id = uuid.uuid4().hex[:12]  # blocks of concurrent uploads to one name never mix

        def stage(number: int, part: memoryview | bytes) -> str:
            block_id = base64.b64encode(f"{upload_id}-{number:06d}".encode()).decode()
            # A seekable reader over the pooled buffer, not a copy: the SDK hashes it and rewinds it to send it.
            self._call(
                relative,
                lambda: blob.stage_block(block_id, BufferReader(part), length=len(part), validate_content=True),
            )
            return block_id

        sent = upload_in_parts(
            stream,
            first,
            part_size=self.config.block_size,
            concurrency=self.config.max_concurrency,
            send=stage,
            key=relative,
            max_parts=MAX_BLOCKS,
            hash_content=self.config.store_sha256,
        )
        user = dict(options.metadata)
        if sent.sha256:
            user[SHA256_METADATA] = sent.sha256
        # Metadata is committed with the block list, so the SHA-256 of a pipe is kept too.
        response = self._call(
            relative,
            lambda: blob.commit_block_list(
                sent.results,
                metadata=user,
                content_settings=self._settings(options),
                standard_blob_tier=self._tier,
                **self._conditions(options),
            ),
            conditional_create=bool(options.if_none_match),
        )
        return self._written(relative, response, sent.size, options, sent.sha256)

    @staticmethod
    def _written(
        relative: str, response: Mapping[str, Any], size: int, options: WriteOptions, sha256: str | None
    ) -> ObjectInfo:
        return ObjectInfo(
            key=relative,
            size=size,
            etag=_unquote(response.get("etag")),
            last_modified=response.get("last_modified"),
            content_type=options.content_type,
            metadata=options.metadata,
            checksum_sha256=sha256,
        )

    def delete_object(self, prefix: str, key: str) -> None:
        relative, name = self._root.locate(prefix, key)
        self._call(relative, self._container.get_blob_client(name).delete_blob)

    def delete_objects(self, prefix: str, keys: Iterable[str]) -> DeleteResult:
        def delete_batch(names: list[str]) -> dict[str, ObjectStorageError]:
            responses = self._call(None, lambda: list(self._container.delete_blobs(*names, raise_on_any_failure=False)))
            failed: dict[str, ObjectStorageError] = {}
            for name, response in zip(names, responses, strict=True):
                status = int(getattr(response, "status_code", 0) or 0)
                if status >= 300 and status != 404:  # absent counts as deleted
                    cls = _STATUS_TABLE.get(status, TransientError if status >= 500 else ObjectStorageError)
                    failed[name] = cls(
                        f"the batch delete answered {status}", key=self._root.relative(name), status=status
                    )
            return failed

        return delete_in_batches(
            keys,
            locate=lambda key: self._root.locate(prefix, key)[1],
            batch_size=DELETE_BATCH,
            delete_batch=delete_batch,
        )

    def copy_object(self, src_prefix: str, src_key: str, dst_prefix: str, dst_key: str) -> None:
        src_relative, src_name = self._root.locate(src_prefix, src_key)
        _, dst_name = self._root.locate(dst_prefix, dst_key)
        self.head_object(src_prefix, src_key)
        if src_name == dst_name:
            return
        source = self._container.get_blob_client(src_name)
        target = self._container.get_blob_client(dst_name)
        self._call(src_relative, lambda: target.start_copy_from_url(source.url))
        deadline = time.monotonic() + self.config.copy_timeout
        delay = 0.05
        while True:
            copy = self._call(src_relative, target.get_blob_properties).copy
            if copy.status in (None, "success"):
                return
            if copy.status in ("failed", "aborted"):
                raise TransientError(f"the server-side copy {copy.status}: {copy.status_description}", key=src_relative)
            if time.monotonic() > deadline:
                self._call(src_relative, partial(target.abort_copy, copy.id))
                raise TransientError(
                    f"the server-side copy took longer than {self.config.copy_timeout:.0f}s", key=src_relative
                )
            time.sleep(delay)
            delay = min(delay * 2, 2.0)

    # --- links ----------------------------------------------------------------------------------------------

    def presign_url(self, prefix: str, key: str, *, expires_in: int = 3600, method: str = "GET") -> str:
        relative, name = self._root.locate(prefix, key)
        if self._account_key is None:
            raise NotSupported("SAS links need the account key (a connection string or account_key)", key=relative)
        permission = BlobSasPermissions(read=True) if method == "GET" else BlobSasPermissions(create=True, write=True)
        token = generate_blob_sas(
            account_name=self._service.account_name,
            container_name=self.config.container,
            blob_name=name,
            account_key=self._account_key,
            permission=permission,
            expiry=datetime.now(timezone.utc) + timedelta(seconds=expires_in),
            start=datetime.now(timezone.utc) - timedelta(minutes=5),
        )
        return f"{self._container.get_blob_client(name).url}?{token}"


def _connection_string_key(connection_string: str) -> str | None:
    for part in connection_string.split(";"):
        name, _, value = part.partition("=")
        if name.strip().lower() == "accountkey" and value:
            return value.strip()
    return None


def _account_from_url(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    if host.endswith(".blob.core.windows.net"):
        return host.split(".", 1)[0]
    return parts.path.strip("/").split("/", 1)[0]  # emulator style: http://127.0.0.1:10000/<account>
