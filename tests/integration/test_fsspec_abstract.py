"""fsspec's own shipped test suite (fsspec.tests.abstract) on objstore's filesystem: memory, folder and S3.

The S3 runs are against SeaweedFS. Object stores keep no empty folders, so ``supports_empty_directories`` is
False on every store (the folder store too: objstore stores objects, and a folder without one is not listed).
"""

from __future__ import annotations

import importlib.metadata
import pickle
import posixpath
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fsspec
import pytest
from fsspec.registry import known_implementations
from fsspec.tests.abstract import (
    AbstractCopyTests,
    AbstractFixtures,
    AbstractGetTests,
    AbstractOpenTests,
    AbstractPipeTests,
    AbstractPutTests,
)

from objstore import NotSupported, ObjectAlreadyExists, ObjectNotFound
from objstore.contrib import fsspec as objstore_fsspec
from objstore.contrib.fsspec import (
    FilesystemFileSystem,
    MemoryFileSystem,
    ObjstoreFileSystem,
    S3FileSystem,
)

ENTRY_POINTS = {
    "objstore+file": "FilesystemFileSystem",
    "objstore+memory": "MemoryFileSystem",
    "objstore+s3": "S3FileSystem",
    "objstore+gs": "GCSFileSystem",
    "objstore+az": "AzureBlobFileSystem",
    "objstore+naas": "NaasFileSystem",
    "objstore+altastata": "AltastataFileSystem",
}

# Until pyproject declares the entry points, the classes are registered here by hand (same names).
for _cls in objstore_fsspec.iter_filesystems():
    fsspec.register_implementation(_cls.protocol[0], _cls, clobber=True)


@pytest.fixture(scope="module", autouse=True)
def _no_ca_bundle() -> Iterator[None]:
    # The machine's CA bundle points at a proxy certificate; the local servers speak plain HTTP.
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("AWS_CA_BUNDLE", raising=False)
        patch.delenv("REQUESTS_CA_BUNDLE", raising=False)
        yield


def s3_options(s3_server: Any) -> dict[str, Any]:
    """Store options for SeaweedFS (see tests/conformance/test_s3.py for why hierarchical and backslashes)."""
    return {
        "endpoint_url": s3_server.endpoint_url,
        "access_key_id": s3_server.access_key_id,
        "secret_access_key": s3_server.secret_access_key,
        "hierarchical": True,
        "backslash_in_keys": False,
    }


class ObjstoreFixtures(AbstractFixtures):  # type: ignore[misc]
    """What every store shares: posix joins, no empty folders, a fresh random root per test."""

    @pytest.fixture
    def fs_join(self) -> Callable[..., str]:
        return posixpath.join

    @pytest.fixture
    def supports_empty_directories(self) -> bool:
        return False


class MemoryFixtures(ObjstoreFixtures):
    @pytest.fixture
    def fs(self) -> ObjstoreFileSystem:
        return MemoryFileSystem(skip_instance_cache=True)

    @pytest.fixture
    def fs_path(self) -> str:
        return f"abstract-{uuid.uuid4().hex[:8]}"


class FolderFixtures(ObjstoreFixtures):
    @pytest.fixture
    def fs(self, tmp_path: Path) -> ObjstoreFileSystem:
        return FilesystemFileSystem(base_path=str(tmp_path / "store"), skip_instance_cache=True)

    @pytest.fixture
    def fs_path(self) -> str:
        return f"abstract-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def shared_s3_fs(s3_server: Any) -> ObjstoreFileSystem:
    # One filesystem (one S3 client) for the module's S3 runs: each test has its own random root.
    return S3FileSystem(**s3_options(s3_server), skip_instance_cache=True)


class S3Fixtures(ObjstoreFixtures):
    @pytest.fixture
    def fs(self, shared_s3_fs: ObjstoreFileSystem) -> ObjstoreFileSystem:
        return shared_s3_fs

    @pytest.fixture
    def fs_path(self, fs: ObjstoreFileSystem, s3_bucket: str) -> Iterator[str]:
        path = f"{s3_bucket}/fsspec-abstract/{uuid.uuid4().hex[:8]}"
        yield path
        if fs.find(path):
            fs.rm(path, recursive=True)


