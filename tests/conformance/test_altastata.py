"""The conformance suite through the Altastata store, over a real JVM py4j gateway on loopback."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from objstore.adapters.altastata import AltastataAdapter, AltastataConfig
from objstore.ports.storage import IObjectStorageAdapter
from objstore.testing.conformance import ObjectStoreConformance
from tests.conftest import ALTASTATA_PASSWORD

MiB = 1024 * 1024


def altastata_adapter(port: int, account: str, **options: Any) -> AltastataAdapter:
    settings: dict[str, Any] = {
        "container": "conformance",
        "base_prefix": uuid.uuid4().hex,
        "account_dir_path": account,
        "password": ALTASTATA_PASSWORD,
        "port": port,
        "mode": "py4j",
        "chunk_size": 4 * MiB,
    }
    settings.update(options)
    return AltastataAdapter(AltastataConfig(**settings))


class TestAltastataConformance(ObjectStoreConformance):
    @pytest.fixture
    def adapter(self, altastata_gateway: int, altastata_account: str) -> IObjectStorageAdapter:
        return altastata_adapter(altastata_gateway, altastata_account)
