"""Adapters: one module per store. Imported lazily, so a missing optional SDK only matters when it is used."""

from __future__ import annotations

import importlib
from typing import Any

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
    "ConcurrencyLimitedAdapter": "objstore.adapters.layers",
    "FaultInjectingAdapter": "objstore.adapters.layers",
    "FaultSpec": "objstore.adapters.layers",
    "LoggingAdapter": "objstore.adapters.layers",
    "RetryPolicy": "objstore.adapters.layers",
    "RetryingAdapter": "objstore.adapters.layers",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'objstore.adapters' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
