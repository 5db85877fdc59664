"""The conformance suite against Google Cloud Storage's emulator (fake-gcs-server on loopback)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from objstore.adapters.gcs import GCSAdapter, GCSConfig
from objstore.ports.storage import IObjectStorageAdapter
from objstore.testing.conformance import ObjectStoreConformance

MiB = 1024 * 1024


def gcs_adapter(endpoint: str, bucket: str, **options: Any) -> GCSAdapter:
    settings: dict[str, Any] = {
        "bucket": bucket,
        "base_prefix": f"conformance/{uuid.uuid4().hex}",
        "endpoint": endpoint,
        "resumable_threshold": 4 * MiB,
        "chunk_size": 4 * MiB,
    }
    settings.update(options)
    return GCSAdapter(GCSConfig(**settings))


class TestGCSConformance(ObjectStoreConformance):
    @pytest.fixture
    def adapter(self, gcs_server: str, gcs_bucket: str) -> IObjectStorageAdapter:
        return gcs_adapter(gcs_server, gcs_bucket)
