"""How long to wait before trying again: full-jitter exponential backoff, never shorter than Retry-After."""

from __future__ import annotations

import random

__all__ = ["backoff_delay"]

_shared = random.Random()


def backoff_delay(
    attempt: int,
    error: BaseException | None = None,
    *,
    base: float = 0.2,
    max_wait: float = 10.0,
    rng: random.Random | None = None,
) -> float:
    """The wait after failed try number ``attempt`` (from 1).

    Random in [0, min(max_wait, base * 2**(attempt-1))] (full jitter: many clients retrying together spread
    out), but at least the ``retry_after`` the store asked for on ``error``, capped at ``max_wait``.
    """
    backoff = (rng or _shared).uniform(0, min(max_wait, base * 2 ** max(0, attempt - 1)))
    retry_after = getattr(error, "retry_after", None) or 0.0
    return max(backoff, min(float(retry_after), max_wait))
