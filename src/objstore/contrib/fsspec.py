"""An fsspec filesystem over any objstore store, so pandas, pyarrow, Dask, xarray and zarr read and write it.

fsspec does not tell a filesystem class which protocol it was called for, so each store scheme has its own
subclass, registered through the ``fsspec.specs`` entry point under ``objstore+SCHEME``::

    import pandas as pd

    df = pd.read_csv("objstore+s3://bucket/data/a.csv", storage_options={"endpoint_url": "http://127.0.0.1:8333"})

Paths follow fsspec's convention for object stores: no protocol, no leading slash. On the bucketed schemes
(``objstore+s3``, ``objstore+gs``, ``objstore+az``) the first segment is the bucket (or container) and the rest
is the key, as in s3fs; on the others (``objstore+file``, ``objstore+memory``, ``objstore+naas``,
``objstore+altastata``) the store is named by its options (``base_path``, ``workspace_id`` and
``storage_name``, ``container``) and a path is a key inside it.

Storage options are the store's own options (see :meth:`objstore.ObjectStorageFactory.from_url`); fsspec's own
(``skip_instance_cache``, ``use_listings_cache`` ...) are kept by fsspec and never reach the store. Folders are
implied by keys (object stores keep no empty folders). Errors are objstore's typed errors, which are also the
built-ins fsspec expects (``FileNotFoundError``, ``FileExistsError``, ``PermissionError``).

A filesystem pickles as its class and options, so one sent to a Dask worker process builds its own stores
there (a Naas store with its own refreshing credentials).
"""

from __future__ import annotations

import contextlib
import posixpath
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

try:
    from fsspec import AbstractFileSystem  # type: ignore[import-untyped]
    from fsspec.spec import AbstractBufferedFile  # type: ignore[import-untyped]
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the environment
    from objstore.domain.errors import ConfigurationError

    raise ConfigurationError("objstore.contrib.fsspec needs fsspec: pip install 'objstore[fsspec]'") from exc

from objstore.domain.errors import NotSupported, ObjectNotFound
from objstore.domain.models import ObjectInfo
from objstore.domain.service import ObjectStorageService
from objstore.factory import ObjectStorageFactory

__all__ = [
    "AltastataFileSystem",
    "AzureBlobFileSystem",
    "FilesystemFileSystem",
    "GCSFileSystem",
    "MemoryFileSystem",
    "NaasFileSystem",
    "ObjstoreFile",
    "ObjstoreFileSystem",
    "S3FileSystem",
]

# Options AbstractFileSystem itself takes: they configure fsspec (instance and listing caches), not the store.
FSSPEC_OPTIONS = frozenset(
    {"skip_instance_cache", "use_listings_cache", "listings_expiry_time", "max_paths", "asynchronous", "loop"}
)
_DELETE_BATCH = 1000