class TestMemoryCopy(MemoryFixtures, AbstractCopyTests): ...


class TestMemoryGet(MemoryFixtures, AbstractGetTests): ...


class TestMemoryPut(MemoryFixtures, AbstractPutTests): ...


class TestMemoryPipe(MemoryFixtures, AbstractPipeTests): ...


class TestMemoryOpen(MemoryFixtures, AbstractOpenTests): ...


class TestFolderCopy(FolderFixtures, AbstractCopyTests): ...


class TestFolderGet(FolderFixtures, AbstractGetTests): ...


class TestFolderPut(FolderFixtures, AbstractPutTests): ...


class TestFolderPipe(FolderFixtures, AbstractPipeTests): ...


class TestFolderOpen(FolderFixtures, AbstractOpenTests): ...


class TestS3Copy(S3Fixtures, AbstractCopyTests): ...


class TestS3Get(S3Fixtures, AbstractGetTests): ...


class TestS3Put(S3Fixtures, AbstractPutTests): ...


class TestS3Pipe(S3Fixtures, AbstractPipeTests): ...


class TestS3Open(S3Fixtures, AbstractOpenTests): ...


# --- beyond the shared suite: our own contract ------------------------------------------------------------------


def test_entry_points_name_every_scheme() -> None:
    """Fails until pyproject declares the ``fsspec.specs`` entry points (and the package is reinstalled)."""
    declared = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="fsspec.specs")}
    for name, cls_name in ENTRY_POINTS.items():
        assert declared.get(name) == f"objstore.contrib.fsspec:{cls_name}", name
        assert known_implementations[name]["class"] == f"objstore.contrib.fsspec.{cls_name}"
    assert fsspec.get_filesystem_class("objstore+s3") is S3FileSystem


def test_names_carry_no_protocol_nor_leading_slash(s3_server: Any, s3_bucket: str) -> None:
    root = f"{s3_bucket}/fsspec-names/{uuid.uuid4().hex[:8]}"
    fs = S3FileSystem(**s3_options(s3_server), skip_instance_cache=True)
    fs.pipe_file(f"objstore+s3://{root}/dir/a.csv", b"x,y\n1,2\n")
    try:
        assert fs.ls(f"/{root}", detail=False) == [f"{root}/dir"]
        assert fs.info(f"{root}/dir")["type"] == "directory"
        file_info = fs.info(f"objstore+s3://{root}/dir/a.csv")
        assert file_info["name"] == f"{root}/dir/a.csv"
        assert file_info["type"] == "file"
        assert file_info["size"] == 8
        assert fs.find(root) == [f"{root}/dir/a.csv"]
    finally:
        fs.rm(root, recursive=True)
    assert not fs.exists(f"{root}/dir/a.csv")


def test_fsspec_options_do_not_reach_the_store(tmp_path: Path) -> None:
    fs = FilesystemFileSystem(base_path=str(tmp_path), skip_instance_cache=True, use_listings_cache=False)
    assert fs.store_options == {"base_path": str(tmp_path)}
    fs.pipe_file("a.txt", b"hello")
    assert (tmp_path / "a.txt").read_bytes() == b"hello"


def test_errors_are_typed_and_builtin() -> None:
    fs = MemoryFileSystem(skip_instance_cache=True)
    with pytest.raises(ObjectNotFound) as missing:
        fs.cat_file("absent/file")
    assert isinstance(missing.value, FileNotFoundError)
    with pytest.raises(FileNotFoundError):
        fs.info("absent")
    with pytest.raises(FileNotFoundError):
        fs.rm("absent", recursive=True)
    fs.pipe_file("here", b"1")
    with pytest.raises(ObjectAlreadyExists):
        fs.pipe_file("here", b"2", mode="create")
    with pytest.raises(NotSupported):
        fs.open("here", "ab")
    assert fs.cat_file("here") == b"1"


