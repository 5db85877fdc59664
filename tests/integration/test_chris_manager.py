"""ChRIS's StorageManager (objstore.contrib.chris.ObjstoreManager) on the filesystem, S3, GCS, Azure and Altastata.

Each test works in its own random root and writes, where it checks that ChRIS's own data is found, with the
store's own client at ``<root>/<path>``, the way ChRIS's managers do.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from objstore import ConfigurationError, ObjectStorageFactory
from objstore.contrib.chris import BulkOperationError, ObjstoreManager
from tests.conftest import ALTASTATA_PASSWORD

STORES = ["filesystem", "s3", "gcs", "azure", "altastata"]


@dataclass
class Rig:
    """A manager on one store, and a way to write an object at ``<its root>/<path>`` without objstore."""

    store: str
    manager: ObjstoreManager
    write_raw: Callable[[str, bytes], None]


def _no_ca_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


def _boto3(s3_server: Any) -> Any:
    import boto3
    from botocore.config import Config

    # As ChRIS's S3Manager builds its client: path addressing, checksums only when required.
    config = Config(
        s3={"addressing_style": "path"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint_url,
        aws_access_key_id=s3_server.access_key_id,
        aws_secret_access_key=s3_server.secret_access_key,
        region_name="us-east-1",
        config=config,
    )


def _altastata_raw(port: int, account: str) -> Any:
    from objstore.adapters.altastata import AltastataConfig, Py4jAltastataClient

    config = AltastataConfig(account_dir_path=account, password=ALTASTATA_PASSWORD, port=port, mode="py4j")
    return Py4jAltastataClient(config)


def _filesystem_rig(request: pytest.FixtureRequest, base: str) -> Rig:
    folder: Path = request.getfixturevalue("tmp_path") / "chris"

    def write(path: str, data: bytes) -> None:
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(data)

    return Rig("filesystem", ObjstoreManager.from_url(f"file://{folder}"), write)


def _s3_rig(request: pytest.FixtureRequest, base: str) -> Rig:
    _no_ca_bundle(request.getfixturevalue("monkeypatch"))
    server, bucket = request.getfixturevalue("s3_server"), request.getfixturevalue("s3_bucket")
    manager = ObjstoreManager.from_url(
        f"s3://{bucket}/{base}",
        endpoint_url=server.endpoint_url,
        access_key_id=server.access_key_id,
        secret_access_key=server.secret_access_key,
        hierarchical=True,
        backslash_in_keys=False,
    )
    client = _boto3(server)
    return Rig("s3", manager, lambda path, data: client.put_object(Bucket=bucket, Key=f"{base}/{path}", Body=data))


def _gcs_rig(request: pytest.FixtureRequest, base: str) -> Rig:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    endpoint, bucket = request.getfixturevalue("gcs_server"), request.getfixturevalue("gcs_bucket")
    manager = ObjstoreManager.from_url(f"gs://{bucket}/{base}", endpoint=endpoint)
    client = storage.Client(
        project="test", credentials=AnonymousCredentials(), client_options={"api_endpoint": endpoint}
    )

    def write(path: str, data: bytes) -> None:
        client.bucket(bucket).blob(f"{base}/{path}").upload_from_string(data)

    return Rig("gcs", manager, write)


def _azure_rig(request: pytest.FixtureRequest, base: str) -> Rig:
    from azure.storage.blob import BlobServiceClient

    connection, container = request.getfixturevalue("azurite"), request.getfixturevalue("azure_container")
    manager = ObjstoreManager.from_url(f"az://{container}/{base}", connection_string=connection)
    client = BlobServiceClient.from_connection_string(connection)

    def write(path: str, data: bytes) -> None:
        client.get_blob_client(container, f"{base}/{path}").upload_blob(data, overwrite=True)

    return Rig("azure", manager, write)


def _altastata_rig(request: pytest.FixtureRequest, base: str) -> Rig:
    port, account = request.getfixturevalue("altastata_gateway"), request.getfixturevalue("altastata_account")
    manager = ObjstoreManager.from_url(
        f"altastata://chris-tests/{base}", account_dir_path=account, password=ALTASTATA_PASSWORD, port=port, mode="py4j"
    )
    raw = _altastata_raw(port, account)
    request.addfinalizer(raw.close)
    return Rig("altastata", manager, lambda path, data: raw.create(f"chris-tests/{base}/{path}", data))


BUILDERS = {
    "filesystem": _filesystem_rig,
    "s3": _s3_rig,
    "gcs": _gcs_rig,
    "azure": _azure_rig,
    "altastata": _altastata_rig,
}


@pytest.fixture(params=STORES)
def rig(request: pytest.FixtureRequest) -> Iterator[Rig]:
    built = BUILDERS[request.param](request, f"chris-{uuid.uuid4().hex[:12]}")
    yield built
    built.manager.close()


@pytest.fixture
def manager(rig: Rig) -> ObjstoreManager:
    return rig.manager


def put_tree(manager: ObjstoreManager, *paths: str) -> None:
    for path in paths:
        manager.upload_obj(path, path.encode())


# --- single files ---------------------------------------------------------------------------------------------


def test_files_go_up_and_come_back_as_chris_expects(manager: ObjstoreManager) -> None:
    manager.create_container()
    manager.create_container()  # idempotent, on every store
    manager.upload_obj("feeds/1/hello.txt", b"hello ChRIS", content_type="text/plain")
    manager.upload_obj("feeds/1/text.json", '{"name": "r\u00e9sum\u00e9 \u2713"}')  # no content type: it is optional
    assert manager.download_obj("feeds/1/hello.txt") == b"hello ChRIS"
    assert manager.download_obj("feeds/1/text.json") == '{"name": "r\u00e9sum\u00e9 \u2713"}'.encode()
    if manager.service.capabilities.user_metadata:
        assert manager.service.head_object("", "feeds/1/hello.txt").content_type == "text/plain"
    assert manager.obj_exists("feeds/1/hello.txt")
    assert manager.obj_exists("/feeds/1/hello.txt/")  # slashes around a path do not count
    assert not manager.obj_exists("feeds/1")  # a folder is not a file
    assert not manager.obj_exists("feeds/1/missing.txt")
    for folder in ("feeds", "feeds/1", "feeds/1/"):
        assert manager.path_exists(folder)
    assert manager.path_exists("feeds/1/hello.txt")
    assert not manager.path_exists("feeds/2/")
    assert not manager.path_exists("feeds/1/hell")  # a path is a name, not a string prefix
    with pytest.raises(FileNotFoundError):
        manager.download_obj("feeds/1/missing.txt")


def test_ls_lists_files_under_a_path_with_or_without_its_slash(manager: ObjstoreManager) -> None:
    put_tree(manager, "ls/a.txt", "ls/b.txt", "ls/sub/c.txt", "lsx/other.txt")
    expected = ["ls/a.txt", "ls/b.txt", "ls/sub/c.txt"]
    assert manager.ls("ls") == expected
    assert manager.ls("ls/") == expected  # the sibling "lsx" is not under "ls"
    assert manager.ls("ls/sub/c.txt") == ["ls/sub/c.txt"]  # a file lists as itself
    assert manager.ls("nothing/here/") == []
    assert manager.ls("") == []  # as ChRIS's S3 and Swift managers: never everything by mistake


def test_copy_obj_and_delete_obj(manager: ObjstoreManager) -> None:
    manager.upload_obj("one/src.txt", b"copy me")
    manager.copy_obj("one/src.txt", "two/dst.txt")
    assert manager.download_obj("two/dst.txt") == b"copy me"
    assert manager.obj_exists("one/src.txt")  # the source stays
    manager.delete_obj("one/src.txt")
    assert not manager.obj_exists("one/src.txt")
    with pytest.raises(FileNotFoundError):
        manager.delete_obj("one/src.txt")
    with pytest.raises(FileNotFoundError):
        manager.copy_obj("one/src.txt", "three/dst.txt")


# --- paths ----------------------------------------------------------------------------------------------------


def test_copy_path_and_move_path_carry_whole_folders(manager: ObjstoreManager) -> None:
    put_tree(manager, "cp/a.txt", "cp/sub/b.txt", "cpx/keep.txt")
    manager.copy_path("cp/", "cp2")
    assert manager.ls("cp2") == ["cp2/a.txt", "cp2/sub/b.txt"]
    assert manager.download_obj("cp2/sub/b.txt") == b"cp/sub/b.txt"
    assert manager.ls("cp") == ["cp/a.txt", "cp/sub/b.txt"]  # the originals stay
    manager.move_path("cp2", "moved/here/")
    assert manager.ls("moved") == ["moved/here/a.txt", "moved/here/sub/b.txt"]
    assert not manager.path_exists("cp2")
    manager.move_path("cp/a.txt", "single/a.txt")  # a file path moves the file
    assert manager.ls("cp") == ["cp/sub/b.txt"]
    assert manager.download_obj("single/a.txt") == b"cp/a.txt"
    assert manager.ls("cpx") == ["cpx/keep.txt"]
    with pytest.raises(FileNotFoundError):
        manager.copy_path("no/such/path", "elsewhere")
    with pytest.raises(FileNotFoundError):
        manager.move_path("no/such/path/", "elsewhere")
    with pytest.raises(ValueError, match="overlap"):
        manager.move_path("cp", "cp/inside")


def test_delete_path_of_a_missing_path_raises_on_every_store(manager: ObjstoreManager) -> None:
    put_tree(manager, "del/a.txt", "del/b.txt", "del/sub/c.txt", "delx/keep.txt")
    manager.delete_path("del/")
    assert manager.ls("del") == []
    assert not manager.path_exists("del")
    assert manager.ls("delx") == ["delx/keep.txt"]
    with pytest.raises(FileNotFoundError):
        manager.delete_path("del")
    manager.delete_path("delx/keep.txt")  # a file path deletes the file
    assert not manager.path_exists("delx")
    with pytest.raises(ValueError):
        manager.delete_path("/")


def test_sanitize_obj_names_as_chris_does(manager: ObjstoreManager) -> None:
    put_tree(manager, "san/fi,le.txt", "san/clean.txt", "san/,,", "san/,,.txt", "san/a,b/c,d.txt", "san/, ,/in.txt")
    changes = manager.sanitize_obj_names("san/")
    assert changes == {
        "san/fi,le.txt": "san/file.txt",
        "san/,,": "",
        "san/,,.txt": "san/.txt",
        "san/a,b/c,d.txt": "san/ab/cd.txt",
        "san/, ,/in.txt": "san/in.txt",  # a folder named only by commas and blanks: its contents move up
    }
    assert manager.ls("san") == ["san/.txt", "san/ab/cd.txt", "san/clean.txt", "san/file.txt", "san/in.txt"]
    assert manager.download_obj("san/in.txt") == b"san/, ,/in.txt"
    assert manager.sanitize_obj_names("san/clean.txt") == {}  # a file path is left alone


def test_a_partly_failed_copy_or_move_does_the_rest_and_names_what_failed(manager: ObjstoreManager) -> None:
    # A real failure on every store: the copy of one file would make a key longer than the store allows.
    room = manager.service.capabilities.max_key_bytes
    segments = ["x" * 100] * ((room - 120) // 101)
    long = "part/" + "/".join(segments)
    put_tree(manager, "part/short.txt", long)
    target = "t" * (room - len(long) + 10)
    with pytest.raises(BulkOperationError) as copied:
        manager.copy_path("part", target)
    assert set(copied.value.failed) == {long}
    assert copied.value.completed == {"part/short.txt": f"{target}/short.txt"}
    assert manager.download_obj(f"{target}/short.txt") == b"part/short.txt"
    with pytest.raises(BulkOperationError) as moved:
        manager.move_path("part", target + "2")
    assert set(moved.value.failed) == {long}
    assert isinstance(moved.value.failed[long], ValueError)  # each failure keeps its own typed error
    assert manager.ls("part") == [long]  # a source whose copy failed is never deleted
    assert manager.ls(target + "2") == [f"{target}2/short.txt"]


# --- ChRIS's own data, and its connect_storage constructors ----------------------------------------------------


def test_data_written_by_chris_is_found(rig: Rig) -> None:
    rig.write_raw("home/chris/uploads/scan.dcm", b"\x00DICM")
    rig.write_raw("home/chris/uploads/notes/readme.txt", b"notes")
    assert rig.manager.download_obj("home/chris/uploads/scan.dcm") == b"\x00DICM"
    assert rig.manager.ls("home/chris/uploads/") == [
        "home/chris/uploads/notes/readme.txt",
        "home/chris/uploads/scan.dcm",
    ]
    rig.manager.move_path("home/chris/uploads", "home/chris/feeds/1")
    assert rig.manager.download_obj("home/chris/feeds/1/notes/readme.txt") == b"notes"


def test_connect_storage_s3_settings_reach_the_bucket_root(
    s3_server: Any, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_ca_bundle(monkeypatch)
    s3_connection_params = {  # ChRIS's S3_CONNECTION_PARAMS, plus one objstore option SeaweedFS needs
        "endpoint_url": s3_server.endpoint_url,
        "access_key": s3_server.access_key_id,
        "secret_key": s3_server.secret_access_key,
        "region_name": None,
        "hierarchical": True,
    }
    manager = ObjstoreManager(s3_bucket, s3_connection_params)
    manager.create_container()  # the bucket exists: nothing happens
    client, folder = _boto3(s3_server), f"chris-{uuid.uuid4().hex[:12]}"
    client.put_object(Bucket=s3_bucket, Key=f"{folder}/feeds/1/out.json", Body=b"{}", ContentType="application/json")
    assert manager.download_obj(f"{folder}/feeds/1/out.json") == b"{}"
    manager.upload_obj(f"{folder}/feeds/1/log.txt", "done \u2713", content_type="text/plain")
    written = client.get_object(Bucket=s3_bucket, Key=f"{folder}/feeds/1/log.txt")
    assert written["Body"].read() == "done \u2713".encode()
    assert written["ContentType"] == "text/plain"
    manager.delete_path(folder)
    assert client.list_objects_v2(Bucket=s3_bucket, Prefix=f"{folder}/").get("KeyCount", 0) == 0


def test_connect_storage_altastata_settings_reach_the_account_root(
    altastata_gateway: int, altastata_account: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALTAS_CONTAINER_NAME", "chris-storage")  # set in ChRIS's deployments; it must not move the root
    altas_connection_params = {
        "account_dir_path": altastata_account,
        "password": ALTASTATA_PASSWORD,
        "port": altastata_gateway,
    }
    manager = ObjstoreManager("chris-storage", altas_connection_params)
    manager.create_container()  # Altastata has no container to make: nothing happens
    raw, folder = _altastata_raw(altastata_gateway, altastata_account), f"chris-{uuid.uuid4().hex[:12]}"
    try:
        raw.create(f"{folder}/feeds/1/out.json", b"{}")  # where ChRIS's AltaStataManager.upload_obj puts it
        assert manager.download_obj(f"{folder}/feeds/1/out.json") == b"{}"
        manager.upload_obj(f"{folder}/feeds/1/log.txt", "done")
        assert raw.size(f"{folder}/feeds/1/log.txt") == 4
    finally:
        raw.close()
    manager.delete_path(folder)
    assert manager.ls(folder) == []
    manager.close()


def test_connection_params_of_other_storages_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="Swift"):
        ObjstoreManager(
            "users", {"user": "chris:chris1234", "key": "testing", "authurl": "http://swift:8080/auth/v1.0"}
        )
    with pytest.raises(ConfigurationError):
        ObjstoreManager("users", {"host": "somewhere"})
    with pytest.raises(TypeError):
        ObjstoreManager("users")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ObjstoreManager(ObjectStorageFactory.ObjectStorageServiceMemory(), {"endpoint_url": "x"})
