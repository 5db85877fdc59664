"""A Django storage backend on any objstore store: ``objstore.contrib.django.ObjectStorage``.

Configured from settings only::

    STORAGES = {
        "default": {
            "BACKEND": "objstore.contrib.django.ObjectStorage",
            "OPTIONS": {"url": "s3://bucket/media", "endpoint_url": "https://s3.example"},
        },
        "staticfiles": {
            "BACKEND": "objstore.contrib.django.ObjectStorage",
            "OPTIONS": {"url": "s3://bucket/static", "file_overwrite": True, "base_url": "https://cdn.example/"},
        },
    }

The storage's own options are ``url``, ``file_overwrite``, ``querystring_expire`` and ``base_url``; every other key
is a store option passed to :meth:`objstore.ObjectStorageFactory.from_url` (part sizes, concurrency, endpoints,
``log_operations`` ...). The store is built on first use, never at import or construction, so migrations that name
a storage do not connect to anything. See docs/integrations/django.md.
"""

from __future__ import annotations

import io
import os
import posixpath
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from datetime import datetime, timezone
from functools import cached_property
from pathlib import PurePosixPath
from typing import IO, Any, BinaryIO
from urllib.parse import urlsplit
from urllib.request import url2pathname

from django.conf import settings  # type: ignore[import-untyped, unused-ignore]
from django.core.exceptions import (  # type: ignore[import-untyped, unused-ignore]
    ImproperlyConfigured,
    SuspiciousFileOperation,
)
from django.core.files.base import File  # type: ignore[import-untyped, unused-ignore]
from django.core.files.storage import Storage  # type: ignore[import-untyped, unused-ignore]
from django.core.files.utils import validate_file_name  # type: ignore[import-untyped, unused-ignore]
from django.utils._os import safe_join  # type: ignore[import-untyped, unused-ignore]
from django.utils.deconstruct import deconstructible  # type: ignore[import-untyped, unused-ignore]
from django.utils.encoding import filepath_to_uri  # type: ignore[import-untyped, unused-ignore]

from objstore.domain.errors import InvalidKey, ObjectAlreadyExists, ObjectNotFound
from objstore.domain.service import ObjectStorageService
from objstore.factory import ObjectStorageFactory

__all__ = ["ObjectStorage"]

#: The storage's own OPTIONS; every other key is a store option.
STORAGE_OPTIONS = frozenset({"url", "file_overwrite", "querystring_expire", "base_url"})
#: ChRIS's Altastata settings: ``ALTAS_CONNECTION_PARAMS`` (and the ``ALTAS_CONTAINER_PARAMS`` spelling its
#: ``connect_storage`` example reads) hold the account; ``ALTAS_CONTAINER_NAME`` the container.
ALTAS_PARAMS_SETTINGS = ("ALTAS_CONNECTION_PARAMS", "ALTAS_CONTAINER_PARAMS")
#: How many alternative names a create-only save tries before giving up (each is a fresh random suffix).
MAX_NAME_ATTEMPTS = 100


