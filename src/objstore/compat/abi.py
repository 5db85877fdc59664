"""A drop-in for ``naas_abi_core.services.object_storage``, built on objstore's adapters.

An application written for naas-abi-core switches by changing its imports only::

    # from naas_abi_core.services.object_storage.ObjectStorageFactory import ObjectStorageFactory
    from objstore.compat.abi import ObjectStorageFactory

The names are abi's (``IObjectStorageAdapter``, ``IObjectStorageDomain``, ``Exceptions``, ``ObjectMetaData``,
``ObjectStorageService``, ``ObjectStorageFactory`` and the four ``ObjectStorageSecondaryAdapter*`` classes), with
abi's constructor signatures and observable semantics: a prefix that does not exist raises
``Exceptions.ObjectNotFound`` (on the filesystem when the folder is absent, on S3 when no object lies under it),
filesystem listings return ``prefix/name`` without a trailing slash and S3 listings return sub-prefixes with one,
an optional queue is fed the entries, leading, trailing and doubled slashes in prefix and key are tolerated, the
service strips a leading ``storage/``, and Naas credentials are fetched on first use.

What the application gains: objstore's retries and deadlines, its typed errors (``Exceptions.ObjectNotFound`` is
also ``objstore.ObjectNotFound`` and ``FileNotFoundError``), atomic and verified writes, streaming in bounded memory,
and every other store through :attr:`ObjectStorageSecondaryAdapterS3.native` and friends. The differences that
remain are listed in docs/integrations/abi.md.
"""

from __future__ import annotations

import mimetypes
import os
import stat
from abc import ABC, abstractmethod
from collections.abc import Generator, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from datetime import datetime, timezone
from queue import Queue
from typing import BinaryIO

from pydantic import BaseModel

from objstore.domain import errors as native_errors
from objstore.domain.service import ObjectStorageService as NativeService

__all__ = [
    "Exceptions",
    "IObjectStorageAdapter",
    "IObjectStorageDomain",
    "NoStorageFolderFound",
    "ObjectMetaData",
    "ObjectStorageFactory",
    "ObjectStorageSecondaryAdapterFS",
    "ObjectStorageSecondaryAdapterNaas",
    "ObjectStorageSecondaryAdapterR2",
    "ObjectStorageSecondaryAdapterS3",
    "ObjectStorageService",
]

R2_REGION = "auto"


class Exceptions:
    """abi's two errors; each is also objstore's error of the same meaning (and so a built-in OSError)."""

    class ObjectNotFound(native_errors.ObjectNotFound):
        pass

    class ObjectAlreadyExists(native_errors.ObjectAlreadyExists):
        pass


class NoStorageFolderFound(native_errors.ConfigurationError):
    """No folder of the name asked for in the working directory or any folder above it."""


class ObjectMetaData(BaseModel):
    file_path: str
    file_name: str
    file_size_bytes: int
    created_time: datetime | None
    modified_time: datetime | None
    accessed_time: datetime | None
    permissions: str | None
    mime_type: str | None
    encoding: str | None


class IObjectStorageAdapter(ABC):
    """abi's adapter port: an application's own adapter written against it works with the compat service."""

    @abstractmethod
    def get_object(self, prefix: str, key: str) -> bytes: ...

    @abstractmethod
    def get_object_stream(self, prefix: str, key: str) -> AbstractContextManager[BinaryIO]: ...

    @abstractmethod
    def put_object(self, prefix: str, key: str, content: bytes) -> None: ...

    @abstractmethod
    def put_object_stream(self, prefix: str, key: str, stream: BinaryIO) -> None: ...

    @abstractmethod
    def delete_object(self, prefix: str, key: str) -> None: ...

    @abstractmethod
    def list_objects(self, prefix: str, queue: Queue[str] | None = None) -> list[str]: ...

    @abstractmethod
    def list_objects_recursive(self, prefix: str, queue: Queue[str] | None = None) -> list[str]: ...

    @abstractmethod
    def get_object_metadata(self, prefix: str, key: str) -> ObjectMetaData: ...


class IObjectStorageDomain(IObjectStorageAdapter, ABC):
    """abi's domain port: the same calls as the adapter port."""


def _clean(part: str | None) -> str:
    """A prefix or key with leading, trailing and doubled slashes removed, as abi's S3 adapter joins them."""
    return "/".join(piece for piece in (part or "").split("/") if piece)


