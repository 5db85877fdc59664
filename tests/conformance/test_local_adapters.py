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


class TestFilesystemThroughALinkedRootConformance(ObjectStoreConformance):
    """The root as the user named it may be a link (it is the root itself); links below it are never written through."""

    @pytest.fixture
    def adapter(self, tmp_path: Path) -> IObjectStorageAdapter:
        (tmp_path / "real").mkdir()
        (tmp_path / "root").symlink_to(tmp_path / "real", target_is_directory=True)
        return FilesystemAdapter(tmp_path / "root")


class TestMemoryConformance(ObjectStoreConformance):
    @pytest.fixture
    def adapter(self) -> IObjectStorageAdapter:
        return MemoryAdapter()
