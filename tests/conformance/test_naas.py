"""The conformance suite through the Naas store: the Naas API on loopback, the S3 test server behind it."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from objstore import ObjectStorageFactory
from objstore.ports.storage import IObjectStorageAdapter
from objstore.testing.conformance import ObjectStoreConformance
from tests.conftest import NAAS_API_KEY

MiB = 1024 * 1024


def naas_store(service: Any, **options: Any) -> Any:
    settings: dict[str, Any] = {
        "naas_api_key": NAAS_API_KEY,
        "api_url": service.url,
        "endpoint_url": service.s3.endpoint_url,
        "multipart_threshold": 5 * MiB,
        "multipart_chunksize": 5 * MiB,
        "max_concurrency": 4,
        "hierarchical": True,
        "backslash_in_keys": False,  # SeaweedFS turns "\\" into "/"
    }
    settings.update(options)
    return ObjectStorageFactory.from_url(f"naas://workspace-1/storage-{uuid.uuid4().hex[:8]}", **settings)


class TestNaasConformance(ObjectStoreConformance):
    @pytest.fixture
    def adapter(self, naas_service: Any) -> IObjectStorageAdapter:
        adapter: IObjectStorageAdapter = naas_store(naas_service).adapter
        return adapter
