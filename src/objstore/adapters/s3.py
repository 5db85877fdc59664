"""S3Adapter: AWS S3 and S3-compatible stores (MinIO, SeaweedFS, Ceph, R2), through boto3.

Everything on the port is done natively: paginated listings (flat and by delimiter), ranged streaming reads,
multipart uploads with parts in parallel and memory bounded by part size x concurrency (aborted on failure),
server-side copy (multipart copy above 5 GiB), batch delete (1000 keys a request), conditional puts
(``If-None-Match: *``, ``If-Match``), presigned URLs and server-side encryption. A SHA-256 of the content is kept
as user metadata (``objstore_sha256``) and checked when an object is read whole.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.client
import importlib.metadata
import io
import math
import os
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

try:
    import boto3
    import botocore.credentials
    import botocore.exceptions
    import botocore.session
    import urllib3.exceptions
    from botocore.config import Config as BotoConfig
except ImportError as exc:  # pragma: no cover - exercised by the factory's missing-extra error
    raise ModuleNotFoundError(str(exc), name="boto3") from exc

from objstore.adapters.s3_direct import DirectRequests, DirectTransport, parse_timestamp
from objstore.adapters.s3_transport import (
    BotocoreTransport,
    Conditions,
    Encryption,
    ObjectAttributes,
    S3Body,
    S3Head,
    S3Page,
    S3Transport,
)
from objstore.adapters.sigv4 import CredentialSource, StaticCredentials
from objstore.adapters.transfer import VerifyingReader, prehash_sha256, read_first, upload_in_parts
from objstore.domain.buffers import Lease
from objstore.domain.errors import (
    AuthenticationError,
    ConfigurationError,
    CredentialsExpired,
    IntegrityError,
    InvalidKey,
    NotSupported,
    ObjectAlreadyExists,
    ObjectNotFound,
    ObjectStorageError,
    PermissionDenied,
    PreconditionFailed,
    Throttled,
    TransientError,
)
from objstore.domain.keys import StoreRoot, as_listed
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
from objstore.domain.streams import CHUNK_SIZE, BufferReader, is_seekable, resolve_range
from objstore.ports.credentials import Credentials, ICredentialsProvider, RefreshingCredentials
from objstore.ports.storage import IObjectStorageAdapter, Readable, build_config, delete_in_batches

__all__ = ["S3Adapter", "S3Config"]

MiB = 1024 * 1024
GiB = 1024 * MiB
SHA256_METADATA = "objstore_sha256"
MAX_PARTS = 10_000
MIN_PART = 5 * MiB
DELETE_BATCH = 1000
T = TypeVar("T")


SECRET = {"secret": True}  # config fields refused in URLs and hidden from repr


@dataclass(frozen=True)
class S3Config:
    """Options of the S3 store. Unset values come from the AWS environment and profile chain, as in the aws CLI.

    Attributes:
        bucket: The bucket (``s3://BUCKET/prefix``).
        base_prefix: The folder inside the bucket that is the store's root (``s3://bucket/PREFIX``).
        access_key_id: Static key id; else ``AWS_ACCESS_KEY_ID``, the profile, SSO, instance roles...
        secret_access_key: Static secret; else the same chain.
        session_token: Session token of temporary static credentials; else ``AWS_SESSION_TOKEN``.
        credentials_provider: A refreshing provider (Naas, STS...) used in place of static keys.
        refresh_margin_seconds: Renew provider credentials this long before they expire.
        profile_name: ``AWS_PROFILE``.
        region_name: ``AWS_REGION`` / ``AWS_DEFAULT_REGION``; ``us-east-1`` for custom endpoints if unset.
        endpoint_url: An S3-compatible endpoint; else ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``.
        addressing_style: ``auto``, ``path`` or ``virtual``; ``auto`` means ``path`` for custom endpoints.
        checksums: ``when_required`` or ``when_supported`` for boto3's request/response checksums; the default
            is ``when_supported`` on AWS and ``when_required`` on custom endpoints, some of which reject them.
        multipart_threshold: Objects at least this large are uploaded in parts.
        multipart_chunksize: Part size. Part buffers come from the process's shared memory budget
            (``OBJSTORE_MEMORY_BUDGET``, see docs/reliability.md), so a sync's memory is bounded whatever its jobs.
        max_concurrency: Parts uploaded at once.
        copy_multipart_threshold: Server-side copies above this size use multipart copy (S3's limit: 5 GiB).
        sse: Server-side encryption: ``AES256`` (SSE-S3) or ``aws:kms`` (SSE-KMS).
        sse_kms_key_id: The KMS key for ``aws:kms``.
        store_sha256: Keep a SHA-256 of the content as metadata (pre-hashed for seekable multipart sources).
        verify_sha256: Check it when an object is read whole; a mismatch raises ``IntegrityError``.
        create_bucket: Create the bucket if it does not exist.
        hierarchical: The store keeps real folders (SeaweedFS): list folder by folder, restoring S3's key order
            (such stores list a folder's contents before the keys that sort between it and its next sibling),
            and confirm each sub-prefix of a one-level listing still holds an object (emptied folders linger
            there). AWS, MinIO and R2 need neither, so it is off by default.
        backslash_in_keys: The store keeps a backslash in a key as it is (AWS, MinIO, moto). Set it False for
            servers that turn it into ``/`` (SeaweedFS): keys with one are then refused with InvalidKey, rather
            than written under another name.
        connect_timeout: Seconds to wait for a connection (URL option ``?connect_timeout=5``).
        read_timeout: Seconds to wait for any answer on a connection: the status line, each chunk of a listing or
            of a body (URL option ``?read_timeout=30``). A server that never answers costs one read timeout per
            try, and the retry layer starts no try after its deadline: at most deadline + read timeout in all.
            Each request is sent once (botocore's own retries are off): retrying is the retry layer's alone.
        max_pool_connections: HTTP connections kept open.
        ca_bundle: A PEM file of the certificate authorities to check the endpoint's certificate with; else
            ``AWS_CA_BUNDLE`` or the profile's ``ca_bundle``, else ``REQUESTS_CA_BUNDLE``, else certifi's.
        direct_requests: With a custom endpoint (S3-compatible stores), send object reads and writes (GET, PUT,
            UploadPart) as SigV4-signed requests of objstore's own over pooled ``http.client`` connections
            instead of through botocore's request pipeline: about a tenth of the CPU per request, so syncs of
            many small files go several times faster. The endpoint, signing region, credentials
            and CA bundle are still botocore's. Off behind a proxy; AWS itself always uses botocore.
    """

    bucket: str
    base_prefix: str = ""
    access_key_id: str | None = field(default=None, repr=False, metadata=SECRET)
    secret_access_key: str | None = field(default=None, repr=False, metadata=SECRET)
    session_token: str | None = field(default=None, repr=False, metadata=SECRET)
    credentials_provider: ICredentialsProvider | None = field(default=None, repr=False, metadata=SECRET)
    refresh_margin_seconds: float = 60.0
    profile_name: str | None = None
    region_name: str | None = None
    endpoint_url: str | None = None
    addressing_style: str = "auto"
    checksums: str | None = None
    multipart_threshold: int = 16 * MiB
    multipart_chunksize: int = 8 * MiB
    max_concurrency: int = 8
    copy_multipart_threshold: int = 5 * GiB
    sse: str | None = None
    sse_kms_key_id: str | None = None
    store_sha256: bool = True
    verify_sha256: bool = True
    create_bucket: bool = False
    hierarchical: bool = False
    backslash_in_keys: bool = True
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_pool_connections: int = 32
    ca_bundle: str | None = None
    direct_requests: bool = True

    def __post_init__(self) -> None:
        if not self.bucket:
            raise ConfigurationError("the S3 store needs a bucket (s3://BUCKET/prefix)")
        if self.multipart_chunksize < MIN_PART:
            raise ConfigurationError(f"multipart_chunksize must be at least 5 MiB, not {self.multipart_chunksize}")
        if self.multipart_threshold < 1 or self.max_concurrency < 1:
            raise ConfigurationError("multipart_threshold and max_concurrency must be positive")
        if self.addressing_style not in ("auto", "path", "virtual"):
            raise ConfigurationError("addressing_style must be auto, path or virtual")
        if not all(0 < timeout < math.inf for timeout in (self.connect_timeout, self.read_timeout)):
            raise ConfigurationError("connect_timeout and read_timeout must be positive numbers of seconds")
        if self.checksums not in (None, "when_required", "when_supported"):
            raise ConfigurationError("checksums must be when_required or when_supported")
        if self.sse not in (None, "AES256", "aws:kms"):
            raise ConfigurationError("sse must be AES256 or aws:kms")
        if bool(self.access_key_id) != bool(self.secret_access_key):
            raise ConfigurationError("give both access_key_id and secret_access_key, or neither")
        if self.credentials_provider is not None and self.access_key_id:
            raise ConfigurationError("give static keys or a credentials_provider, not both")


# --- error translation: one table, at the boundary ---------------------------------------------------------------

_CODE_TABLE: dict[str, type[ObjectStorageError]] = {
    "NoSuchKey": ObjectNotFound,
    "NotFound": ObjectNotFound,
    "404": ObjectNotFound,
    "NoSuchUpload": ObjectNotFound,
    "NoSuchBucket": ConfigurationError,
    "BucketAlreadyOwnedByYou": ObjectAlreadyExists,
    "BucketAlreadyExists": ObjectAlreadyExists,
    "BucketNotEmpty": PreconditionFailed,
    "OperationAborted": TransientError,  # another operation on the bucket is under way (a create after a delete)
    "AccessDenied": PermissionDenied,
    "AllAccessDisabled": PermissionDenied,
    "403": PermissionDenied,
    "InvalidAccessKeyId": AuthenticationError,
    "SignatureDoesNotMatch": AuthenticationError,
    "InvalidToken": CredentialsExpired,
    "ExpiredToken": CredentialsExpired,
    "TokenRefreshRequired": CredentialsExpired,
    "RequestExpired": CredentialsExpired,
    "PreconditionFailed": PreconditionFailed,
    "412": PreconditionFailed,
    "ConditionalRequestConflict": TransientError,
    "SlowDown": Throttled,
    "Throttling": Throttled,
    "ThrottlingException": Throttled,
    "RequestLimitExceeded": Throttled,
    "TooManyRequestsException": Throttled,
    "RequestThrottled": Throttled,
    "429": Throttled,
    "InternalError": TransientError,
    "ServiceUnavailable": TransientError,
    "RequestTimeout": TransientError,
    "RequestTimeTooSkewed": AuthenticationError,
    "500": TransientError,
    "502": TransientError,
    "503": Throttled,
    "504": TransientError,
    "KeyTooLongError": InvalidKey,
    "InvalidDigest": IntegrityError,
    "BadDigest": IntegrityError,
    "XAmzContentSHA256Mismatch": IntegrityError,
    "NotImplemented": NotSupported,
    "MethodNotAllowed": NotSupported,
    "EntityTooSmall": ConfigurationError,
    "EntityTooLarge": ConfigurationError,
    "InvalidBucketName": ConfigurationError,
    "PermanentRedirect": ConfigurationError,
    "AuthorizationHeaderMalformed": ConfigurationError,
}

#: Codes whose message is ours: the provider's does not say it in the words every store uses.
_MESSAGES = {
    "NoSuchBucket": "the bucket does not exist",
    "BucketAlreadyOwnedByYou": "bucket already exists",
    "BucketAlreadyExists": "bucket already exists (the name is taken, maybe by another account)",
    "BucketNotEmpty": "the bucket is not empty",
    # The same words for the same cause on every request (a HEAD learns its cause from a GET, see head_object).
    "SignatureDoesNotMatch": "the secret access key does not match the access key id",
    "InvalidAccessKeyId": "the access key id is not known to the store",
    "AccessDenied": "access denied: these credentials may not do this",
    "ExpiredToken": "the credentials have expired",
    "RequestTimeTooSkewed": "this machine's clock is too far from the store's: set the time (signatures need it)",
}

_NETWORK_ERRORS: tuple[type[Exception], ...] = (
    botocore.exceptions.EndpointConnectionError,
    botocore.exceptions.ConnectionClosedError,
    botocore.exceptions.ConnectTimeoutError,
    botocore.exceptions.ReadTimeoutError,
    botocore.exceptions.IncompleteReadError,
    botocore.exceptions.ResponseStreamingError,
    botocore.exceptions.HTTPClientError,
    urllib3.exceptions.ProtocolError,
    urllib3.exceptions.TimeoutError,
    http.client.HTTPException,
    ConnectionError,
    TimeoutError,
)


def translate_error(exc: BaseException, *, key: str | None, conditional_create: bool = False) -> ObjectStorageError:
    """Translate a boto3/botocore exception into the objstore hierarchy (keeping status and request id)."""
    if isinstance(exc, ObjectStorageError):
        return exc
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        meta = exc.response.get("ResponseMetadata", {})
        code = str(error.get("Code") or "")
        status = int(meta.get("HTTPStatusCode") or 0) or None
        cls = _CODE_TABLE.get(code) or _CODE_TABLE.get(str(status)) or ObjectStorageError
        if cls is PreconditionFailed and conditional_create:
            cls = ObjectAlreadyExists
        if status is not None and status >= 500 and cls is ObjectStorageError:
            cls = TransientError
        message = _MESSAGES.get(code) or str(error.get("Message") or code or "S3 error")
        headers = meta.get("HTTPHeaders", {}) or {}
        retry_after = headers.get("retry-after")
        return cls(
            f"{message} ({code or status})",
            key=key,
            status=status,
            request_id=meta.get("RequestId") or None,
            retry_after=float(retry_after) if retry_after and retry_after.replace(".", "", 1).isdigit() else None,
        )
    if isinstance(exc, botocore.exceptions.NoCredentialsError | botocore.exceptions.PartialCredentialsError):
        return ConfigurationError(
            "no S3 credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, "
            "or pass access_key_id/secret_access_key",
            key=key,
        )
    if isinstance(exc, botocore.exceptions.ParamValidationError):
        return ConfigurationError(f"invalid S3 request: {exc}", key=key)
    if isinstance(exc, _NETWORK_ERRORS):
        return TransientError(f"network error talking to S3: {type(exc).__name__}: {exc}", key=key)
    if isinstance(exc, botocore.exceptions.BotoCoreError):
        return ObjectStorageError(f"S3 client error: {exc}", key=key)
    return ObjectStorageError(f"unexpected {type(exc).__name__}: {exc}", key=key)


class _ProviderCredentials(botocore.credentials.Credentials):  # type: ignore[misc]
    """botocore credentials that always sign with the provider's current, renewed-before-expiry set."""

    def __init__(self, source: RefreshingCredentials) -> None:
        self._source = source
        self.method = "objstore-provider"

    def _now(self) -> Credentials:
        return self._source.get()

    @property
    def access_key(self) -> str:
        return self._now().access_key_id

    @property
    def secret_key(self) -> str:
        return self._now().secret_access_key

    @property
    def token(self) -> str | None:
        return self._now().session_token

    def get_frozen_credentials(self) -> botocore.credentials.ReadOnlyCredentials:
        current = self._now()
        return botocore.credentials.ReadOnlyCredentials(
            current.access_key_id, current.secret_access_key, current.session_token
        )


class _ProviderLoader(botocore.credentials.CredentialProvider):  # type: ignore[misc]
    METHOD = "objstore-provider"
    CANONICAL_NAME = "objstore-provider"

    def __init__(self, credentials: _ProviderCredentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> _ProviderCredentials:
        return self._credentials


@functools.cache
def _version() -> str:
    """objstore's version, for the user agent (from the installed distribution: the package root is not imported
    here, so that this adapter does not drag the service and the sync engine in)."""
    try:
        return importlib.metadata.version("objstore")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _whole_size(content_range: str | None, length: int) -> int:
    """The whole object's size: after the slash of a Content-Range (``bytes 0-9/100``), else the body's length."""
    if content_range:
        total = content_range.rpartition("/")[2].strip()
        if total.isdigit():
            return int(total)
    return length


def _rejects_credentials(error: ObjectStorageError) -> bool:
    """Whether a provider's credentials may be what the store refused (see ``S3Adapter._call``)."""
    return isinstance(error, AuthenticationError) or (isinstance(error, PermissionDenied) and error.status == 403)


class S3Adapter(IObjectStorageAdapter):
    """An S3 bucket (and optional base prefix) as a store.

    Requests go through one :class:`~objstore.adapters.s3_transport.S3Transport`, chosen here once: direct
    requests for a custom endpoint (``direct_requests``, where they can promise what botocore does), else botocore.

    Args:
        config: An :class:`S3Config`, or the bucket name followed by config fields as keywords.
    """

    name = "s3"

    def __init__(self, config: S3Config | str, **options: Any) -> None:
        config = build_config(S3Config, config, options, "S3")
        self.config = config
        self._root = StoreRoot.of(config.base_prefix)
        self._credentials: RefreshingCredentials | None = None
        if config.credentials_provider is not None:
            self._credentials = RefreshingCredentials(
                config.credentials_provider, margin=timedelta(seconds=config.refresh_margin_seconds)
            )
        self._transport: S3Transport = self._build_transport()
        if config.create_bucket:
            self._ensure_bucket()

    # --- set-up ---------------------------------------------------------------------------------------------

    def _build_transport(self) -> S3Transport:
        config = self.config
        try:
            session, verify = self._build_session()
            client = self._client_from(session, verify)
        except ConfigurationError:
            raise
        except botocore.exceptions.ProfileNotFound as exc:
            raise ConfigurationError(f"AWS profile not found: {exc}") from None
        except (ValueError, botocore.exceptions.BotoCoreError) as exc:
            raise ConfigurationError(f"cannot configure the S3 client: {exc}") from None
        encryption = Encryption(config.sse, config.sse_kms_key_id) if config.sse else None
        direct = self._build_direct_requests(session, client, verify)
        if direct is None:
            return BotocoreTransport(client, config.bucket, encryption=encryption)
        return DirectTransport(client, config.bucket, direct, encryption=encryption)

    def _build_session(self) -> tuple[boto3.session.Session, bool | str]:
        """A boto3 session over a botocore session of our own (configured by botocore's public API), and the
        certificate check to build the client with."""
        core = botocore.session.Session(profile=self.config.profile_name)
        # Listings parse a timestamp per key; botocore's default (dateutil) is most of a large listing's CPU.
        core.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=parse_timestamp)
        if self._credentials is not None:
            loader = _ProviderLoader(_ProviderCredentials(self._credentials))
            core.get_component("credential_provider").insert_before("env", loader)
        return boto3.session.Session(botocore_session=core), self._verify(core)

    def _verify(self, core: botocore.session.Session) -> bool | str:
        """The certificate check, resolved as botocore resolves it (``ca_bundle``, then ``AWS_CA_BUNDLE`` or the
        profile's, then ``REQUESTS_CA_BUNDLE``, else certifi's), so both request paths check the same way."""
        bundle = self.config.ca_bundle or core.get_config_variable("ca_bundle") or os.environ.get("REQUESTS_CA_BUNDLE")
        if not bundle:
            return True
        if not os.path.isfile(bundle):
            raise ConfigurationError(
                f"the CA bundle {bundle!r} (ca_bundle, AWS_CA_BUNDLE or REQUESTS_CA_BUNDLE) is not a readable file"
            )
        return str(bundle)

    def _client_from(self, session: boto3.session.Session, verify: bool | str) -> Any:
        config = self.config
        custom_endpoint = bool(self._endpoint_url())
        region = config.region_name or session.region_name or ("us-east-1" if custom_endpoint else None)
        checksums = config.checksums or ("when_required" if custom_endpoint else "when_supported")
        addressing = config.addressing_style
        if addressing == "auto" and custom_endpoint:
            addressing = "path"
        boto_config = BotoConfig(
            signature_version="s3v4",
            s3={"addressing_style": addressing},
            # One attempt: the retry layer is the one place that retries (with its deadline), so the SDK's tries
            # never multiply with it. This also overrides AWS_MAX_ATTEMPTS and a profile's max_attempts.
            retries={"mode": "standard", "total_max_attempts": 1},
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
            max_pool_connections=self._pool_size(),
            request_checksum_calculation=checksums,
            response_checksum_validation=checksums,
            user_agent_extra="objstore",
        )
        kwargs: dict[str, Any] = {"config": boto_config, "region_name": region, "verify": verify}
        if config.endpoint_url:
            kwargs["endpoint_url"] = config.endpoint_url
        if config.access_key_id:
            kwargs.update(
                aws_access_key_id=config.access_key_id,
                aws_secret_access_key=config.secret_access_key,
                aws_session_token=config.session_token,
            )
        return session.client("s3", **kwargs)

    def _pool_size(self) -> int:
        return max(self.config.max_pool_connections, self.config.max_concurrency + 2)

    def _build_direct_requests(
        self, session: boto3.session.Session, client: Any, verify: bool | str
    ) -> DirectRequests | None:
        if not (self.config.direct_requests and self._endpoint_url()):
            return None
        return DirectRequests.for_client(
            client,
            self.config.bucket,
            virtual_hosted=self.config.addressing_style == "virtual",
            pool_size=self._pool_size(),
            user_agent=f"objstore/{_version()}",
            credentials=self._signing_credentials(session),
            verify=verify,
        )

    def _signing_credentials(self, session: boto3.session.Session) -> CredentialSource | None:
        """What the client signs with, by botocore's public API, so that direct requests sign the same way: the
        keys given, else the session's resolved (refreshable) credentials, the provider's among them; None if
        there are none (botocore's path then reports it)."""
        config = self.config
        if config.access_key_id and config.secret_access_key:
            return StaticCredentials(config.access_key_id, config.secret_access_key, config.session_token)
        credentials: CredentialSource | None = session.get_credentials()
        return credentials

    def _where(self) -> str:
        """The store as a user knows it, for errors: its URL, and the endpoint if it is not AWS."""
        endpoint = self._endpoint_url()
        where = f"s3://{self.config.bucket}/{self._root.prefix}".rstrip("/")
        return f"{where} at {endpoint}" if endpoint else where

    def _endpoint_url(self) -> str | None:
        return self.config.endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")

    def _ensure_bucket(self) -> None:
        try:
            self._call(None, self._transport.head_bucket)
        except (ObjectNotFound, ConfigurationError):
            with contextlib.suppress(ObjectAlreadyExists):  # made meanwhile, by another store or process
                self._call(None, self._transport.create_bucket)

    def close(self) -> None:
        self._transport.close()

    def __repr__(self) -> str:
        where = f"s3://{self.config.bucket}/{self._root.prefix}".rstrip("/")
        endpoint = f", endpoint_url={self.config.endpoint_url!r}" if self.config.endpoint_url else ""
        return f"S3Adapter({where!r}{endpoint})"

    @property
    def location(self) -> str:
        """``s3://bucket/prefix``, and ``at`` the endpoint if it is not AWS (without any credential in its URL)."""
        where = f"s3://{self.config.bucket}/{self._root.prefix}".rstrip("/")
        endpoint = self._endpoint_url()
        return f"{where} at {_without_credentials(endpoint)}" if endpoint else where

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            server_side_copy=True,
            native_batch_delete=True,
            presigned_urls=True,
            checksum_sha256=self.config.store_sha256,
            max_key_bytes=self._root.max_key_bytes,
            backslash_in_keys=self.config.backslash_in_keys,
            buckets=True,
            md5_etags=True,
        )

    @property
    def credentials_refresh_count(self) -> int:
        """How many times provider credentials were fetched (0 without a provider)."""
        return self._credentials.refresh_count if self._credentials is not None else 0

    # --- plumbing -------------------------------------------------------------------------------------------

    def _call(self, key: str | None, operation: Callable[[], T], *, conditional_create: bool = False) -> T:
        """Run one S3 request (botocore's or a direct one), once; translate its errors.

        Nothing is retried here: a retryable failure goes up to the retry layer. The one exception is not a retry
        of the failure but the credentials protocol (see :mod:`objstore.ports.credentials`): when a provider's
        credentials are rejected, they are renewed and the request is signed and sent once more with the new ones.
        Rejected means refused as credentials (``AuthenticationError``: expired, unknown key, bad signature) or
        denied access with them (403 ``AccessDenied``: what a store often answers a temporary key it has revoked).
        A 403 that is really a missing permission costs one renewal, then stands as ``PermissionDenied``.
        """
        stale = self._credentials.get() if self._credentials is not None else None
        try:
            return operation()
        except Exception as exc:
            error = translate_error(exc, key=key, conditional_create=conditional_create)
            if self._credentials is None or not _rejects_credentials(error):
                raise error from exc
        # The provider's credentials were rejected (expired, or revoked early): renew once and try again.
        self._credentials.invalidate(stale)
        try:
            return operation()
        except Exception as exc:
            raise translate_error(exc, key=key, conditional_create=conditional_create) from exc

    # --- the bucket -----------------------------------------------------------------------------------------

    def make_bucket(self) -> None:
        """CreateBucket (in the configured region). Looked for first: in us-east-1 AWS answers a create of a
        bucket you own with success, so the create alone could not say that it was already there."""
        try:
            self._call(None, self._transport.head_bucket)
        except ObjectStorageError as exc:
            if exc.status not in (403, 404):  # 403: someone else's, or not ours to look at: the create says
                raise
        else:
            raise ObjectAlreadyExists("bucket already exists")
        self._call(None, self._transport.create_bucket)

    def remove_bucket(self) -> None:
        """DeleteBucket, once a listing shows no object. The listing comes first because some S3-compatible
        stores (SeaweedFS) delete a bucket with everything in it; S3 itself refuses (``BucketNotEmpty``)."""
        try:
            page = self._call(None, lambda: self._transport.list_page("", delimiter=None, max_keys=100, token=None))
            # "folder/" markers (empty objects some consoles make) hold nothing: the store decides about those.
            if any(not (item.key.endswith("/") and item.size == 0) for item in page.objects):
                raise PreconditionFailed("the bucket is not empty")
            self._call(None, self._transport.delete_bucket)
        except ConfigurationError as exc:
            if exc.status != 404:  # NoSuchBucket: for object calls a configuration error, here the thing asked for
                raise
            raise ObjectNotFound("the bucket does not exist", status=404, request_id=exc.request_id) from exc

    # --- reads ----------------------------------------------------------------------------------------------

    def head_object(self, prefix: str, key: str) -> ObjectInfo:
        relative, bucket_key = self._root.locate(prefix, key)
        try:
            head = self._call(relative, lambda: self._transport.head(bucket_key))
        except PermissionDenied as exc:
            raise self._why_forbidden(relative, bucket_key, exc) from None
        return self._info(relative, head)

    def _why_forbidden(self, relative: str, bucket_key: str, error: PermissionDenied) -> ObjectStorageError:
        """A HEAD's 403 has no body to say why; a one-byte GET of the same key does (a wrong secret, an unknown
        key id, access denied), so a HEAD fails in the words a GET, a PUT or a listing would use."""
        if not error.message.endswith("(403)"):
            return error
        try:
            got = self._call(relative, lambda: self._transport.get(bucket_key, "bytes=0-0"))
        except ObjectStorageError as explained:
            return explained
        got.body.close()
        return error

    @staticmethod
    def _info(relative: str, head: S3Head, size: int | None = None) -> ObjectInfo:
        """The object a HEAD (or a GET, given the whole ``size``) describes."""
        metadata = dict(head.metadata)
        sha256 = metadata.pop(SHA256_METADATA, None)
        return ObjectInfo(
            key=relative,
            size=head.length if size is None else size,
            etag=(head.etag or "").strip('"') or None,
            last_modified=head.last_modified,
            content_type=head.content_type,
            metadata=metadata,
            checksum_sha256=sha256,
        )

    @contextmanager
    def open_object(self, prefix: str, key: str, options: ReadOptions) -> Generator[OpenedObject, None, None]:
        relative, bucket_key = self._root.locate(prefix, key)
        header, described = self._range_header(prefix, key, options)
        body = None
        if header != "":
            try:
                body, length, described = self._open_body(relative, bucket_key, header)
            except ObjectStorageError as exc:
                if exc.status != 416:
                    raise
                # Start beyond the end (or any range of an empty object): the object exists, the slice is empty.
        if body is None:
            yield OpenedObject(described or self.head_object(prefix, key), io.BytesIO(b""))
            return
        assert described is not None
        reader = VerifyingReader(
            body.read,
            body.close,
            key=relative,
            length=length,
            sha256=described.checksum_sha256 if (header is None and self.config.verify_sha256) else None,
            translate=lambda exc: translate_error(exc, key=relative),
        )
        with io.BufferedReader(reader, buffer_size=CHUNK_SIZE) as buffered:
            yield OpenedObject(described, buffered)

    def _open_body(self, relative: str, bucket_key: str, header: str | None) -> tuple[S3Body, int, ObjectInfo]:
        """Start a GET: its body, the length of the body, and the object as the answer describes it (its whole
        size from Content-Range for a range)."""
        started = self._call(relative, lambda: self._transport.get(bucket_key, header))
        length = started.head.length
        return started.body, length, self._info(relative, started.head, _whole_size(started.head.content_range, length))

    def _range_header(self, prefix: str, key: str, options: ReadOptions) -> tuple[str | None, ObjectInfo | None]:
        """The HTTP Range for a slice (None for the whole object, "" for an empty slice of an object that
        exists), and the object's head where finding the range took one."""
        start, end = options.start, options.end
        if (start is None or start >= 0) and end is None:
            return (None if not start else f"bytes={start}-"), None
        if start is not None and start < 0 and end is None:
            return f"bytes={start}", None  # a suffix range: the last -start bytes
        if (start is None or start >= 0) and end is not None and end >= 0:
            first = start or 0
            if end <= first:
                return "", self.head_object(prefix, key)
            return f"bytes={first}-{end - 1}", None
        head = self.head_object(prefix, key)  # negative end: needs the size
        first, stop = resolve_range(start, end, head.size)
        return ("" if stop <= first else f"bytes={first}-{stop - 1}"), head

    def scan_objects(self, prefix: str, options: ListOptions) -> Iterator[ObjectInfo]:
        bucket_prefix = self._root.folder(prefix)
        page_size = options.page_size
        if options.recursive and not self.config.hierarchical:
            yield from self._list_pages(bucket_prefix, delimiter=False, page_size=page_size)
            return
        levels = [in_key_order(self._list_pages(bucket_prefix, delimiter=True, page_size=page_size))]
        while levels:
            entry = next(levels[-1], None)
            if entry is None:
                levels.pop()
                continue
            if not entry.is_prefix:
                yield entry
            elif not options.recursive:
                if self._prefix_has_objects(entry.key):
                    yield entry
            else:
                sub = self._root.full(entry.key)
                levels.append(in_key_order(self._list_pages(sub, delimiter=True, page_size=page_size)))

    def _list_pages(self, bucket_prefix: str, *, delimiter: bool, page_size: int | None) -> Iterator[ObjectInfo]:
        """ListObjectsV2 page by page, in the server's order; keys relative to the store's root."""
        label = self._root.relative(bucket_prefix) or None
        guard = ListingGuard(self._where(), self.name, bucket_prefix, label)
        token: str | None = None
        while True:
            request = functools.partial(
                self._transport.list_page,
                bucket_prefix,
                delimiter="/" if delimiter else None,
                max_keys=page_size,
                token=token,
            )
            page = self._call(label, request)
            entries = self._page_entries(page, guard)
            # Checked before the page is given: a page that would loop the listing gives nothing twice.
            token = guard.next_token(
                page.next_token, entries=len(page.objects) + len(page.prefixes), truncated=page.truncated
            )
            yield from page_in_name_order(entries) if delimiter else entries
            if token is None:
                return

    def _page_entries(self, page: S3Page, guard: ListingGuard) -> list[ObjectInfo]:
        """A page's objects and prefixes, relative to the store's root (keys the port cannot name left out)."""
        entries = []
        for item in page.objects:
            listed = as_listed(
                ObjectInfo(
                    key=self._root.relative(guard.key(item.key)),
                    size=item.size,
                    etag=(item.etag or "").strip('"') or None,
                    last_modified=item.last_modified,
                )
            )
            if listed is not None:
                entries.append(listed)
        for name in page.prefixes:
            prefix_entry = as_listed(ObjectInfo(key=self._root.relative(guard.key(name)), is_prefix=True))
            if prefix_entry is not None:
                entries.append(prefix_entry)
        return entries

    def _prefix_has_objects(self, relative_prefix: str) -> bool:
        if not self.config.hierarchical:
            return True
        bucket_prefix = self._root.full(relative_prefix)
        page = self._call(
            relative_prefix,
            lambda: self._transport.list_page(bucket_prefix, delimiter=None, max_keys=1, token=None),
        )
        return bool(page.objects)

    # --- writes ---------------------------------------------------------------------------------------------

    def write_object(self, prefix: str, key: str, stream: Readable, options: WriteOptions) -> ObjectInfo:
        relative, bucket_key = self._root.locate(prefix, key)
        threshold = self.config.multipart_threshold
        if isinstance(stream, BufferReader) and not stream.closed:
            unread = stream.unread()
            if len(unread) < threshold:
                # Bytes in memory (put_object): sent as they are, not read into a buffer of our own first.
                info = self._put_single(relative, bucket_key, unread, options)
                stream.seek(0, io.SEEK_END)  # consumed, as a read would leave it
                return info
        # The first buffer has room for a whole first part: the upload never holds one buffer while it waits for
        # another from the shared pool (see objstore.domain.buffers).
        first = read_first(stream, threshold, capacity=max(threshold, self.config.multipart_chunksize))
        try:
            if first.size < threshold:
                return self._put_single(relative, bucket_key, first.view(), options)
            sha256 = None
            if self.config.store_sha256 and is_seekable(stream):
                sha256 = prehash_sha256(stream, first.view())
            return self._put_multipart(relative, bucket_key, first, stream, options, sha256)
        finally:
            first.release()  # once only: the part upload may have returned it already

    @staticmethod
    def _attributes(
        content_type: str | None, metadata: Mapping[str, str] | None, sha256: str | None
    ) -> ObjectAttributes:
        user = dict(metadata or {})
        if sha256 is not None:
            user[SHA256_METADATA] = sha256
        return ObjectAttributes(content_type=content_type or None, metadata=user)

    def _put_single(
        self, relative: str, bucket_key: str, data: bytes | bytearray | memoryview, options: WriteOptions
    ) -> ObjectInfo:
        sha256 = hashlib.sha256(data).hexdigest() if self.config.store_sha256 else None
        attributes = self._attributes(options.content_type, options.metadata, sha256)
        conditions = Conditions(options.if_none_match, options.if_match)
        etag = self._call(
            relative,
            lambda: self._transport.put(bucket_key, data, attributes, conditions),
            conditional_create=bool(options.if_none_match),
        )
        return ObjectInfo(
            key=relative,
            size=len(data),
            etag=etag.strip('"') or None,
            content_type=options.content_type,
            metadata=options.metadata,
            checksum_sha256=sha256,
        )

    def _put_multipart(
        self, relative: str, bucket_key: str, first: Lease, stream: Readable, options: WriteOptions, sha256: str | None
    ) -> ObjectInfo:
        self._check_conditions_early("", relative, options)
        attributes = self._attributes(options.content_type, options.metadata, sha256)
        upload_id = self._call(relative, lambda: self._transport.create_multipart(bucket_key, attributes))
        conditions = Conditions(options.if_none_match, options.if_match)
        try:
            parts, size = self._upload_parts(relative, bucket_key, upload_id, first, stream)
            etag = self._call(
                relative,
                lambda: self._transport.complete_multipart(bucket_key, upload_id, parts, conditions),
                conditional_create=bool(options.if_none_match),
            )
        except BaseException:
            self._abort(relative, bucket_key, upload_id)
            raise
        return ObjectInfo(
            key=relative,
            size=size,
            etag=etag.strip('"') or None,
            content_type=options.content_type,
            metadata=options.metadata,
            checksum_sha256=sha256,
        )

    def _upload_parts(
        self, relative: str, bucket_key: str, upload_id: str, first: Lease, stream: Readable
    ) -> tuple[list[tuple[int, str]], int]:
        def send(number: int, data: memoryview | bytes) -> tuple[int, str]:
            return number, self._call(
                relative, lambda: self._transport.upload_part(bucket_key, upload_id, number, data)
            )

        # Each part is sent once here (no attempts of our own): resuming at a failed part is the retry layer's.
        sent = upload_in_parts(
            stream,
            first,
            part_size=self.config.multipart_chunksize,
            concurrency=self.config.max_concurrency,
            send=send,
            key=relative,
            max_parts=MAX_PARTS,
        )
        return sent.results, sent.size

    def _abort(self, relative: str, bucket_key: str, upload_id: str) -> None:
        # The original failure is what the caller needs; an abort that fails too leaves an orphan that
        # a bucket lifecycle rule (AbortIncompleteMultipartUpload) reaps.
        with contextlib.suppress(ObjectStorageError):
            self._call(relative, lambda: self._transport.abort_multipart(bucket_key, upload_id))

    def delete_object(self, prefix: str, key: str) -> None:
        relative, bucket_key = self._root.locate(prefix, key)
        self.head_object(prefix, key)  # S3 deletes are silent about absent keys; the port is not
        self._call(relative, lambda: self._transport.delete(bucket_key))

    def delete_objects(self, prefix: str, keys: Iterable[str]) -> DeleteResult:
        def delete_batch(names: list[str]) -> dict[str, ObjectStorageError]:
            failed: dict[str, ObjectStorageError] = {}
            for item in self._call(None, lambda: self._transport.delete_batch(names)):
                if item.code != "NoSuchKey":  # absent counts as deleted
                    cls = _CODE_TABLE.get(item.code, ObjectStorageError)
                    message = f"{item.message or item.code} ({item.code})"
                    failed[item.key] = cls(message, key=self._root.relative(item.key))
            return failed

        return delete_in_batches(
            keys,
            locate=lambda key: self._root.locate(prefix, key)[1],
            batch_size=DELETE_BATCH,
            delete_batch=delete_batch,
        )

    def copy_object(self, src_prefix: str, src_key: str, dst_prefix: str, dst_key: str) -> None:
        src_relative, src_bucket_key = self._root.locate(src_prefix, src_key)
        dst_relative, dst_bucket_key = self._root.locate(dst_prefix, dst_key)
        source = self.head_object(src_prefix, src_key)
        if src_bucket_key == dst_bucket_key:
            return
        if source.size <= self.config.copy_multipart_threshold:
            self._call(src_relative, lambda: self._transport.copy(src_bucket_key, dst_bucket_key))
            return
        self._copy_multipart(source, src_bucket_key, dst_relative, dst_bucket_key)

    def _copy_multipart(self, source: ObjectInfo, src_bucket_key: str, dst_relative: str, dst_bucket_key: str) -> None:
        attributes = self._attributes(source.content_type, source.metadata, source.checksum_sha256)
        upload_id = self._call(dst_relative, lambda: self._transport.create_multipart(dst_bucket_key, attributes))
        part_size = max(self.config.multipart_chunksize, -(-source.size // MAX_PARTS))
        ranges = [(start, min(start + part_size, source.size) - 1) for start in range(0, source.size, part_size)]

        def copy_part(number: int, first: int, last: int) -> tuple[int, str]:
            return number, self._call(
                dst_relative,
                lambda: self._transport.upload_part_copy(
                    dst_bucket_key, upload_id, number, src_bucket_key, first, last
                ),
            )

        try:
            with ThreadPoolExecutor(self.config.max_concurrency) as pool:
                parts = list(pool.map(lambda item: copy_part(item[0] + 1, *item[1]), enumerate(ranges)))
            self._call(
                dst_relative,
                lambda: self._transport.complete_multipart(dst_bucket_key, upload_id, parts, Conditions()),
            )
        except BaseException:
            self._abort(dst_relative, dst_bucket_key, upload_id)
            raise

    # --- links ----------------------------------------------------------------------------------------------

    def presign_url(self, prefix: str, key: str, *, expires_in: int = 3600, method: str = "GET") -> str:
        relative, bucket_key = self._root.locate(prefix, key)
        verb = method.upper()
        if verb not in ("GET", "PUT"):
            raise NotSupported(f"presigned {method} URLs are not supported (GET or PUT)", key=relative)
        return self._call(relative, lambda: self._transport.presign(verb, bucket_key, int(expires_in)))


def _without_credentials(url: str) -> str:
    """An endpoint URL as it may be shown: no ``user:password@``, no query (a signature or token may be there)."""
    host = url.split("?", 1)[0].split("#", 1)[0]
    scheme, sep, rest = host.rpartition("://")
    netloc, slash, path = rest.partition("/")
    return f"{scheme}{sep}{netloc.rpartition('@')[2]}{slash}{path}".rstrip("/")