def test_ranged_reads_and_multi_part_writes(s3_server: Any, s3_bucket: str) -> None:
    root = f"{s3_bucket}/fsspec-parts/{uuid.uuid4().hex[:8]}"
    fs = S3FileSystem(**s3_options(s3_server), skip_instance_cache=True)
    block = 5 * 1024 * 1024
    payload = bytes(range(256)) * (3 * block // 256 + 7)  # three blocks and a bit: four parts
    with fs.open(f"{root}/big.bin", "wb", block_size=block) as out:
        for begin in range(0, len(payload), 1_000_003):
            out.write(payload[begin : begin + 1_000_003])
    try:
        assert fs.size(f"{root}/big.bin") == len(payload)
        with fs.open(f"{root}/big.bin", "rb", block_size=1024 * 1024) as source:
            source.seek(block + 11)
            assert source.read(100) == payload[block + 11 : block + 111]
            source.seek(-50, 2)
            assert source.read() == payload[-50:]
        assert fs.cat_file(f"{root}/big.bin", start=-10) == payload[-10:]
        assert fs.cat_file(f"{root}/big.bin") == payload
    finally:
        fs.rm(root, recursive=True)


def test_a_failed_part_write_raises_and_leaves_nothing(tmp_path: Path) -> None:
    fs = FilesystemFileSystem(base_path=str(tmp_path), skip_instance_cache=True)
    fs.pipe_file("taken", b"first")
    with pytest.raises(FileExistsError):
        fs.open("taken", "xb")
    # A key that collides with a file (a/b under the file a) fails in the streaming put; close raises it.
    fs.pipe_file("a", b"file")
    with pytest.raises(FileExistsError), fs.open("a/b", "wb", block_size=5 * 1024 * 1024) as out:
        out.write(b"x" * (6 * 1024 * 1024))  # one part goes to the streaming put, which the store refuses
    assert out.closed
    assert fs.cat_file("a") == b"file"


def test_pickled_filesystem_rebuilds_its_store(s3_server: Any, s3_bucket: str) -> None:
    root = f"{s3_bucket}/fsspec-pickle/{uuid.uuid4().hex[:8]}"
    fs = S3FileSystem(**s3_options(s3_server), skip_instance_cache=True)
    fs.pipe_file(f"{root}/a", b"payload")
    try:
        clone = pickle.loads(pickle.dumps(fs))
        assert isinstance(clone, S3FileSystem)
        assert clone.cat_file(f"{root}/a") == b"payload"
        assert s3_server.secret_access_key not in repr(clone)
    finally:
        fs.rm(root, recursive=True)


class MvChecks:
    """mv of a file, of a folder (recursive), and of what is not there: fsspec's shipped mv tests use the local
    filesystem only, so these are the same checks for every store."""

    def test_mv_moves_a_file_and_a_folder(self, fs: ObjstoreFileSystem, fs_path: str) -> None:
        fs.pipe_file(f"{fs_path}/a/x.txt", b"1")
        fs.pipe_file(f"{fs_path}/a/sub/y.txt", b"2")
        fs.mv(f"{fs_path}/a/x.txt", f"{fs_path}/b/x.txt")
        assert fs.cat_file(f"{fs_path}/b/x.txt") == b"1"
        assert not fs.exists(f"{fs_path}/a/x.txt")
        fs.mv(f"{fs_path}/a", f"{fs_path}/c", recursive=True)
        assert sorted(fs.find(fs_path)) == [f"{fs_path}/b/x.txt", f"{fs_path}/c/sub/y.txt"]
        assert fs.cat_file(f"{fs_path}/c/sub/y.txt") == b"2"

    def test_mv_of_nothing_is_file_not_found(self, fs: ObjstoreFileSystem, fs_path: str) -> None:
        with pytest.raises(FileNotFoundError):
            fs.mv(f"{fs_path}/nothing", f"{fs_path}/else")
        assert not fs.exists(f"{fs_path}/else")


class TestMemoryMv(MemoryFixtures, MvChecks): ...


class TestFolderMv(FolderFixtures, MvChecks): ...


class TestS3Mv(S3Fixtures, MvChecks): ...