@deconstructible(path="objstore.contrib.django.ObjectStorage")
class ObjectStorage(Storage):  # type: ignore[misc, unused-ignore]
    """Django's ``Storage`` on an objstore store (S3, GCS, Azure, Altastata, Naas, a local folder ...).

    Args (the ``OPTIONS`` of a ``STORAGES`` entry, all keyword):
        url: The store (``s3://bucket/media``); else ``settings.OBJSTORE_URL``, else the ``OBJSTORE_URL``
            environment variable, else ``altastata://`` when ChRIS's ``ALTAS_CONNECTION_PARAMS`` is set.
        file_overwrite: Save over an existing file of the same name (default False: the new file gets an
            alternative name, decided atomically by a create-only write where the store enforces one).
        querystring_expire: Seconds a presigned ``url()`` stays valid (default 3600).
        base_url: If set, ``url(name)`` is this plus the quoted name (a CDN, a public bucket, a web server).
        **store_options: Passed to :meth:`objstore.ObjectStorageFactory.from_url` (``endpoint_url``,
            ``multipart_chunksize``, ``max_concurrency``, ``log_operations`` ...); unknown ones are errors.
    """

    def __init__(self, **options: Any) -> None:
        self._url: str | None = options.pop("url", None)
        overwrite = options.pop("file_overwrite", False)
        if not isinstance(overwrite, bool):
            raise ImproperlyConfigured("ObjectStorage OPTIONS file_overwrite must be True or False")
        self.file_overwrite = overwrite
        expire = options.pop("querystring_expire", 3600)
        if not isinstance(expire, int) or isinstance(expire, bool) or not 1 <= expire <= 7 * 24 * 3600:
            raise ImproperlyConfigured("ObjectStorage OPTIONS querystring_expire must be whole seconds, 1 to 604800")
        self.querystring_expire = expire
        self.base_url: str | None = options.pop("base_url", None)
        self._store_options = options
        self._lock = threading.Lock()
        self._service: ObjectStorageService | None = None

    # --- the store, built on first use ---------------------------------------------------------------------

    @property
    def service(self) -> ObjectStorageService:
        """The store, built once on first use (its adapter renews its own credentials, e.g. Naas)."""
        if self._service is None:
            with self._lock:
                if self._service is None:
                    self._service = self._build_service()
        return self._service

    def _build_service(self) -> ObjectStorageService:
        url = self._store_url()
        options = dict(self._store_options)
        if urlsplit(url).scheme.lower() == "altastata":
            options = {**_altastata_settings(url), **options}
        try:
            return ObjectStorageFactory.from_url(url, **options)
        except ValueError as exc:  # ConfigurationError: unknown option, bad URL, missing extra
            raise ImproperlyConfigured(f"ObjectStorage: {exc}") from exc

    def _store_url(self) -> str:
        url = self._url or getattr(settings, "OBJSTORE_URL", None) or os.environ.get("OBJSTORE_URL", "").strip()
        if url:
            return str(url)
        if any(getattr(settings, name, None) for name in ALTAS_PARAMS_SETTINGS):
            return "altastata://"
        raise ImproperlyConfigured(
            "ObjectStorage needs a store: OPTIONS {'url': 's3://bucket/prefix'}, settings.OBJSTORE_URL or the "
            "OBJSTORE_URL environment variable"
        )

    def close(self) -> None:
        """Release the store's connections (a later call builds the store again)."""
        with self._lock:
            service, self._service = self._service, None
        if service is not None:
            service.close()

    # --- reading ---------------------------------------------------------------------------------------------

    def _open(self, name: str, mode: str = "rb") -> ObjectFile:
        with _suspicious(name):
            return ObjectFile(self, name, mode)

    def size(self, name: str) -> int:
        with _suspicious(name):
            return self.service.head_object("", name).size

    def exists(self, name: str) -> bool:
        with _suspicious(name):
            return self.service.exists("", name)

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        directories: list[str] = []
        files: list[str] = []
        with _suspicious(path):
            for info in self.service.iter_objects(path, recursive=False):
                (directories if info.is_prefix else files).append(info.name)
        return directories, files

    def get_modified_time(self, name: str) -> datetime:
        """When the object was last written: aware (UTC) with ``USE_TZ``, else naive local time, as Django's
        ``FileSystemStorage`` returns it (so ``collectstatic`` compares like with like)."""
        with _suspicious(name):
            modified = self.service.head_object("", name).last_modified
        if modified is None:
            raise NotImplementedError(f"the {self.service.adapter.name} store does not say when {name!r} changed")
        if modified.tzinfo is None:
            modified = modified.replace(tzinfo=timezone.utc)
        if settings.USE_TZ:
            return modified.astimezone(timezone.utc)
        return modified.astimezone().replace(tzinfo=None)

    def url(self, name: str) -> str:
        if self.base_url is not None:
            base = self.base_url if self.base_url.endswith("/") else self.base_url + "/"
            return base + str(filepath_to_uri(name)).lstrip("/")
        if not self.service.capabilities.presigned_urls:
            raise NotImplementedError(
                f"the {self.service.adapter.name} store cannot sign URLs: set OPTIONS base_url to serve its files"
            )
        with _suspicious(name):
            return self.service.presign_url("", name, expires_in=self.querystring_expire)

    def path(self, name: str) -> str:
        """The local path, for a folder store (``file://``); other stores raise ``NotImplementedError``."""
        location = self.service.location
        if not location.startswith("file:"):
            raise NotImplementedError(f"the {self.service.adapter.name} store has no local paths")
        root = url2pathname(urlsplit(location).path)
        return str(safe_join(root, name)) if name else root

    # --- writing ---------------------------------------------------------------------------------------------

    @property
    def _create_only(self) -> bool:
        """Whether saves that must not overwrite are made atomically by the store (no ``exists()`` first)."""
        return not self.file_overwrite and self.service.capabilities.conditional_put

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        """The name to write: as given, when the write itself decides (an overwrite, or a create-only write that
        reports a collision); else Django's ``exists()`` loop, on stores without create-only writes (racy)."""
        if not (self.file_overwrite or self._create_only):
            return str(super().get_available_name(name, max_length=max_length))
        name = str(name).replace("\\", "/")
        validate_file_name(name, allow_relative_path=True)
        if max_length and len(name) > max_length:
            return _AlternativeNames(self, name, max_length).next()
        return name

    def save(self, name: str | None, content: Any, max_length: int | None = None) -> str:
        """Save ``content`` (streamed, in bounded memory) under ``name`` or, if taken, an alternative name.

        With ``file_overwrite`` False on a store that enforces create-only writes, every attempt is a create-only
        put and a collision (even with a concurrent save) picks another name: no save overwrites another.
        """
        if name is None:
            name = content.name
        if not hasattr(content, "chunks"):
            content = File(content, name)
        validate_file_name(name, allow_relative_path=True)
        name = self.get_available_name(name, max_length=max_length)
        validate_file_name(name, allow_relative_path=True)
        if not self._create_only:
            return self._save(name, content)
        candidates = _AlternativeNames(self, name, max_length)
        for _ in range(MAX_NAME_ATTEMPTS):
            try:
                self._write(name, content, create_only=True)
            except ObjectAlreadyExists:
                name = candidates.next()
                continue
            validate_file_name(name, allow_relative_path=True)
            return name
        raise SuspiciousFileOperation(f"no free name for {candidates.original!r} after {MAX_NAME_ATTEMPTS} tries")

    def _save(self, name: str, content: Any) -> str:
        self._write(name, content, create_only=False)
        return name

    def _write(self, name: str, content: Any, *, create_only: bool) -> None:
        with _suspicious(name):
            self.service.put_object_stream("", name, ContentReader(content), if_none_match="*" if create_only else None)

    def delete(self, name: str) -> None:
        """Delete the file; a missing one is no error (as Django's own storages)."""
        if not name:
            raise ValueError("The name must be given to delete().")
        with _suspicious(name), suppress(ObjectNotFound):
            self.service.delete_object("", name)


