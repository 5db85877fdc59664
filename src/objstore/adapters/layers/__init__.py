"""Layers: wrapper adapters that add retries, fault injection, logging and a concurrency limit to any store.

Stacked by the factory, from the outside in: logging (one line per store operation, before any retry), retry,
fault injection (so injected faults are retried as real ones), the concurrency limit, then the store.
Each layer implements every primitive of the port itself (``PRIMITIVES``; a test holds them to it), and the
derived calls run above them all, so no call slips past a layer.
Imported lazily: only the retry layer needs tenacity.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from objstore._lazy import lazy_exports

if TYPE_CHECKING:
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

_MODULES = {
    "ConcurrencyLimitedAdapter": "concurrency",
    "FaultInjectingAdapter": "faults",
    "FaultSpec": "faults",
    "FaultStats": "faults",
    "LoggingAdapter": "logging",
    "redact": "logging",
    "RetryingAdapter": "retry",
    "RetryPolicy": "retry",
    "RetryStats": "retry",
}

__getattr__, __dir__ = lazy_exports(__name__, {name: f"{__name__}.{module}" for name, module in _MODULES.items()})
