"""pytest fixtures for applications that use objstore: ``pytest_plugins = ["objstore.testing.fixtures"]``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from objstore.adapters.memory import MemoryAdapter
from objstore.domain.service import ObjectStorageService


@pytest.fixture
def memory_store() -> Iterator[ObjectStorageService]:
    """A fresh, private in-memory store for one test: nothing is shared between tests."""
    with ObjectStorageService(MemoryAdapter()) as service:
        yield service  # type: ignore[misc]
