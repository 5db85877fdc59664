"""The credentials-provider port: credentials that expire and are renewed before they do.

An adapter that accepts an :class:`ICredentialsProvider` asks it for credentials when it starts, renews them a
margin before they expire, and once more when the store answers that they expired. Renewal is single-flight:
however many threads need credentials at the moment they expire, the provider is called once.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

__all__ = ["Credentials", "ICredentialsProvider", "RefreshingCredentials"]


@dataclass(frozen=True)
class Credentials:
    """One set of access credentials. The secret parts never appear in ``repr``.

    Attributes:
        access_key_id: The key id (shown in ``repr`` only by its last four characters).
        secret_access_key: The secret key.
        session_token: The session token of temporary credentials, if any.
        expires_at: When they stop working (timezone-aware), or None if they do not expire.
    """

    access_key_id: str = field(repr=False)
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)
    expires_at: datetime | None = None

    def __repr__(self) -> str:
        tail = self.access_key_id[-4:] if len(self.access_key_id) > 8 else "****"
        return f"Credentials(access_key_id='...{tail}', expires_at={self.expires_at!r})"


class ICredentialsProvider(ABC):
    """Something that can fetch fresh credentials (an STS call, the Naas API, a vault)."""

    @abstractmethod
    def fetch(self) -> Credentials:
        """Fetch a new set of credentials. Raise an ``ObjectStorageError`` subclass on failure."""


class RefreshingCredentials:
    """Caches a provider's credentials and renews them ``margin`` before they expire, one renewal at a time.

    Args:
        provider: Where credentials come from.
        margin: Renew this long before ``expires_at``.
        ttl: For credentials without an expiry: renew after this long (None: keep them until invalidated).
        clock: Current time (for tests).
    """

    def __init__(
        self,
        provider: ICredentialsProvider,
        *,
        margin: timedelta = timedelta(seconds=60),
        ttl: timedelta | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        self._provider = provider
        self._margin = margin
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._current: Credentials | None = None
        self._renew_at: datetime | None = None
        self.refresh_count = 0

    def get(self) -> Credentials:
        """Current credentials, renewed first if they are due."""
        current = self._current
        if current is not None and not self._due():
            return current
        with self._lock:
            if self._current is None or self._due():
                self._renew()
            assert self._current is not None
            return self._current

    def invalidate(self, stale: Credentials | None = None) -> Credentials:
        """The store rejected ``stale`` as expired: renew, unless another thread already did."""
        with self._lock:
            if self._current is None or stale is None or self._current is stale:
                self._renew()
            assert self._current is not None
            return self._current

    def _due(self) -> bool:
        return self._renew_at is not None and self._clock() >= self._renew_at

    def _renew(self) -> None:
        fresh = self._provider.fetch()
        now = self._clock()
        if fresh.expires_at is not None:
            lifetime = fresh.expires_at - now
            # Never renew sooner than half the lifetime: very short credentials would otherwise renew constantly.
            self._renew_at = fresh.expires_at - min(self._margin, lifetime / 2)
        elif self._ttl is not None:
            self._renew_at = now + self._ttl
        else:
            self._renew_at = None
        self._current = fresh
        self.refresh_count += 1