@contextmanager
def _abi_errors() -> Generator[None, None, None]:
    """objstore's not-found and already-exists errors raised as abi's (which are also objstore's)."""
    try:
        yield
    except (Exceptions.ObjectNotFound, Exceptions.ObjectAlreadyExists):
        raise
    except native_errors.ObjectNotFound as exc:
        raise Exceptions.ObjectNotFound(exc.message, key=exc.key, adapter=exc.adapter) from exc
    except native_errors.ObjectAlreadyExists as exc:
        raise Exceptions.ObjectAlreadyExists(exc.message, key=exc.key, adapter=exc.adapter) from exc


def _fed(entries: list[str], queue: Queue[str] | None) -> list[str]:
    if queue is not None:
        for entry in entries:
            queue.put(entry)
    return entries


class _NativeBacked(IObjectStorageAdapter, ABC):
    """An abi adapter over an objstore store: the calls, the error mapping and the listings' shape."""

    @property
    @abstractmethod
    def native(self) -> NativeService:
        """The objstore service behind this adapter: every objstore call (sync, ranged reads, presigned URLs)."""

    @abstractmethod
    def _folder_exists(self, prefix: str) -> bool:
        """Whether a prefix with nothing listed under it still exists (a filesystem's empty folder)."""

    @abstractmethod
    def _entry(self, given: str, prefix: str, key: str) -> str:
        """A listed key (objstore's: from the store's root, folders ending in ``/``) as abi returns it."""

    def get_object(self, prefix: str, key: str) -> bytes:
        with _abi_errors():
            return self.native.get_object(_clean(prefix), _clean(key))

    @contextmanager
    def get_object_stream(self, prefix: str, key: str) -> Iterator[BinaryIO]:
        with ExitStack() as stack:
            with _abi_errors():
                stream = stack.enter_context(self.native.get_object_stream(_clean(prefix), _clean(key)))
            yield stream

    def put_object(self, prefix: str, key: str, content: bytes) -> None:
        with _abi_errors():
            self.native.put_object(_clean(prefix), _clean(key), content)

    def put_object_stream(self, prefix: str, key: str, stream: BinaryIO) -> None:
        with _abi_errors():
            self.native.put_object_stream(_clean(prefix), _clean(key), stream)

    def delete_object(self, prefix: str, key: str) -> None:
        """Delete an object; abi raises ``ObjectNotFound`` for one that is not there (objstore's delete does not)."""
        with _abi_errors():
            if not self.native.exists(_clean(prefix), _clean(key)):
                raise Exceptions.ObjectNotFound(f"Object {prefix}/{key} not found", key=_clean(f"{prefix}/{key}"))
            self.native.delete_object(_clean(prefix), _clean(key))

    def list_objects(self, prefix: str, queue: Queue[str] | None = None) -> list[str]:
        """The direct children of ``prefix`` (objects and sub-prefixes); ``ObjectNotFound`` when it does not exist."""
        cleaned = _clean(prefix)
        with _abi_errors():
            keys = self.native.list_objects(cleaned)
        return _fed(self._existing(prefix, cleaned, keys), queue)

    def list_objects_recursive(self, prefix: str, queue: Queue[str] | None = None) -> list[str]:
        """Every object at or beneath ``prefix``, sorted, no folder entries; ``ObjectNotFound`` as ``list_objects``."""
        cleaned = _clean(prefix)
        with _abi_errors():
            keys = [info.key for info in self.native.iter_objects(cleaned, recursive=True)]
        return _fed(sorted(self._existing(prefix, cleaned, keys)), queue)

    def _existing(self, given: str, prefix: str, keys: list[str]) -> list[str]:
        if not keys and not self._folder_exists(prefix):
            raise Exceptions.ObjectNotFound(f"Prefix {given} not found", key=prefix or None)
        return [self._entry(given, prefix, key) for key in keys]


class ObjectStorageSecondaryAdapterFS(_NativeBacked):
    """abi's folder adapter: objects are plain files under ``base_path`` (the same layout abi writes)."""

    def __init__(self, base_path: str):
        from objstore.factory import ObjectStorageFactory as NativeFactory

        self.base_path = base_path
        os.makedirs(base_path, exist_ok=True)
        self._native = NativeFactory.ObjectStorageServiceFS(base_path)

    @property
    def native(self) -> NativeService:
        return self._native

    def _folder_exists(self, prefix: str) -> bool:
        return os.path.isdir(os.path.join(self.base_path, prefix))

    def _entry(self, given: str, prefix: str, key: str) -> str:
        relative = key[len(prefix) + 1 :] if prefix else key
        return os.path.join(given, relative.rstrip("/"))

    def get_object_metadata(self, prefix: str, key: str) -> ObjectMetaData:
        """abi's file metadata: the absolute path, times from the file, its mode and a type guessed from the name."""
        with _abi_errors():
            self.native.head_object(_clean(prefix), _clean(key))  # ObjectNotFound, or a key objstore refuses
        path = os.path.join(self.base_path, _clean(prefix), _clean(key))
        info = os.stat(path)
        mime_type, encoding = mimetypes.guess_type(path)
        return ObjectMetaData(
            file_path=os.path.abspath(path),
            file_name=os.path.basename(path),
            file_size_bytes=info.st_size,
            created_time=datetime.fromtimestamp(info.st_ctime, tz=timezone.utc),
            modified_time=datetime.fromtimestamp(info.st_mtime, tz=timezone.utc),
            accessed_time=datetime.fromtimestamp(info.st_atime, tz=timezone.utc),
            permissions=stat.filemode(info.st_mode),
            mime_type=mime_type,
            encoding=encoding,
        )


