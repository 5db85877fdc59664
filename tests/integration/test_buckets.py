"""Making and removing a store's bucket (``objstore mb`` / ``rb``) on every store that has one, on real servers.

S3 on SeaweedFS (both transports: direct requests and botocore), GCS on fake-gcs-server, Azure on Azurite, and a
local folder. Each test makes buckets of its own, with random names, and removes them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from objstore import (
    NotSupported,
    ObjectAlreadyExists,
    ObjectNotFound,
    ObjectStorageError,
    ObjectStorageFactory,
    ObjectStorageService,
    PreconditionFailed,
    TransientError,
)
from objstore.adapters import azure_blob, s3
from objstore.adapters.filesystem import FilesystemAdapter
from objstore.adapters.layers.logging import LoggingAdapter
from objstore.adapters.layers.retry import RetryingAdapter
from objstore.adapters.memory import MemoryAdapter
from objstore.adapters.naas import NaasAdapter
from objstore.ports.storage import unwrap
from tests.conformance.test_azure import azure_adapter
from tests.conformance.test_gcs import gcs_adapter
from tests.conformance.test_naas import naas_store
from tests.conformance.test_s3 import s3_adapter

#: A store on a bucket of the given name (which need not exist), under a base prefix inside it.
StoreOn = Callable[[str], ObjectStorageService]

KINDS = ["s3-direct", "s3-sdk", "gcs", "azure", "filesystem"]


def _store_on(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> StoreOn:
    """How to open a store of this kind on a named bucket (only the server this kind needs is started)."""
    if kind.startswith("s3"):
        server = request.getfixturevalue("s3_server")
        direct = kind == "s3-direct"
        return lambda name: ObjectStorageService(
            s3_adapter(server, name, base_prefix="base/dir", direct_requests=direct)
        )
    if kind == "gcs":
        endpoint = request.getfixturevalue("gcs_server")
        return lambda name: ObjectStorageService(gcs_adapter(endpoint, name, base_prefix="base/dir"))
    if kind == "azure":
        connection = request.getfixturevalue("azurite")
        return lambda name: ObjectStorageService(azure_adapter(connection, name, base_prefix="base/dir"))
    return lambda name: ObjectStorageService(FilesystemAdapter(tmp_path / "stores" / name))


@pytest.fixture(params=KINDS)
def store_on(request: pytest.FixtureRequest, tmp_path: Path) -> StoreOn:
    return _store_on(request.param, request, tmp_path)


def _new_name() -> str:
    return f"objstore-mb-{uuid.uuid4().hex[:12]}"


def test_a_bucket_is_made_refused_while_it_holds_an_object_then_removed(store_on: StoreOn) -> None:
    store = store_on(_new_name())
    assert store.capabilities.buckets
    store.make_bucket()
    store.put_object("", "a.txt", b"kept")  # the bucket is there: an object can be put in it

    with pytest.raises(PreconditionFailed, match="the bucket is not empty") as refused:
        store.remove_bucket()
    assert refused.value.operation == "remove_bucket"
    assert store.get_object("", "a.txt") == b"kept"  # nothing was deleted

    store.delete_object("", "a.txt")
    store.remove_bucket()
    with pytest.raises(ObjectNotFound, match="the bucket does not exist"):
        store.remove_bucket()  # gone
    store.close()


def test_an_object_anywhere_in_the_bucket_keeps_it(store_on: StoreOn) -> None:
    """The bucket is removed whole, so an object outside the store's base prefix counts too."""
    store = store_on(_new_name())
    store.make_bucket()
    unprefixed = _without_prefix(store)
    unprefixed.put_object("", "elsewhere/b.bin", b"x")
    with pytest.raises(PreconditionFailed, match="the bucket is not empty"):
        store.remove_bucket()
    assert unprefixed.get_object("", "elsewhere/b.bin") == b"x"
    unprefixed.delete_object("", "elsewhere/b.bin")
    store.remove_bucket()
    store.close()
    unprefixed.close()


def _without_prefix(store: ObjectStorageService) -> ObjectStorageService:
    """The same bucket, from its top: for S3, GCS and Azure a store without the base prefix; a folder has none."""
    adapter = store.adapter
    if isinstance(adapter, FilesystemAdapter):
        return store
    return ObjectStorageService(type(adapter)(replace(adapter.config, base_prefix="")))  # type: ignore[attr-defined]


def test_making_a_bucket_that_exists_is_object_already_exists(store_on: StoreOn) -> None:
    store = store_on(_new_name())
    store.make_bucket()
    try:
        with pytest.raises(ObjectAlreadyExists, match="bucket already exists") as caught:
            store.make_bucket()
        assert caught.value.operation == "make_bucket"
    finally:
        store.remove_bucket()
        store.close()


def test_removing_a_bucket_that_was_never_made_is_object_not_found(store_on: StoreOn) -> None:
    store = store_on(_new_name())
    with pytest.raises(ObjectNotFound, match="the bucket does not exist"):
        store.remove_bucket()
    store.close()


