"""pandas, pyarrow and a Dask cluster of worker processes reading and writing SeaweedFS through objstore+s3."""

from __future__ import annotations

import contextlib
import os
import pickle
import time
import uuid
from collections.abc import Iterator
from typing import Any

import dask.dataframe as dd
import distributed
import fsspec
import pandas as pd
import pytest

from objstore.contrib import fsspec as objstore_fsspec
from objstore.contrib.fsspec import NaasFileSystem, S3FileSystem
from tests.conftest import NAAS_API_KEY
from tests.harness.naas_service import NaasService
from tests.integration.test_fsspec_abstract import s3_options

# Until pyproject declares the entry points, the classes are registered here by hand (same names).
for _cls in objstore_fsspec.iter_filesystems():
    fsspec.register_implementation(_cls.protocol[0], _cls, clobber=True)

CA_VARIABLES = ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE")


@pytest.fixture(autouse=True)
def _no_ca_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    # Removed before any worker starts, so worker processes inherit an environment without them too.
    for name in CA_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def options(s3_server: Any) -> dict[str, Any]:
    return s3_options(s3_server)


@pytest.fixture
def root(s3_server: Any, s3_bucket: str, options: dict[str, Any]) -> Iterator[str]:
    path = f"{s3_bucket}/fsspec-data/{uuid.uuid4().hex[:8]}"
    yield path
    fs = S3FileSystem(**options, skip_instance_cache=True)
    if fs.find(path):
        fs.rm(path, recursive=True)


def frame(rows: int, offset: int = 0) -> Any:
    return pd.DataFrame(
        {
            "id": range(offset, offset + rows),
            "name": [f"n{i}" for i in range(offset, offset + rows)],
            "value": [i * 0.5 for i in range(offset, offset + rows)],
        }
    )


def test_pandas_csv_and_parquet(root: str, options: dict[str, Any]) -> None:
    expected = frame(1000)
    url = f"objstore+s3://{root}/table"
    expected.to_csv(f"{url}.csv", index=False, storage_options=options)
    expected.to_parquet(f"{url}.parquet", index=False, storage_options=options)

    pd.testing.assert_frame_equal(pd.read_csv(f"{url}.csv", storage_options=options), expected)
    pd.testing.assert_frame_equal(pd.read_parquet(f"{url}.parquet", storage_options=options), expected)
    # Only some columns: pyarrow reads the footer and the column chunks with ranged reads.
    subset = pd.read_parquet(f"{url}.parquet", columns=["value"], storage_options=options)
    pd.testing.assert_frame_equal(subset, expected[["value"]])

    fs = S3FileSystem(**options, skip_instance_cache=True)
    assert sorted(fs.ls(root, detail=False)) == [f"{root}/table.csv", f"{root}/table.parquet"]


@contextlib.contextmanager
def cluster() -> Iterator[Any]:
    with (
        distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as local,
        distributed.Client(local) as client,
    ):
        yield client


def _worker_environment() -> dict[str, Any]:
    return {name: os.environ.get(name) for name in CA_VARIABLES}


def _worker_reads(fs: S3FileSystem, path: str) -> tuple[int, bytes]:
    """Runs in a worker process: the filesystem came pickled, and builds its own store there."""
    data: bytes = fs.cat_file(path)
    return os.getpid(), data


def test_dask_workers_read_and_write(root: str, options: dict[str, Any]) -> None:
    parts = [frame(250, offset) for offset in range(0, 1000, 250)]
    with (
        distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        assert all(env == dict.fromkeys(CA_VARIABLES) for env in client.run(_worker_environment).values())
        source = dd.from_pandas(pd.concat(parts, ignore_index=True), npartitions=4)
        source.to_csv(f"objstore+s3://{root}/csv/part-*.csv", index=False, storage_options=options)
        from_csv = dd.read_csv(f"objstore+s3://{root}/csv/part-*.csv", storage_options=options)
        from_csv.to_parquet(f"objstore+s3://{root}/parquet", write_index=False, storage_options=options)
        from_parquet = dd.read_parquet(f"objstore+s3://{root}/parquet", storage_options=options)
        result = from_parquet.compute().sort_values("id").reset_index(drop=True)

        fs = S3FileSystem(**options, skip_instance_cache=True)
        future = client.submit(_worker_reads, fs, f"{root}/csv/part-0.csv", pure=False)
        worker_pid, first_part = future.result()

    pd.testing.assert_frame_equal(result, pd.concat(parts, ignore_index=True), check_dtype=False)
    assert first_part == fs.cat_file(f"{root}/csv/part-0.csv")
    assert worker_pid != os.getpid()  # the read ran in a worker process
    assert len(fs.find(f"{root}/csv")) == 4
    assert any(name.endswith(".parquet") for name in fs.find(f"{root}/parquet"))
    assert pickle.loads(pickle.dumps(fs)).cat_file(f"{root}/csv/part-0.csv") == first_part


def _worker_outlives_its_keys(fs: NaasFileSystem, path: str, wait: float) -> tuple[int, bytes]:
    """Runs in a worker process: writes, waits until the first keys are revoked, then reads back."""
    fs.pipe_file(path, b"written by a worker")
    time.sleep(wait)
    data: bytes = fs.cat_file(path)
    return os.getpid(), data


def test_a_naas_filesystem_refreshes_its_credentials_in_a_worker(s3_server: Any) -> None:
    service = NaasService(s3_server, "naas-tests", api_key=NAAS_API_KEY, lifetime=6.0).start()
    try:
        fs = NaasFileSystem(
            naas_api_key=NAAS_API_KEY,
            api_url=service.url,
            endpoint_url=s3_server.endpoint_url,
            workspace_id="workspace-fsspec",
            storage_name=f"storage-{uuid.uuid4().hex[:8]}",
            hierarchical=True,
            backslash_in_keys=False,
            skip_instance_cache=True,
        )
        with cluster() as client:
            future = client.submit(_worker_outlives_its_keys, fs, "from-worker/a.txt", 8.0, pure=False)
            worker_pid, data = future.result(timeout=60)
        assert worker_pid != os.getpid()
        assert data == b"written by a worker"
        assert service.issued[0].revoked  # the worker's first keys died before its read: it renewed them
        assert len(service.issued) >= 2
        assert fs.cat_file("from-worker/a.txt") == data  # here, with keys of its own
        fs.rm("from-worker", recursive=True)
    finally:
        service.stop()