class _BucketBacked(_NativeBacked, ABC):
    """abi's S3-style listings (keys from the base prefix, sub-prefixes with ``/``) and metadata."""

    def _folder_exists(self, prefix: str) -> bool:
        return False  # an object store has no empty folders: a prefix exists while an object lies under it

    def _entry(self, given: str, prefix: str, key: str) -> str:
        return key

    @abstractmethod
    def _bucket_and_root(self) -> tuple[str, str]:
        """The bucket and the key prefix the store's keys are under (for abi's ``s3://`` file paths)."""

    def get_object_metadata(self, prefix: str, key: str) -> ObjectMetaData:
        with _abi_errors():
            info = self.native.head_object(_clean(prefix), _clean(key))
        return ObjectMetaData(
            file_path="s3://" + "/".join(filter(None, (*self._bucket_and_root(), info.key))),
            file_name=key.split("/")[-1] if key else "",
            file_size_bytes=info.size,
            created_time=None,
            modified_time=info.last_modified,
            accessed_time=None,
            permissions=None,
            mime_type=info.content_type or None,
            encoding=None,
        )


class ObjectStorageSecondaryAdapterS3(_BucketBacked):
    """abi's S3 adapter (the bucket first), plus ``endpoint_url`` for S3-compatible servers."""

    def __init__(
        self,
        bucket_name: str,
        access_key_id: str,
        secret_access_key: str,
        base_prefix: str = "",
        session_token: str | None = None,
        endpoint_url: str | None = None,
        region_name: str | None = None,
    ):
        from objstore.factory import ObjectStorageFactory as NativeFactory

        self.bucket_name = bucket_name
        self.base_prefix = base_prefix.rstrip("/")
        self._native = NativeFactory.ObjectStorageServiceS3(
            access_key_id,
            secret_access_key,
            bucket_name,
            _clean(base_prefix),
            session_token,
            endpoint_url=endpoint_url,
            region_name=region_name,
        )

    @property
    def native(self) -> NativeService:
        return self._native

    def _bucket_and_root(self) -> tuple[str, str]:
        return self.bucket_name, _clean(self.base_prefix)


class ObjectStorageSecondaryAdapterR2(ObjectStorageSecondaryAdapterS3):
    """abi's Cloudflare R2 adapter: S3 on the account's endpoint, signed for region ``auto``."""

    def __init__(
        self,
        account_id: str,
        bucket_name: str,
        access_key_id: str,
        secret_access_key: str,
        base_prefix: str = "",
    ):
        super().__init__(
            bucket_name=bucket_name,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            base_prefix=base_prefix,
            endpoint_url=f"https://{account_id}.r2.cloudflarestorage.com",
            region_name=R2_REGION,
        )


class ObjectStorageSecondaryAdapterNaas(_BucketBacked):
    """abi's Naas adapter: nothing is asked of the Naas API until the first call (then credentials are renewed
    before they expire by objstore's Naas adapter). Keyword only: ``api_url``, another Naas API, and
    ``endpoint_url``, the S3 server its credentials are for (when the API does not say)."""

    def __init__(
        self,
        naas_api_key: str,
        workspace_id: str,
        storage_name: str,
        base_prefix: str = "",
        *,
        api_url: str | None = None,
        endpoint_url: str | None = None,
    ):
        self.base_prefix = base_prefix
        self._settings = (naas_api_key, workspace_id, storage_name, _clean(base_prefix))
        self._options = {"api_url": api_url, "endpoint_url": endpoint_url}
        self._native: NativeService | None = None

    @property
    def native(self) -> NativeService:
        if self._native is None:
            from objstore.factory import ObjectStorageFactory as NativeFactory

            options = {name: value for name, value in self._options.items() if value is not None}
            self._native = NativeFactory.ObjectStorageServiceNaas(*self._settings, **options)
        return self._native

    def _bucket_and_root(self) -> tuple[str, str]:
        from objstore.adapters.naas import NaasAdapter
        from objstore.ports.storage import unwrap

        adapter = unwrap(self.native.adapter)
        assert isinstance(adapter, NaasAdapter)
        where = adapter.provider.location()
        return where.bucket, "/".join(filter(None, (_clean(where.prefix), self._settings[3])))

    def __repr__(self) -> str:
        _, workspace, storage, _ = self._settings
        return f"ObjectStorageSecondaryAdapterNaas(workspace_id={workspace!r}, storage_name={storage!r})"