def test_gcs_refusing_a_bucket_that_is_not_empty_is_the_same_error(
    gcs_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An object written between the listing and the delete: the server's own refusal (412 here, 409 on GCS)."""
    store = ObjectStorageService(gcs_adapter(gcs_server, _new_name(), base_prefix=""))
    store.make_bucket()
    store.put_object("", "late.txt", b"x")
    adapter = store.adapter
    monkeypatch.setattr(adapter._client, "list_blobs", lambda *args, **kwargs: iter(()))  # type: ignore[attr-defined]
    with pytest.raises(PreconditionFailed, match="the bucket is not empty") as refused:
        store.remove_bucket()
    assert refused.value.status in (409, 412)
    monkeypatch.undo()
    assert store.get_object("", "late.txt") == b"x"
    store.delete_object("", "late.txt")
    store.remove_bucket()
    store.close()


# --- through the layers, and on stores without buckets ---------------------------------------------------------


def test_the_service_makes_the_bucket_of_the_store_under_its_layers(s3_server: Any) -> None:
    name = _new_name()
    store = ObjectStorageFactory.from_url(
        f"s3://{name}/base",
        endpoint_url=s3_server.endpoint_url,
        access_key_id=s3_server.access_key_id,
        secret_access_key=s3_server.secret_access_key,
        log_operations=True,
    )
    assert isinstance(store.adapter, LoggingAdapter)
    store.make_bucket()
    assert name in [bucket["Name"] for bucket in s3_server.client().list_buckets()["Buckets"]]
    store.remove_bucket()
    assert name not in [bucket["Name"] for bucket in s3_server.client().list_buckets()["Buckets"]]
    store.close()


def test_a_folder_bucket_is_its_root_folder_and_goes_with_objstores_own_folder(tmp_path: Path) -> None:
    root = tmp_path / "parent" / "root"
    adapter = FilesystemAdapter(root)
    store = ObjectStorageService(RetryingAdapter(adapter, sleep=lambda _: None))  # a layer: transparent here
    store.make_bucket()
    assert root.is_dir()
    store.put_object("deep/er", "k", b"v")
    assert (root / ".objstore").is_dir()
    store.delete_object("deep/er", "k")
    (root / "empty" / "folders").mkdir(parents=True)  # folders hold no object: they go with the root
    store.remove_bucket()
    assert not root.exists()
    assert (tmp_path / "parent").is_dir()
    store.put_object("", "again", b"v")  # a folder store makes its root at the first write, as before
    assert (root / "again").read_bytes() == b"v"


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links here")
def test_a_link_in_a_folder_bucket_is_something_it_holds(tmp_path: Path) -> None:
    root = tmp_path / "root"
    store = ObjectStorageService(FilesystemAdapter(root))
    store.make_bucket()
    (tmp_path / "target").mkdir()
    (root / "sub").mkdir()
    os.symlink(tmp_path / "target", root / "sub" / "link")
    with pytest.raises(PreconditionFailed, match="sub/link"):
        store.remove_bucket()
    assert (root / "sub" / "link").is_symlink()
    assert (tmp_path / "target").is_dir()


def test_a_layer_passes_the_bucket_calls_to_its_store(tmp_path: Path) -> None:
    layered = LoggingAdapter(RetryingAdapter(FilesystemAdapter(tmp_path / "b"), sleep=lambda _: None))
    layered.make_bucket()
    assert (tmp_path / "b").is_dir()
    with pytest.raises(ObjectAlreadyExists):
        layered.make_bucket()
    layered.remove_bucket()
    assert not (tmp_path / "b").exists()


def test_stores_without_buckets_say_so() -> None:
    store = ObjectStorageService(MemoryAdapter())
    assert not store.capabilities.buckets
    for call in (store.make_bucket, store.remove_bucket):
        with pytest.raises(NotSupported, match="the memory store has no buckets"):
            call()


def test_a_naas_storage_bucket_is_the_providers(naas_service: Any) -> None:
    store = naas_store(naas_service)
    assert not store.capabilities.buckets
    naas = unwrap(store.adapter)
    assert isinstance(naas, NaasAdapter)
    assert naas.inner.capabilities.buckets  # the S3 store under it has one, but it is not objstore's to make
    for call in (store.make_bucket, store.remove_bucket):
        with pytest.raises(NotSupported, match="Naas workspace"):
            call()
    store.close()


# --- the providers' own answers about buckets, translated ---------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status", "expected", "words"),
    [
        ("BucketAlreadyOwnedByYou", 409, ObjectAlreadyExists, "bucket already exists"),
        ("BucketAlreadyExists", 409, ObjectAlreadyExists, "bucket already exists"),
        ("BucketNotEmpty", 409, PreconditionFailed, "the bucket is not empty"),
        ("OperationAborted", 409, TransientError, ""),
    ],
)
def test_s3_bucket_answers(code: str, status: int, expected: type[ObjectStorageError], words: str) -> None:
    answer = {"Error": {"Code": code, "Message": "provider words"}, "ResponseMetadata": {"HTTPStatusCode": status}}
    error = s3.translate_error(ClientError(answer, "DeleteBucket"), key=None)  # type: ignore[arg-type]
    assert type(error) is expected
    assert words in error.message


def test_azure_container_answers() -> None:
    from tests.unit.test_cloud_error_tables import azure_error

    exists = azure_blob.translate_error(azure_error("ContainerAlreadyExists", 409), key=None)
    assert type(exists) is ObjectAlreadyExists
    assert "bucket already exists" in exists.message
    assert type(azure_blob.translate_error(azure_error("ContainerBeingDeleted", 409), key=None)) is TransientError
