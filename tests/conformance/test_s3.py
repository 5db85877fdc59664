"""The conformance suite against a real S3 server (SeaweedFS on loopback)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from objstore.adapters.s3 import S3Adapter, S3Config
from objstore.adapters.s3_direct import DirectRequests, DirectTransport
from objstore.adapters.s3_transport import BotocoreTransport
from objstore.ports.storage import IObjectStorageAdapter
from objstore.testing.conformance import ObjectStoreConformance
from tests.harness.servers import free_port

MiB = 1024 * 1024


def s3_adapter(endpoint: Any, bucket: str, **options: Any) -> S3Adapter:
    settings: dict[str, Any] = {
        "bucket": bucket,
        "base_prefix": f"conformance/{uuid.uuid4().hex}",
        "endpoint_url": endpoint.endpoint_url,
        "access_key_id": endpoint.access_key_id,
        "secret_access_key": endpoint.secret_access_key,
        # Small parts and few in flight, so the 256 MiB streaming test stays inside its 32 MiB heap budget:
        # memory is bounded by part size x (concurrency + 1).
        "multipart_threshold": 5 * MiB,
        "multipart_chunksize": 5 * MiB,
        "max_concurrency": 4,
        # SeaweedFS keeps real folders: it lists them in folder order and shows emptied ones for a while
        # (see docs/adapters/s3.md).
        "hierarchical": True,
        "backslash_in_keys": False,  # SeaweedFS turns "\\" into "/" (AWS and moto keep it: see test_s3_edge_keys)
    }
    settings.update(options)
    return S3Adapter(S3Config(**settings))


def dead_s3_adapter(**options: Any) -> S3Adapter:
    """An S3 store whose endpoint nothing listens on: one try (as every S3 request), a one-second connect timeout."""
    settings: dict[str, Any] = {
        "bucket": "any",
        "endpoint_url": f"http://127.0.0.1:{free_port()}",
        "access_key_id": "k",
        "secret_access_key": "s",
        "connect_timeout": 1,
    }
    settings.update(options)
    return S3Adapter(S3Config(**settings))


def direct_requests(adapter: S3Adapter) -> DirectRequests | None:
    """The direct requests an adapter sends its reads and writes by, or None where they go through botocore."""
    transport = adapter._transport
    return transport.requests if isinstance(transport, DirectTransport) else None


def boto_client(adapter: S3Adapter) -> Any:
    """The botocore client of an adapter's transport (both transports have one: the direct one for the calls it
    does not send itself)."""
    transport = adapter._transport
    assert isinstance(transport, BotocoreTransport)
    return transport.client


class TestS3Conformance(ObjectStoreConformance):
    @pytest.fixture
    def adapter(self, s3_server: Any, s3_bucket: str) -> IObjectStorageAdapter:
        return s3_adapter(s3_server, s3_bucket)