class ObjstoreFileSystem(AbstractFileSystem):  # type: ignore[misc]
    """An fsspec filesystem over objstore stores of one scheme (use the subclass named for the scheme).

    Class attributes:
        store_scheme: The objstore URL scheme the stores are built with (``"s3"``).
        bucketed: Whether a path's first segment names the store's bucket (``bucket/key``), else every path is
            a key of the one store the options name.
    """

    protocol: ClassVar[str | tuple[str, ...]] = "objstore"
    store_scheme: ClassVar[str] = ""
    bucketed: ClassVar[bool] = False
    root_marker = ""

    def __init__(self, *args: Any, **storage_options: Any) -> None:
        super().__init__(*args, **storage_options)
        if not self.store_scheme:
            raise NotSupported("use the filesystem class of a scheme, e.g. objstore+s3 (S3FileSystem)")
        self.store_options = {name: value for name, value in storage_options.items() if name not in FSSPEC_OPTIONS}
        self._stores: dict[str, ObjectStorageService] = {}
        self._stores_lock = threading.Lock()

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(each) for each in path]
        text = str(super()._strip_protocol(path))
        return text.lstrip("/")

    # --- paths to stores and keys ---------------------------------------------------------------------------

    def store_for(self, location: str = "") -> ObjectStorageService:
        """The store for a bucket (bucketed schemes) or the one store (the others), built once per filesystem."""
        with self._stores_lock:
            store = self._stores.get(location)
            if store is None:
                store = ObjectStorageFactory.from_url(f"{self.store_scheme}://{location}", **self.store_options)
                self._stores[location] = store
            return store

    def _split(self, path: str) -> tuple[str, str]:
        """``(location, key)`` of a stripped path."""
        path = self._strip_protocol(path)
        if not self.bucketed:
            return "", path
        location, _, key = path.partition("/")
        if not location:
            raise NotSupported(f"{self.protocol[0]} paths start with a bucket: BUCKET/key")
        return location, key

    def _name(self, location: str, key: str) -> str:
        key = key.rstrip("/")
        if not self.bucketed:
            return key
        return f"{location}/{key}" if key else location

    def _entry(self, location: str, info: ObjectInfo) -> dict[str, Any]:
        name = self._name(location, info.key)
        if info.is_prefix:
            return {"name": name, "size": 0, "type": "directory"}
        return {
            "name": name,
            "size": info.size,
            "type": "file",
            "etag": info.etag,
            "mtime": info.last_modified,
            "content_type": info.content_type,
            "checksum_sha256": info.checksum_sha256,
        }

    @staticmethod
    def _directory(name: str) -> dict[str, Any]:
        return {"name": name, "size": 0, "type": "directory"}

    # --- metadata and listings ------------------------------------------------------------------------------

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        location, key = self._split(path)
        store = self.store_for(location)
        entries = [self._entry(location, info) for info in store.iter_objects(key, recursive=False)]
        if not entries and key:
            entries = [self.info(path)]
            if entries[0]["type"] == "directory":
                entries = []
        return entries if detail else [entry["name"] for entry in entries]

    def find(
        self, path: str, maxdepth: int | None = None, withdirs: bool = False, detail: bool = False, **kwargs: Any
    ) -> Any:
        """Everything below a path from one recursive listing (fsspec's walk, one listing per folder, when
        ``maxdepth`` limits the depth)."""
        if maxdepth is not None:
            return super().find(path, maxdepth=maxdepth, withdirs=withdirs, detail=detail, **kwargs)
        location, key = self._split(path)
        root = self._name(location, key)
        found: dict[str, dict[str, Any]] = {}
        store = self.store_for(location)
        for info in store.iter_objects(key, recursive=True):
            entry = self._entry(location, info)
            found[entry["name"]] = entry
            if withdirs:
                folder = posixpath.dirname(entry["name"])
                while len(folder) > len(root) and folder not in found:
                    found[folder] = self._directory(folder)
                    folder = posixpath.dirname(folder)
        if found and withdirs and root:
            found[root] = self._directory(root)
        if not found and key:
            with contextlib.suppress(ObjectNotFound):  # find() of a file is the file
                found[root] = self._entry(location, store.head_object("", key))
        names = sorted(found)
        return {name: found[name] for name in names} if detail else names

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        location, key = self._split(path)
        name = self._name(location, key)
        if not key:
            return self._directory(name)
        store = self.store_for(location)
        try:
            return self._entry(location, store.head_object("", key))
        except ObjectNotFound:
            # A folder is what holds at least one object (a recursive listing shows objects only).
            for _ in store.iter_objects(key, recursive=True, page_size=1):
                return self._directory(name)
            raise

    def modified(self, path: str) -> Any:
        modified = self.info(path).get("mtime")
        if modified is None:
            raise NotSupported(f"the store keeps no modification time for {path!r}")
        return modified

    def ukey(self, path: str) -> str:
        info = self.info(path)
        return str(info.get("etag") or info.get("mtime") or info["size"])

    # --- reading and writing whole objects ------------------------------------------------------------------

    def cat_file(self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any) -> bytes:
        location, key = self._split(path)
        with self.store_for(location).get_object_stream("", key, start, end) as stream:
            return stream.read()

    def pipe_file(self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any) -> None:
        location, key = self._split(path)
        self.store_for(location).put_object("", key, bytes(value), if_none_match="*" if mode == "create" else None)
        self.invalidate_cache(path)

    def cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        src_location, src_key = self._split(path1)
        dst_location, dst_key = self._split(path2)
        source = self.store_for(src_location)
        try:
            if src_location == dst_location:
                source.copy_object("", src_key, "", dst_key)
                return
            with source.get_object_stream("", src_key) as stream:
                self.store_for(dst_location).put_object_stream("", dst_key, stream)
        except ObjectNotFound:
            # Copying a folder copies nothing of its own: object stores keep no empty folders.
            if self.isdir(path1):
                return
            raise

    # --- deleting -------------------------------------------------------------------------------------------

    def rm_file(self, path: str) -> None:
        location, key = self._split(path)
        self.store_for(location).delete_object("", key)
        self.invalidate_cache(path)

    def _rm(self, path: str) -> None:
        self.rm_file(path)

    def rm(self, path: str | list[str], recursive: bool = False, maxdepth: int | None = None) -> None:
        """Delete files; with ``recursive``, everything under folders too, in batches where the store can."""
        if not recursive:
            for name in self.expand_path(path):
                self.rm_file(name)
            return
        if maxdepth is None:
            files = self._files_below(self.expand_path(path))
        else:
            files = [name for name in self.expand_path(path, recursive=True, maxdepth=maxdepth) if self.isfile(name)]
        if not files:
            raise FileNotFoundError(f"nothing to delete at {path!r}")
        by_location: dict[str, list[str]] = {}
        for name in files:
            location, key = self._split(name)
            by_location.setdefault(location, []).append(key)
        for location, keys in by_location.items():
            self._delete_keys(location, keys)
        self.invalidate_cache()

    def _files_below(self, roots: Iterable[str]) -> list[str]:
        """The objects at and below each root (one recursive listing per root)."""
        objects: set[str] = set()
        for root in roots:
            location, key = self._split(root)
            store = self.store_for(location)
            objects.update(self._name(location, info.key) for info in store.iter_objects(key, recursive=True))
            if key and store.exists("", key):
                objects.add(self._name(location, key))
        return sorted(objects)

    def _delete_keys(self, location: str, keys: list[str]) -> None:
        store = self.store_for(location)
        for begin in range(0, len(keys), _DELETE_BATCH):
            result = store.delete_objects("", keys[begin : begin + _DELETE_BATCH])
            for error in result.errors.values():
                raise error

    # --- files ----------------------------------------------------------------------------------------------

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: int | None = None,
        autocommit: bool = True,
        cache_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> ObjstoreFile:
        if not autocommit:
            raise NotSupported("fsspec transactions (autocommit=False) are not supported by objstore stores")
        if mode == "ab":
            raise NotSupported("objects cannot be appended to; write the whole object")
        if mode == "xb" and self.exists(path):
            raise FileExistsError(f"{path!r} already exists")
        if mode == "rb" and kwargs.get("size") is None:
            info = self.info(path)
            if info["type"] != "file":
                raise IsADirectoryError(f"{path!r} is a folder")
            kwargs["size"] = info["size"]
        return ObjstoreFile(self, path, mode, block_size or "default", cache_options=cache_options, **kwargs)


