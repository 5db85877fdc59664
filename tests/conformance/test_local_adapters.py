"""The conformance suite against the stores that need no server: a local folder and memory."""

from __future__ import annotations

from pathlib import Path

import pytest

from objstore.adapters.filesystem import FilesystemAdapter
from objstore.adapters.memory import MemoryAdapter
from objstore.ports.storage import IObjectStorageAdapter
from objstore.testing.conformance import ObjectStoreConformance


class TestFilesystemConformance(ObjectStoreConformance):
    @pytest.fixture
    def adapter(self, tmp_path: Path) -> IObjectStorageAdapter:
        return FilesystemAdapter(tmp_path / "root")


class TestMemoryConformance(ObjectStoreConformance):
    @pytest.fixture
    def adapter(self) -> IObjectStorageAdapter:
        return MemoryAdapter()
