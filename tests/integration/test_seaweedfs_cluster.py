"""A distributed store: a SeaweedFS cluster on loopback, every volume replicated on two volume servers.

The conformance suite runs through it; then 2,000 objects are written and read, one volume server is killed,
and every object must still read back intact from its replica.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from objstore import ObjectStorageService
from objstore.adapters.layers.retry import RetryingAdapter, RetryPolicy
from objstore.adapters.s3 import S3Adapter, S3Config
from objstore.ports.storage import IObjectStorageAdapter
from objstore.testing.conformance import ObjectStoreConformance
from tests.harness.seaweedfs import Cluster, start_weed_cluster
from tests.harness.servers import ServerUnavailable, server_unavailable

MiB = 1024 * 1024
BUCKET = "cluster-tests"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    try:
        running = start_weed_cluster(tmp_path_factory.mktemp("weed-cluster"), volumes=2)
    except ServerUnavailable as exc:
        server_unavailable("seaweedfs cluster", str(exc))
    try:
        running.endpoint.make_bucket(BUCKET)
        yield running
    finally:
        running.stop()


def cluster_adapter(cluster: Cluster, **options: Any) -> IObjectStorageAdapter:
    """The cluster's S3 store under the retry layer: the one place that absorbs a busy cluster's 5xx answers."""
    endpoint = cluster.endpoint
    settings: dict[str, Any] = {
        "bucket": BUCKET,
        "base_prefix": f"run/{uuid.uuid4().hex}",
        "endpoint_url": endpoint.endpoint_url,
        "access_key_id": endpoint.access_key_id,
        "secret_access_key": endpoint.secret_access_key,
        "multipart_threshold": 5 * MiB,
        "multipart_chunksize": 5 * MiB,
        "max_concurrency": 4,
        "hierarchical": True,
        "backslash_in_keys": False,  # SeaweedFS turns "\\" into "/"
    }
    settings.update(options)
    return RetryingAdapter(S3Adapter(S3Config(**settings)), RetryPolicy(attempts=5))


class TestClusterConformance(ObjectStoreConformance):
    @pytest.fixture
    def adapter(self, cluster: Cluster) -> IObjectStorageAdapter:
        return cluster_adapter(cluster)


def content_of(index: int) -> bytes:
    return hashlib.sha256(str(index).encode()).digest() * (1 + index % 64)


def test_every_object_survives_the_loss_of_a_volume_server(cluster: Cluster) -> None:
    store = ObjectStorageService(cluster_adapter(cluster, max_pool_connections=32))
    keys = [f"objects/{index // 100:02d}/{index:05d}.bin" for index in range(2000)]

    def write(index: int) -> None:
        store.put_object("", keys[index], content_of(index))

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(write, range(len(keys))))
    assert [info.key for info in store.iter_objects("objects")] == sorted(keys)

    replicated = cluster.endpoint.shell("volume.list")
    assert "ReplicaPlacement:001" in replicated, replicated[-2000:]
    assert "ReplicaPlacement:000" not in replicated

    victim = cluster.volumes[0]
    victim.kill()
    assert not victim.alive()

    def read(index: int) -> bool:
        return store.get_object("", keys[index]) == content_of(index)

    with ThreadPoolExecutor(16) as pool:
        intact = list(pool.map(read, range(len(keys))))
    assert all(intact), f"{intact.count(False)} objects unreadable after losing {victim.name}"
