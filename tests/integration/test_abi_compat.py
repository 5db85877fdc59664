"""objstore.compat.abi: naas-abi-core's own shipped tests on the compat classes, and abi's semantics pinned.

The shipped modules (the generic adapter contract and the filesystem adapter's tests) come from the
naas-abi-core wheel on the package index (tests/harness/abi.py) and run unchanged, bound to the compat classes, on a
folder and on SeaweedFS. The S3 and R2 modules of the wheel test abi's own internals (a name-mangled key helper,
``boto3.client`` patched in abi's module, moto in process); the contract is run on SeaweedFS instead, and the R2
constructor is checked below.
"""

from __future__ import annotations

import io
import os
import uuid
from queue import Queue
from typing import Any

import pytest

import objstore
from objstore.compat import abi
from objstore.ports.storage import unwrap
from tests.conftest import NAAS_API_KEY
from tests.harness.abi import GENERIC_SUITE, shipped_module

_generic = shipped_module(GENERIC_SUITE)
_fs = shipped_module("adapters/secondary/ObjectStorageSecondaryAdapterFS_test.py")
_SHIPPED = {name: value for name, value in vars(_fs).items() if name.startswith(("test_", "Test"))}
assert len(_SHIPPED) == 5, sorted(_SHIPPED)  # four tests and the contract class on the FS adapter, as shipped
globals().update(_SHIPPED)  # collected here: naas-abi-core's FS tests, on objstore.compat.abi's FS adapter


def _s3_adapter(s3_server: Any, s3_bucket: str, base_prefix: str | None = None) -> abi.ObjectStorageSecondaryAdapterS3:
    return abi.ObjectStorageSecondaryAdapterS3(
        s3_bucket,
        s3_server.access_key_id,
        s3_server.secret_access_key,
        base_prefix if base_prefix is not None else f"abi/{uuid.uuid4().hex}",
        endpoint_url=s3_server.endpoint_url,
    )


class TestShippedContractOnSeaweedFS(_generic.ObjectStorageSecondaryAdapterContract):  # type: ignore[misc, name-defined]
    """naas-abi-core's generic adapter contract, unchanged, on the compat S3 adapter and a real S3 server."""

    @pytest.fixture
    def adapter(self, s3_server: Any, s3_bucket: str) -> abi.ObjectStorageSecondaryAdapterS3:
        return _s3_adapter(s3_server, s3_bucket)


def test_the_shipped_tests_run_on_the_compat_classes() -> None:
    """The binding is real: the classes the shipped modules imported are objstore's."""
    assert _fs.ObjectStorageSecondaryAdapterFS is abi.ObjectStorageSecondaryAdapterFS
    assert _generic.Exceptions is abi.Exceptions
    assert _generic.IObjectStorageAdapter is abi.IObjectStorageAdapter


# --- abi's semantics, as its adapters have them -------------------------------------------------------------


@pytest.fixture(params=["fs", "s3"])
def adapter(request: pytest.FixtureRequest, tmp_path: Any) -> abi.IObjectStorageAdapter:
    if request.param == "fs":
        return abi.ObjectStorageSecondaryAdapterFS(str(tmp_path / "storage"))
    return _s3_adapter(request.getfixturevalue("s3_server"), request.getfixturevalue("s3_bucket"))


def test_listings_have_abi_shape(adapter: abi.IObjectStorageAdapter) -> None:
    """FS: ``prefix/name`` without a trailing slash; S3: keys from the base prefix, sub-prefixes ending in ``/``."""
    adapter.put_object("docs", "a.txt", b"a")
    adapter.put_object("docs", "sub/b.txt", b"b")
    queue: Queue[str] = Queue()
    listed = adapter.list_objects("docs", queue)
    if isinstance(adapter, abi.ObjectStorageSecondaryAdapterFS):
        assert sorted(listed) == ["docs/a.txt", "docs/sub"]
    else:
        assert sorted(listed) == ["docs/a.txt", "docs/sub/"]
    assert sorted(queue.get() for _ in range(queue.qsize())) == sorted(listed)
    assert adapter.list_objects_recursive("docs") == ["docs/a.txt", "docs/sub/b.txt"]


def test_slashes_in_prefix_and_key_are_tolerated(adapter: abi.IObjectStorageAdapter) -> None:
    adapter.put_object("/reports//2024/", "/q1.csv", b"x")
    assert adapter.get_object("reports/2024", "q1.csv") == b"x"
    assert adapter.get_object_metadata("reports/2024/", "q1.csv").file_size_bytes == 1


