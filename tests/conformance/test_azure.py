"""The conformance suite against Azure Blob Storage's emulator (Azurite on loopback)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from objstore.adapters.azure_blob import AzureBlobAdapter, AzureBlobConfig
from objstore.ports.storage import IObjectStorageAdapter
from objstore.testing.conformance import ObjectStoreConformance

MiB = 1024 * 1024


def azure_adapter(connection_string: str, container: str, **options: Any) -> AzureBlobAdapter:
    settings: dict[str, Any] = {
        "container": container,
        "base_prefix": f"conformance/{uuid.uuid4().hex}",
        "connection_string": connection_string,
        # Small blocks so the suite exercises parallel block staging; memory <= block size x concurrency.
        "block_threshold": 4 * MiB,
        "block_size": 4 * MiB,
        "max_concurrency": 4,
    }
    settings.update(options)
    return AzureBlobAdapter(AzureBlobConfig(**settings))


class TestAzureConformance(ObjectStoreConformance):
    @pytest.fixture
    def adapter(self, azurite: str, azure_container: str) -> IObjectStorageAdapter:
        return azure_adapter(azurite, azure_container)
