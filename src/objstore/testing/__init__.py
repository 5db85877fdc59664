"""Testing helpers for code that uses objstore, and for new adapters.

* :class:`ObjectStoreConformance`: the conformance suite, reusable by any adapter (needs pytest).
* :data:`HOSTILE_KEYS`: keys every store must refuse.
* ``pytest_plugins = ["objstore.testing.fixtures"]`` gives your tests a ``memory_store`` fixture: a fresh,
  private in-memory :class:`~objstore.ObjectStorageService` per test.
"""

from __future__ import annotations

from objstore.testing.hostile import HOSTILE_KEYS, HOSTILE_PREFIXES

__all__ = ["HOSTILE_KEYS", "HOSTILE_PREFIXES", "ObjectStoreConformance"]


def __getattr__(name: str) -> object:
    # The suite imports pytest; load it only when asked for, so importing objstore.testing stays cheap.
    if name == "ObjectStoreConformance":
        from objstore.testing.conformance import ObjectStoreConformance

        return ObjectStoreConformance
    raise AttributeError(f"module 'objstore.testing' has no attribute {name!r}")