def test_missing_things_raise_abi_not_found_which_is_objstore_not_found(adapter: abi.IObjectStorageAdapter) -> None:
    for call in (
        lambda: adapter.get_object("p", "missing"),
        lambda: adapter.delete_object("p", "missing"),
        lambda: adapter.get_object_metadata("p", "missing"),
        lambda: adapter.list_objects("no/such/prefix"),
    ):
        with pytest.raises(abi.Exceptions.ObjectNotFound) as caught:
            call()
        assert isinstance(caught.value, objstore.ObjectNotFound)
        assert isinstance(caught.value, FileNotFoundError)
    with pytest.raises(abi.Exceptions.ObjectNotFound), adapter.get_object_stream("p", "missing"):
        pass


def test_hostile_keys_are_refused_and_nothing_lands_outside(adapter: abi.IObjectStorageAdapter, tmp_path: Any) -> None:
    """abi joined paths with os.path.join: ``../`` walked out of the folder. Here it is a typed error."""
    for prefix, key in (("..", "escape.txt"), ("a", "../../escape.txt"), ("a", "b\x00c")):
        with pytest.raises(objstore.InvalidKey):
            adapter.put_object(prefix, key, b"x")
    assert not (tmp_path / "escape.txt").exists()


def test_streams_both_ways(adapter: abi.IObjectStorageAdapter) -> None:
    content = os.urandom(6 * 1024 * 1024 + 5)
    adapter.put_object_stream("big", "blob.bin", io.BytesIO(content))
    with adapter.get_object_stream("big", "blob.bin") as stream:
        assert stream.read(10) == content[:10]
        assert stream.read() == content[10:]
    meta = adapter.get_object_metadata("big", "blob.bin")
    assert (meta.file_name, meta.file_size_bytes) == ("blob.bin", len(content))
    assert meta.modified_time is not None
    assert meta.modified_time.tzinfo is not None


def test_filesystem_metadata_and_layout_are_abis(tmp_path: Any) -> None:
    """The bytes are plain files where abi's FS adapter puts them, so a folder it filled is read as is."""
    base = tmp_path / "storage"
    (base / "old").mkdir(parents=True)
    (base / "old" / "written-by-abi.json").write_bytes(b"{}")
    adapter = abi.ObjectStorageSecondaryAdapterFS(str(base))
    assert adapter.get_object("old", "written-by-abi.json") == b"{}"
    adapter.put_object("new", "k.csv", b"a,b")
    assert (base / "new" / "k.csv").read_bytes() == b"a,b"
    meta = adapter.get_object_metadata("new", "k.csv")
    assert meta.file_path == str(base / "new" / "k.csv")
    assert (meta.mime_type, meta.permissions is not None) == ("text/csv", True)
    assert sorted(adapter.list_objects("")) == ["new", "old"]


def test_s3_metadata_names_the_object(s3_server: Any, s3_bucket: str) -> None:
    adapter = _s3_adapter(s3_server, s3_bucket, base_prefix="/abi-meta/")
    assert (adapter.bucket_name, adapter.base_prefix) == (s3_bucket, "/abi-meta")
    adapter.put_object("d", "x.json", b"{}")
    meta = adapter.get_object_metadata("d", "x.json")
    assert meta.file_path == f"s3://{s3_bucket}/abi-meta/d/x.json"
    raw = s3_server.client().get_object(Bucket=s3_bucket, Key="abi-meta/d/x.json")
    assert raw["Body"].read() == b"{}"


# --- the service and the factory ------------------------------------------------------------------------------


