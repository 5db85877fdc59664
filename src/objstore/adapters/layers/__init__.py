"""Layers: wrapper adapters that add retries, fault injection, logging and a concurrency limit to any store.

Stacked by the factory, from the outside in: logging (one line per call as the application made it), retry,
fault injection (so injected faults are retried as real ones), the concurrency limit, then the store.
"""

from __future__ import annotations

from objstore.adapters.layers.concurrency import ConcurrencyLimitedAdapter
from objstore.adapters.layers.faults import FaultInjectingAdapter, FaultSpec, FaultStats
from objstore.adapters.layers.logging import LoggingAdapter, redact
from objstore.adapters.layers.retry import RetryingAdapter, RetryPolicy, RetryStats

__all__ = [
    "ConcurrencyLimitedAdapter",
    "FaultInjectingAdapter",
    "FaultSpec",
    "FaultStats",
    "LoggingAdapter",
    "RetryPolicy",
    "RetryStats",
    "RetryingAdapter",
    "redact",
]
