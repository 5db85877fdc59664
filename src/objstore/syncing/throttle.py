"""--bwlimit: one token bucket shared by every transfer of a sync, and a stream wrapper that draws from it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from objstore.domain.errors import ConfigurationError

__all__ = ["RateLimit"]


class RateLimit:
    """A token bucket of bytes, safe to share between threads.

    ``take(n)`` accounts for ``n`` bytes and, when they go beyond the rate, sleeps until they fit. A thread may
    overdraw the bucket (one read larger than the burst): the debt is paid by whoever takes next, so all threads
    together never exceed ``bytes_per_second`` over any stretch longer than the burst.

    Args:
        bytes_per_second: The rate.
        burst: Bytes that may go at once after a pause (default: one second's worth); the bucket starts full.
        clock: Seconds, monotonic (injected by tests).
        sleep: How to wait (injected by tests).
    """

    def __init__(
        self,
        bytes_per_second: int,
        *,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if isinstance(bytes_per_second, bool) or not isinstance(bytes_per_second, int) or bytes_per_second < 1:
            raise ConfigurationError(f"--bwlimit is a whole number of bytes per second, not {bytes_per_second!r}")
        self.rate = bytes_per_second
        self.burst = bytes_per_second if burst is None else burst
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._tokens = float(self.burst)
        self._last = clock()

    def take(self, n: int) -> float:
        """Account for ``n`` bytes; returns the seconds slept for them."""
        if n <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= n
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)  # outside the lock: the others account meanwhile, and wait their turn after this one
        return wait