def _without_storage(prefix: str) -> str:
    """abi's service drops a leading ``storage/`` (so paths written for the FS adapter's folder work everywhere)."""
    prefix = prefix.removeprefix("storage/")
    return "" if prefix == "/" else prefix


class ObjectStorageService(IObjectStorageDomain):
    """abi's domain service over any abi-style adapter (objstore's compat adapters or an application's own)."""

    adapter: IObjectStorageAdapter

    def __init__(self, adapter: IObjectStorageAdapter):
        self.adapter = adapter

    def get_object(self, prefix: str, key: str) -> bytes:
        return self.adapter.get_object(_without_storage(prefix), key)

    @contextmanager
    def get_object_stream(self, prefix: str, key: str) -> Iterator[BinaryIO]:
        with self.adapter.get_object_stream(_without_storage(prefix), key) as stream:
            yield stream

    def put_object(self, prefix: str, key: str, content: bytes) -> None:
        self.adapter.put_object(_without_storage(prefix), key, content)

    def put_object_stream(self, prefix: str, key: str, stream: BinaryIO) -> None:
        self.adapter.put_object_stream(_without_storage(prefix), key, stream)

    def delete_object(self, prefix: str, key: str) -> None:
        self.adapter.delete_object(_without_storage(prefix), key)

    def list_objects(self, prefix: str = "", queue: Queue[str] | None = None) -> list[str]:
        return self.adapter.list_objects(_without_storage(prefix), queue)

    def list_objects_recursive(self, prefix: str = "", queue: Queue[str] | None = None) -> list[str]:
        return self.adapter.list_objects_recursive(_without_storage(prefix), queue)

    def get_object_metadata(self, prefix: str, key: str) -> ObjectMetaData:
        return self.adapter.get_object_metadata(_without_storage(prefix), key)


def find_storage_folder(base_path: str, needle: str = "storage") -> str:
    """The nearest ``needle`` under ``base_path`` or a folder above it (abi's ``utils.Storage``)."""
    here = os.path.abspath(base_path)
    while True:
        candidate = os.path.join(here, needle)
        if os.path.exists(candidate):
            return candidate
        if os.path.dirname(here) == here:
            raise NoStorageFolderFound(f"no {needle!r} in {base_path!r} or any folder above it")
        here = os.path.dirname(here)


class ObjectStorageFactory:
    """abi's factory: the same static methods and argument order (the keys first for S3; R2's own order)."""

    @staticmethod
    def ObjectStorageServiceFS__find_storage(needle: str = "storage") -> ObjectStorageService:
        return ObjectStorageService(ObjectStorageSecondaryAdapterFS(find_storage_folder(os.getcwd(), needle)))

    @staticmethod
    def ObjectStorageServiceFS(base_path: str) -> ObjectStorageService:
        return ObjectStorageService(ObjectStorageSecondaryAdapterFS(base_path))

    @staticmethod
    def ObjectStorageServiceS3(
        access_key_id: str,
        secret_access_key: str,
        bucket_name: str,
        base_prefix: str,
        session_token: str | None = None,
        *,
        endpoint_url: str | None = None,
    ) -> ObjectStorageService:
        adapter = ObjectStorageSecondaryAdapterS3(
            bucket_name, access_key_id, secret_access_key, base_prefix, session_token, endpoint_url=endpoint_url
        )
        return ObjectStorageService(adapter)

    @staticmethod
    def ObjectStorageServiceNaas(
        naas_api_key: str, workspace_id: str, storage_name: str, base_prefix: str = ""
    ) -> ObjectStorageService:
        return ObjectStorageService(
            ObjectStorageSecondaryAdapterNaas(naas_api_key, workspace_id, storage_name, base_prefix)
        )

    @staticmethod
    def ObjectStorageServiceR2(
        account_id: str,
        access_key_id: str,
        secret_access_key: str,
        bucket_name: str,
        base_prefix: str = "",
    ) -> ObjectStorageService:
        return ObjectStorageService(
            ObjectStorageSecondaryAdapterR2(account_id, bucket_name, access_key_id, secret_access_key, base_prefix)
        )