class _PartPipe:
    """Hands the parts a file writes to a store's streaming put running in a thread, a few parts at a time."""

    _DEPTH = 2

    def __init__(self, store: ObjectStorageService, key: str, if_none_match: str | None) -> None:
        self._parts: queue.Queue[bytes | None] = queue.Queue(self._DEPTH)
        self._pending = memoryview(b"")
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(store, key, if_none_match), name=f"objstore-fsspec-put {key}", daemon=True
        )
        self._thread.start()

    def _run(self, store: ObjectStorageService, key: str, if_none_match: str | None) -> None:
        try:
            store.put_object_stream("", key, self, if_none_match=if_none_match)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the writing thread by finish()
            self._error = exc
        finally:
            self._drain()

    def _drain(self) -> None:
        """After a failed or finished put, take what the writer still offers so it never blocks."""
        while True:
            try:
                self._parts.get_nowait()
            except queue.Empty:
                return

    def read(self, size: int = -1) -> bytes:
        while not self._pending:
            part = self._parts.get()
            if part is None:
                self._parts.put(None)  # stay at the end for any further read
                return b""
            self._pending = memoryview(part)
        if size < 0 or size >= len(self._pending):
            size = len(self._pending)
        taken, self._pending = self._pending[:size], self._pending[size:]
        return bytes(taken)

    def feed(self, part: bytes | None) -> None:
        while self._thread.is_alive():
            try:
                self._parts.put(part, timeout=0.2)
                return
            except queue.Full:
                continue
        self._raise()

    def finish(self) -> None:
        self.feed(None)
        self._thread.join()
        self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error


