"""Adapters: one module per store. Imported lazily, so a missing optional SDK only matters when it is used."""

from __future__ import annotations

from objstore._lazy import lazy_exports

__all__ = [
    "ConcurrencyLimitedAdapter",
    "FaultInjectingAdapter",
    "FaultSpec",
    "FilesystemAdapter",
    "FilesystemConfig",
    "LoggingAdapter",
    "MemoryAdapter",
    "MemoryConfig",
    "RetryPolicy",
    "RetryingAdapter",
]

_EXPORTS = {
    "FilesystemAdapter": "objstore.adapters.filesystem",
    "FilesystemConfig": "objstore.adapters.filesystem",
    "MemoryAdapter": "objstore.adapters.memory",
    "MemoryConfig": "objstore.adapters.memory",
    "ConcurrencyLimitedAdapter": "objstore.adapters.layers.concurrency",
    "FaultInjectingAdapter": "objstore.adapters.layers.faults",
    "FaultSpec": "objstore.adapters.layers.faults",
    "LoggingAdapter": "objstore.adapters.layers.logging",
    "RetryPolicy": "objstore.adapters.layers.retry",
    "RetryingAdapter": "objstore.adapters.layers.retry",
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