class _AlternativeNames:
    """Django's alternative names (``get_alternative_name``), truncated to ``max_length``, always derived from the
    first name so they do not grow with each collision."""

    def __init__(self, storage: ObjectStorage, name: str, max_length: int | None) -> None:
        self.storage = storage
        self.original = name
        self.max_length = max_length
        self.directory, file_name = posixpath.split(name)
        self.extension = "".join(PurePosixPath(file_name).suffixes)
        self.root = file_name.removesuffix(self.extension)

    def next(self) -> str:
        name = self._join(self.storage.get_alternative_name(self.root, self.extension))
        excess = len(name) - self.max_length if self.max_length else 0
        if excess > 0:
            root = self.root[:-excess]
            if not root:
                raise SuspiciousFileOperation(
                    f'Storage can not find an available filename for "{self.original}". Please make sure that the '
                    'corresponding file field allows sufficient "max_length".'
                )
            name = self._join(self.storage.get_alternative_name(root, self.extension))
        return name

    def _join(self, file_name: str) -> str:
        return posixpath.join(self.directory, file_name) if self.directory else file_name


class ContentReader:
    """A Django ``File`` (or any file-like) as the ``read(n)`` source an upload takes, from its start: text is sent
    as UTF-8, and no more than ``n`` bytes are returned, so memory stays bounded by the store's part size."""

    def __init__(self, content: Any) -> None:
        # A stream that cannot rewind is read from where it is.
        with suppress(AttributeError, io.UnsupportedOperation, ValueError):
            content.seek(0)
        self._content = content
        self._pending = b""

    def read(self, size: int | None = -1, /) -> bytes:
        if size is None or size < 0:
            rest = self._pending + _as_bytes(self._content.read())
            self._pending = b""
            return rest
        while len(self._pending) < size:
            data = _as_bytes(self._content.read(size - len(self._pending)))
            if not data:
                break
            self._pending = self._pending + data if self._pending else data
        data, self._pending = self._pending[:size], self._pending[size:]
        return data