class ApplicationAdapter(abi.IObjectStorageAdapter):
    """An application's own adapter, written against abi's port: the compat service must accept it."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def get_object(self, prefix: str, key: str) -> bytes:
        try:
            return self.objects[f"{prefix}/{key}"]
        except KeyError:
            raise abi.Exceptions.ObjectNotFound(f"{prefix}/{key}") from None

    def get_object_stream(self, prefix: str, key: str) -> Any:
        from contextlib import closing

        return closing(io.BytesIO(self.get_object(prefix, key)))

    def put_object(self, prefix: str, key: str, content: bytes) -> None:
        self.objects[f"{prefix}/{key}"] = content

    def put_object_stream(self, prefix: str, key: str, stream: Any) -> None:
        self.put_object(prefix, key, stream.read())

    def delete_object(self, prefix: str, key: str) -> None:
        self.objects.pop(f"{prefix}/{key}")

    def list_objects(self, prefix: str, queue: Any = None) -> list[str]:
        return sorted(k for k in self.objects if k.startswith(f"{prefix}/"))

    def list_objects_recursive(self, prefix: str, queue: Any = None) -> list[str]:
        return self.list_objects(prefix, queue)

    def get_object_metadata(self, prefix: str, key: str) -> abi.ObjectMetaData:
        content = self.get_object(prefix, key)
        return abi.ObjectMetaData(
            file_path=f"{prefix}/{key}",
            file_name=key,
            file_size_bytes=len(content),
            created_time=None,
            modified_time=None,
            accessed_time=None,
            permissions=None,
            mime_type=None,
            encoding=None,
        )


def test_the_service_strips_storage_and_accepts_an_applications_adapter() -> None:
    own = ApplicationAdapter()
    service = abi.ObjectStorageService(own)
    service.put_object("storage/datastore", "a.txt", b"a")
    assert own.objects == {"datastore/a.txt": b"a"}
    assert service.get_object("datastore", "a.txt") == b"a"
    with service.get_object_stream("storage/datastore", "a.txt") as stream:
        assert stream.read() == b"a"
    assert service.get_object_metadata("storage/datastore", "a.txt").file_size_bytes == 1
    assert service.list_objects("storage/datastore") == ["datastore/a.txt"]
    service.delete_object("storage/datastore", "a.txt")
    assert own.objects == {}


def test_the_factory_has_abis_signatures(tmp_path: Any, s3_server: Any, s3_bucket: str, monkeypatch: Any) -> None:
    fs = abi.ObjectStorageFactory.ObjectStorageServiceFS(str(tmp_path / "data"))
    fs.put_object("storage/x", "k", b"v")
    assert (tmp_path / "data" / "x" / "k").read_bytes() == b"v"
    s3 = abi.ObjectStorageFactory.ObjectStorageServiceS3(
        s3_server.access_key_id, s3_server.secret_access_key, s3_bucket, "abi-factory", None,
        endpoint_url=s3_server.endpoint_url,
    )  # fmt: skip
    s3.put_object("p", "k", b"v")
    assert s3.get_object("p", "k") == b"v"
    (tmp_path / "project" / "storage").mkdir(parents=True)
    (tmp_path / "project" / "src").mkdir()
    monkeypatch.chdir(tmp_path / "project" / "src")
    found = abi.ObjectStorageFactory.ObjectStorageServiceFS__find_storage()
    assert isinstance(found.adapter, abi.ObjectStorageSecondaryAdapterFS)
    assert found.adapter.base_path == str(tmp_path / "project" / "storage")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(abi.NoStorageFolderFound):
        abi.ObjectStorageFactory.ObjectStorageServiceFS__find_storage("no-such-folder")


def test_r2_derives_its_endpoint_and_region() -> None:
    r2 = abi.ObjectStorageFactory.ObjectStorageServiceR2("acct", "key-id", "secret", "bucket", "datastore")
    adapter = r2.adapter
    assert isinstance(adapter, abi.ObjectStorageSecondaryAdapterR2)
    assert (adapter.bucket_name, adapter.base_prefix) == ("bucket", "datastore")
    config = unwrap(adapter.native.adapter).config  # type: ignore[attr-defined]
    assert (config.endpoint_url, config.region_name) == ("https://acct.r2.cloudflarestorage.com", "auto")
    assert "secret" not in repr(adapter.native)


def test_naas_credentials_are_fetched_on_first_use(naas_service: Any) -> None:
    naas = naas_service
    before = naas.requests
    adapter = abi.ObjectStorageSecondaryAdapterNaas(
        NAAS_API_KEY, "workspace-1", "abi-lazy", api_url=naas.url, endpoint_url=naas.s3.endpoint_url
    )
    assert naas.requests == before  # nothing asked yet
    assert NAAS_API_KEY not in repr(adapter)
    adapter.put_object("docs", "a.txt", b"hello")
    assert naas.requests > before
    raw = naas.s3.client().get_object(Bucket="naas-tests", Key="workspace-1/abi-lazy/docs/a.txt")
    assert raw["Body"].read() == b"hello"
    assert adapter.list_objects("docs") == ["docs/a.txt"]
    assert adapter.get_object_metadata("docs", "a.txt").file_path == "s3://naas-tests/workspace-1/abi-lazy/docs/a.txt"
