"""Adapters: one module per store. Imported lazily, so a missing optional SDK only matters when it is used."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["FilesystemAdapter", "FilesystemConfig", "MemoryAdapter", "MemoryConfig"]

_EXPORTS = {
    "FilesystemAdapter": "objstore.adapters.filesystem",
    "FilesystemConfig": "objstore.adapters.filesystem",
    "MemoryAdapter": "objstore.adapters.memory",
    "MemoryConfig": "objstore.adapters.memory",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'objstore.adapters' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
