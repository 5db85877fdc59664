"""AWS Signature Version 4 (header form) for single requests, with an injectable clock.

Pure computation: no network, no SDK. The caller gives the request as it will be sent (method, the path exactly
as it goes on the request line, the canonical query, the headers including ``host``), the payload's SHA-256 (or
one of the special payload values S3 accepts), and frozen credentials; the signer adds ``x-amz-date``, the
session token, S3's ``x-amz-content-sha256`` and ``authorization``.

S3's rules apply to the path: it is signed as sent (URI-encoded once, by the caller) and never normalised, so
``a//b`` and ``a/./b`` stay distinct keys. Services that want the path encoded twice or normalised are not served
here. Each header is sent once (a mapping holds one value per name); streamed payloads with chunk signatures
(``STREAMING-AWS4-HMAC-SHA256-PAYLOAD``) can be declared in ``x-amz-content-sha256`` but their chunks are not
signed here.

Tested against AWS's published test suite (tests/unit/test_sigv4.py) and against botocore's ``S3SigV4Auth``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import NamedTuple, Protocol

__all__ = [
    "ALGORITHM",
    "EMPTY_SHA256",
    "STREAMING_SIGNED_PAYLOAD",
    "STREAMING_UNSIGNED_PAYLOAD_TRAILER",
    "UNSIGNED_PAYLOAD",
    "Clock",
    "CredentialSource",
    "FrozenCredentials",
    "SigV4Signer",
    "SignedRequest",
    "StaticCredentials",
    "canonical_query",
    "signing_key",
    "uri_encode",
    "utc_now",
]

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_UNSIGNED_PAYLOAD_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
STREAMING_SIGNED_PAYLOAD = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
_SPECIAL_PAYLOADS = frozenset(
    {
        UNSIGNED_PAYLOAD,
        STREAMING_UNSIGNED_PAYLOAD_TRAILER,
        STREAMING_SIGNED_PAYLOAD,
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
    }
)
_SHA256_HEX = re.compile("[0-9a-f]{64}")
_CACHED_KEYS = 8  # signing keys kept per signer: keys rotate (refreshing credentials) and days pass

Clock = Callable[[], datetime]
"""A source of the current time: an aware datetime (a naive one is taken as UTC)."""


def utc_now() -> datetime:
    """The real clock, the default for :class:`SigV4Signer`."""
    return datetime.now(timezone.utc)


class FrozenCredentials(Protocol):
    """One consistent view of a key pair and its session token (botocore's ``ReadOnlyCredentials`` is one)."""

    @property
    def access_key(self) -> str: ...

    @property
    def secret_key(self) -> str: ...

    @property
    def token(self) -> str | None: ...


class CredentialSource(Protocol):
    """Credentials that may change over time; botocore's ``Credentials`` (from ``Session.get_credentials()``)."""

    def get_frozen_credentials(self) -> FrozenCredentials: ...


@dataclass(frozen=True)
class StaticCredentials:
    """Fixed credentials; the secret and the token stay out of ``repr``."""

    access_key: str
    secret_key: str = field(repr=False)
    token: str | None = field(default=None, repr=False)

    def get_frozen_credentials(self) -> StaticCredentials:
        return self


class SignedRequest(NamedTuple):
    """A signed request's headers, with the intermediate strings the signature was computed from.

    Attributes:
        headers: What to send: the given headers (names lower-cased) plus ``x-amz-date``, the session token,
            ``x-amz-content-sha256`` (for S3) and ``authorization``.
        canonical_request: The canonical request, as SigV4 defines it.
        string_to_sign: The string whose HMAC is the signature.
        signature: The signature, hex.
    """

    headers: dict[str, str]
    canonical_request: str
    string_to_sign: str
    signature: str

    @property
    def authorization(self) -> str:
        return self.headers["authorization"]


def uri_encode(value: str, *, safe: str = "") -> str:
    """SigV4's URI encoding: every byte but the unreserved ``A-Z a-z 0-9 - _ . ~`` (and ``safe``) as ``%XY``."""
    return urllib.parse.quote(value, safe="-_.~" + safe)


def canonical_query(params: Iterable[tuple[str, str]]) -> str:
    """The canonical query string of decoded ``(name, value)`` pairs: encoded, sorted by name then value."""
    encoded = sorted((uri_encode(name), uri_encode(value)) for name, value in params)
    return "&".join(f"{name}={value}" for name, value in encoded)


class SigV4Signer:
    """Signs requests for one region and service.

    Args:
        region: The signing region (``us-east-1`` where an S3-compatible store does not care).
        service: The signing name: ``s3`` for S3 and the stores that speak its protocol.
        clock: Where the request time comes from; tests pass a fixed one.
        content_sha256_header: Whether to send and sign ``x-amz-content-sha256`` (S3 requires it); by default
            only for ``s3``.
    """

    def __init__(
        self, region: str, service: str, *, clock: Clock = utc_now, content_sha256_header: bool | None = None
    ) -> None:
        self.region = region
        self.service = service
        self._clock = clock
        self._content_sha256_header = service == "s3" if content_sha256_header is None else content_sha256_header
        self._keys: dict[tuple[str, str], bytes] = {}

    def sign(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        payload_hash: str,
        credentials: FrozenCredentials,
    ) -> SignedRequest:
        """Sign one request.

        Args:
            method: The HTTP method.
            path: The path as it goes on the request line: URI-encoded once, ``/`` kept (see :func:`uri_encode`).
            query: The canonical query string (see :func:`canonical_query`); ``""`` for none.
            headers: The headers to sign and send; must hold ``host``. ``user-agent`` is best added after
                signing (proxies rewrite it).
            payload_hash: The body's SHA-256 in lower-case hex, or one of the special payload values
                (:data:`UNSIGNED_PAYLOAD`, :data:`STREAMING_UNSIGNED_PAYLOAD_TRAILER`, ...).
            credentials: The key pair and optional session token to sign with (sent as
                ``x-amz-security-token``, and signed).

        Raises:
            ValueError: No ``host`` header, or a payload hash that is neither a SHA-256 nor a special value.
        """
        if _SHA256_HEX.fullmatch(payload_hash) is None and payload_hash not in _SPECIAL_PAYLOADS:
            raise ValueError(f"not a payload hash: {payload_hash!r}")
        signed = {name.lower(): str(value) for name, value in headers.items()}
        if "host" not in signed:
            raise ValueError("a SigV4 request must sign its host header")
        amz_date = _amz_date(self._clock())
        day = amz_date[:8]
        signed["x-amz-date"] = amz_date
        if self._content_sha256_header:
            signed["x-amz-content-sha256"] = payload_hash
        if credentials.token:
            signed["x-amz-security-token"] = credentials.token
        names = sorted(signed)
        canonical_headers = "".join(f"{name}:{' '.join(signed[name].split())}\n" for name in names)
        signed_names = ";".join(names)
        canonical = f"{method.upper()}\n{path}\n{query}\n{canonical_headers}\n{signed_names}\n{payload_hash}"
        scope = f"{day}/{self.region}/{self.service}/aws4_request"
        to_sign = f"{ALGORITHM}\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        key = self._signing_key(credentials.secret_key, day)
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        signed["authorization"] = (
            f"{ALGORITHM} Credential={credentials.access_key}/{scope}, SignedHeaders={signed_names}, "
            f"Signature={signature}"
        )
        return SignedRequest(signed, canonical, to_sign, signature)

    def _signing_key(self, secret: str, day: str) -> bytes:
        cached = self._keys.get((secret, day))
        if cached is None:
            cached = signing_key(secret, day, self.region, self.service)
            if len(self._keys) >= _CACHED_KEYS:
                self._keys.clear()
            self._keys[(secret, day)] = cached
        return cached


def signing_key(secret: str, day: str, region: str, service: str) -> bytes:
    """The key derived for one day (``YYYYMMDD``), region and service from a secret access key."""
    key = hmac.new(f"AWS4{secret}".encode(), day.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _amz_date(now: datetime) -> str:
    if now.tzinfo is not None and now.tzinfo is not timezone.utc:
        now = now.astimezone(timezone.utc)
    # 2015-08-30T12:36:00 -> 20150830T123600Z; isoformat is a few times quicker than strftime
    return now.isoformat(timespec="seconds")[:19].replace("-", "").replace(":", "") + "Z"