def _as_bytes(data: bytes | str | None) -> bytes:
    if isinstance(data, str):
        return data.encode("utf-8")
    return data or b""


class ObjectReader(io.RawIOBase):
    """An object's content as a seekable raw stream: the GET is made when the file is opened (a missing file fails
    then, with ``FileNotFoundError``) and read as the caller reads; a seek elsewhere reopens a ranged read there.
    No HEAD is made unless the size is asked for."""

    def __init__(self, service: ObjectStorageService, name: str) -> None:
        super().__init__()
        self._service = service
        self.name = name
        self._position = 0
        self._stack = ExitStack()
        self._stream: BinaryIO | None = None
        self._open_at(0)

    def _open_at(self, position: int) -> None:
        self._stack.close()
        self._stack = ExitStack()
        self._stream = None
        start = position or None
        self._stream = self._stack.enter_context(self._service.get_object_stream("", self.name, start=start))
        self._position = position

    @cached_property
    def size(self) -> int:
        return self._service.head_object("", self.name).size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self._position + offset
        elif whence == io.SEEK_END:
            target = self.size + offset
        else:
            raise ValueError(f"invalid whence {whence!r}")
        if target < 0:
            raise ValueError("negative seek position")
        if target != self._position:
            self._stack.close()
            self._stream = None  # reopened, as a ranged read, by the next read
            self._position = target
        return self._position

    def readinto(self, buffer: Any) -> int:
        stream = self._stream
        if stream is None:
            self._open_at(self._position)
            stream = self._stream
        view = memoryview(buffer).cast("B")
        data = stream.read(len(view)) if stream is not None else b""
        count = len(data)
        view[:count] = data
        self._position += count
        return count

    def close(self) -> None:
        if not self.closed:
            self._stack.close()
            self._stream = None
        super().close()


class ObjectFile(File):  # type: ignore[misc, unused-ignore]
    """What ``ObjectStorage.open`` returns: a Django ``File`` over a streamed read of the object."""

    def __init__(self, storage: ObjectStorage, name: str, mode: str = "rb") -> None:
        self._storage = storage
        super().__init__(self._attach(name, mode), name)
        self.mode = mode

    def _attach(self, name: str, mode: str) -> IO[Any]:
        if mode not in ("rb", "r"):
            raise ValueError(f"ObjectStorage opens files for reading ('rb' or 'r'), not {mode!r}; write with save()")
        self._reader = ObjectReader(self._storage.service, name)
        stream: IO[Any] = io.BufferedReader(self._reader, buffer_size=64 * 1024)
        return io.TextIOWrapper(stream, encoding="utf-8") if mode == "r" else stream

    @cached_property
    def size(self) -> int:
        return self._reader.size

    def open(self, mode: str | None = None, *args: Any, **kwargs: Any) -> ObjectFile:
        """Rewind, or (closed, or in another mode) read the object again from its start."""
        mode = mode or self.mode
        if self.closed or mode != self.mode:
            self.close()
            self.file = self._attach(self.name, mode)
            self.mode = mode
        else:
            self.seek(0)
        return self


def _altastata_settings(url: str) -> dict[str, Any]:
    """ChRIS's Altastata settings as store options: ``ALTAS_CONNECTION_PARAMS`` (account_dir_path, password,
    user_properties, private_key_encrypted, port ...; unset values fall back to the ALTAS_* environment) and
    ``ALTAS_CONTAINER_NAME`` when the URL names no container."""
    params: dict[str, Any] = {}
    for setting_name in ALTAS_PARAMS_SETTINGS:
        value = getattr(settings, setting_name, None)
        if value:
            if not isinstance(value, dict):
                raise ImproperlyConfigured(f"settings.{setting_name} must be a dict")
            params = {key: item for key, item in value.items() if item is not None}
            break
    container = getattr(settings, "ALTAS_CONTAINER_NAME", None)
    if container and not urlsplit(url).netloc:
        params.setdefault("container", container)
    return params


@contextmanager
def _suspicious(name: str) -> Iterator[None]:
    """A name objstore refuses (``..``, control characters ...) is Django's ``SuspiciousFileOperation``."""
    try:
        yield
    except InvalidKey as exc:
        raise SuspiciousFileOperation(f"invalid file name {name!r}: {exc}") from exc