class ObjstoreFile(AbstractBufferedFile):  # type: ignore[misc]
    """A file of an :class:`ObjstoreFileSystem`: reads are ranged GETs behind fsspec's readahead cache; writes
    stream to the store part by part (a file smaller than one block is one plain put)."""

    fs: ObjstoreFileSystem

    def __init__(self, fs: ObjstoreFileSystem, path: str, mode: str = "rb", *args: Any, **kwargs: Any) -> None:
        self._pipe: _PartPipe | None = None
        super().__init__(fs, path, mode, *args, **kwargs)

    def _condition(self) -> str | None:
        return "*" if self.mode == "xb" else None

    def _fetch_range(self, start: int, end: int) -> bytes:
        data: bytes = self.fs.cat_file(self.path, start=start, end=end)
        return data

    def _initiate_upload(self) -> None:
        """Nothing to start yet: a file that fits one block is written by one put when it closes."""

    def _upload_chunk(self, final: bool = False) -> bool:
        part = self.buffer.getvalue()
        location, key = self.fs._split(self.path)
        store = self.fs.store_for(location)
        if self._pipe is None and final:
            store.put_object("", key, part, if_none_match=self._condition())
            return True
        if self._pipe is None:
            self._pipe = _PartPipe(store, key, self._condition())
        if part:
            self._pipe.feed(part)
        if final:
            self._pipe.finish()
        return True


# One class per scheme, at module level, so a pickle names it and a worker process imports it.


class FilesystemFileSystem(ObjstoreFileSystem):
    """``objstore+file``: a folder store (option ``base_path``); a path is a key inside it."""

    protocol = ("objstore+file",)
    store_scheme = "file"
    bucketed = False


class MemoryFileSystem(ObjstoreFileSystem):
    """``objstore+memory``: a private in-memory store per filesystem instance (for tests)."""

    protocol = ("objstore+memory",)
    store_scheme = "memory"
    bucketed = False


class S3FileSystem(ObjstoreFileSystem):
    """``objstore+s3``: S3 and S3-compatible stores; paths are ``bucket/key``, as in s3fs."""

    protocol = ("objstore+s3",)
    store_scheme = "s3"
    bucketed = True


class GCSFileSystem(ObjstoreFileSystem):
    """``objstore+gs``: Google Cloud Storage; paths are ``bucket/key``."""

    protocol = ("objstore+gs",)
    store_scheme = "gs"
    bucketed = True


class AzureBlobFileSystem(ObjstoreFileSystem):
    """``objstore+az``: Azure Blob Storage; paths are ``container/key``."""

    protocol = ("objstore+az",)
    store_scheme = "az"
    bucketed = True


class NaasFileSystem(ObjstoreFileSystem):
    """``objstore+naas``: a Naas workspace storage (``workspace_id``, ``storage_name`` or ``NAAS_*``)."""

    protocol = ("objstore+naas",)
    store_scheme = "naas"
    bucketed = False


class AltastataFileSystem(ObjstoreFileSystem):
    """``objstore+altastata``: an Altastata store (``container`` or ``ALTAS_*``)."""

    protocol = ("objstore+altastata",)
    store_scheme = "altastata"
    bucketed = False


def iter_filesystems() -> Iterator[type[ObjstoreFileSystem]]:
    """Every per-scheme filesystem class (for registering them by hand, without the entry points)."""
    yield from (
        FilesystemFileSystem,
        MemoryFileSystem,
        S3FileSystem,
        GCSFileSystem,
        AzureBlobFileSystem,
        NaasFileSystem,
        AltastataFileSystem,
    )
