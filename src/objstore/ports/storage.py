"""The storage port: what every store implements and what the service offers on top.

``IObjectOperations`` declares every operation once. ``IObjectStorageAdapter`` is the port adapters implement:
five primitives are abstract, and everything derivable from them (bytes in and out, the one-level listing,
``exists``, copy, batch delete) is written here once; an adapter overrides a derived call only to do it
natively. ``IObjectStorageDomain`` is what applications hold: the same operations, with keys validated and
errors made uniform by :class:`objstore.domain.ObjectStorageService`.

Keys are always relative to the store's root. ``prefix`` is a folder inside the store (slashes around it are
ignored); ``key`` is relative to that folder and may itself contain ``/``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from types import TracebackType
from typing import IO, Any, BinaryIO, TypeVar

from objstore.domain.errors import (
    ConfigurationError,
    NotSupported,
    ObjectAlreadyExists,
    ObjectNotFound,
    ObjectStorageError,
    PreconditionFailed,
)
from objstore.domain.keys import join_key
from objstore.domain.models import Capabilities, DeleteResult, ObjectInfo
from objstore.domain.streams import BufferReader

__all__ = [
    "ForwardingAdapter",
    "IObjectOperations",
    "IObjectStorageAdapter",
    "IObjectStorageDomain",
    "LayerAdapter",
    "build_config",
    "delete_in_batches",
    "find_layer",
    "layer_counters",
    "stream_etag",
    "tag_stream",
    "unwrap",
]

C = TypeVar("C")
T_stream = TypeVar("T_stream")


class IObjectOperations(ABC):
    """Every object operation, declared once for both the adapter port and the domain service."""

    @property
    @abstractmethod
    def capabilities(self) -> Capabilities:
        """What this store supports."""

    # --- the four calls of the original design --------------------------------------------------------------

    @abstractmethod
    def get_object(self, prefix: str, key: str) -> bytes:
        """Return the whole content of an object.

        Raises:
            ObjectNotFound: There is no such object.
        """

    @abstractmethod
    def put_object(
        self,
        prefix: str,
        key: str,
        content: bytes | bytearray | memoryview,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        if_none_match: str | None = None,
        if_match: str | None = None,
    ) -> None:
        """Write an object from bytes, replacing any previous version atomically.

        Args:
            prefix: Folder inside the store.
            key: Key relative to ``prefix``.
            content: The bytes (``bytes``, ``bytearray`` or ``memoryview``).
            content_type: MIME type; guessed from the key's extension when not given.
            metadata: User metadata (lower-case identifier keys, printable ASCII values).
            if_none_match: ``"*"`` makes the put create-only.
            if_match: Write only if the current object's etag is this one.

        Raises:
            ObjectAlreadyExists: ``if_none_match="*"`` and the object exists.
            PreconditionFailed: ``if_match`` did not match, or the object is gone.
        """

    @abstractmethod
    def delete_object(self, prefix: str, key: str) -> None:
        """Delete one object.

        Raises:
            ObjectNotFound: There is no such object.
        """

    @abstractmethod
    def list_objects(self, prefix: str) -> list[str]:
        """Immediate children of a folder: keys relative to the root, sub-prefixes ending in ``/``, sorted.

        An absent folder lists as empty.
        """

    # --- what real use needs --------------------------------------------------------------------------------

    @abstractmethod
    def head_object(self, prefix: str, key: str) -> ObjectInfo:
        """Return an object's metadata without its content.

        Raises:
            ObjectNotFound: There is no such object.
        """

    @abstractmethod
    def exists(self, prefix: str, key: str) -> bool:
        """Whether the object exists."""

    @abstractmethod
    def iter_objects(
        self, prefix: str = "", recursive: bool = True, *, page_size: int | None = None
    ) -> Iterator[ObjectInfo]:
        """Stream the objects under a folder, in ascending key order (by code point), page by page.

        Args:
            prefix: Folder to list; the root by default.
            recursive: All objects below the folder (default), or only its immediate children, with
                sub-prefixes as entries whose ``is_prefix`` is set.
            page_size: How many entries to ask the store for per request (a hint).
        """

    @abstractmethod
    def get_object_stream(
        self, prefix: str, key: str, start: int | None = None, end: int | None = None
    ) -> AbstractContextManager[BinaryIO]:
        """Open an object for reading in bounded memory, optionally a byte range.

        The range follows Python slices: ``start`` inclusive, ``end`` exclusive, negative values count from
        the end, out-of-range values clamp. Use as ``with store.get_object_stream(p, k) as stream: ...``.

        Raises:
            ObjectNotFound: There is no such object (raised on entering the context).
        """

    @abstractmethod
    def put_object_stream(
        self,
        prefix: str,
        key: str,
        stream: IO[bytes] | BinaryIO | Any,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        if_none_match: str | None = None,
        if_match: str | None = None,
    ) -> ObjectInfo:
        """Write an object from a readable binary stream in bounded memory; return its new metadata.

        The stream only needs ``read(n)``. Conditions as for :meth:`put_object`.
        """

    @abstractmethod
    def copy_object(self, src_prefix: str, src_key: str, dst_prefix: str, dst_key: str) -> None:
        """Copy an object (content, content type and metadata), inside the store where it can.

        Raises:
            ObjectNotFound: The source does not exist.
        """

    @abstractmethod
    def delete_objects(self, prefix: str, keys: Iterable[str]) -> DeleteResult:
        """Delete many objects; absent ones count as deleted (as on S3); failures are reported, not raised."""

    @abstractmethod
    def presign_url(self, prefix: str, key: str, *, expires_in: int = 3600, method: str = "GET") -> str:
        """A time-limited URL that lets anyone holding it GET (or PUT) the object without credentials.

        Raises:
            NotSupported: The store has no such links (``capabilities.presigned_urls`` is false).
        """

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release connections and other resources."""

    def __enter__(self) -> IObjectOperations:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class IObjectStorageAdapter(IObjectOperations):
    """The port every store implements.

    Adapters receive prefixes already normalized by the service (no surrounding slashes) and build their
    store-side key with :func:`objstore.domain.keys.join_key`, which validates again so an adapter used on its
    own is just as safe. They raise only :class:`~objstore.domain.errors.ObjectStorageError` subclasses,
    translated from the provider's errors at their boundary.

    Primitives to implement: ``capabilities``, ``head_object``, ``get_object_stream``, ``put_object_stream``,
    ``delete_object`` and ``iter_objects``. The rest has a portable implementation here.
    """

    name: str = "adapter"

    # --- derived operations: written once, overridden only to do them natively ------------------------------

    def get_object(self, prefix: str, key: str) -> bytes:
        with self.get_object_stream(prefix, key) as stream:
            return stream.read()

    def put_object(
        self,
        prefix: str,
        key: str,
        content: bytes | bytearray | memoryview,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        if_none_match: str | None = None,
        if_match: str | None = None,
    ) -> None:
        with BufferReader(content) as reader:
            self.put_object_stream(
                prefix,
                key,
                reader,
                content_type=content_type,
                metadata=metadata,
                if_none_match=if_none_match,
                if_match=if_match,
            )

    def list_objects(self, prefix: str) -> list[str]:
        return [info.key for info in self.iter_objects(prefix, recursive=False)]

    def exists(self, prefix: str, key: str) -> bool:
        try:
            self.head_object(prefix, key)
        except ObjectNotFound:
            return False
        return True

    def copy_object(self, src_prefix: str, src_key: str, dst_prefix: str, dst_key: str) -> None:
        source = self.head_object(src_prefix, src_key)
        if join_key(src_prefix, src_key) == join_key(dst_prefix, dst_key):
            return
        with self.get_object_stream(src_prefix, src_key) as stream:
            self.put_object_stream(
                dst_prefix,
                dst_key,
                stream,
                content_type=source.content_type,
                metadata=source.metadata,
            )

    def delete_objects(self, prefix: str, keys: Iterable[str]) -> DeleteResult:
        deleted: list[str] = []
        errors: dict[str, ObjectStorageError] = {}
        for key in keys:
            try:
                self.delete_object(prefix, key)
            except ObjectNotFound:
                deleted.append(key)
            except ObjectStorageError as exc:
                errors[key] = exc
            else:
                deleted.append(key)
        return DeleteResult(tuple(deleted), errors)

    def _check_conditions_early(self, prefix: str, key: str, if_none_match: str | None, if_match: str | None) -> None:
        """Fail before a long multi-request upload when its condition already fails.

        For uploads whose condition the store checks only at the end (multipart, resumable, block lists): the
        store still enforces it then, but a doomed multi-gigabyte upload should not run first.
        """
        if not (if_none_match or if_match):
            return
        full = join_key(prefix, key)
        try:
            current = self.head_object(prefix, key)
        except ObjectNotFound:
            if if_match:
                raise PreconditionFailed("the object is gone", key=full) from None
            return
        if if_none_match:
            raise ObjectAlreadyExists("the object already exists", key=full)
        if current.etag != if_match:
            raise PreconditionFailed("the object changed (etag differs)", key=full)

    def presign_url(self, prefix: str, key: str, *, expires_in: int = 3600, method: str = "GET") -> str:
        raise NotSupported(f"the {self.name} store cannot make shareable links", key=join_key(prefix, key))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ForwardingAdapter(IObjectStorageAdapter):
    """An adapter that forwards every call to another one: the base of wrappers (layers, composed stores).

    Subclasses override what they change and inherit the rest, so a wrapper stays correct as the port grows.
    """

    def __init__(self, inner: IObjectStorageAdapter) -> None:
        self.inner = inner

    @property
    def capabilities(self) -> Capabilities:
        return self.inner.capabilities

    def get_object(self, prefix: str, key: str) -> bytes:
        return self.inner.get_object(prefix, key)

    def put_object(
        self,
        prefix: str,
        key: str,
        content: bytes | bytearray | memoryview,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        if_none_match: str | None = None,
        if_match: str | None = None,
    ) -> None:
        self.inner.put_object(
            prefix,
            key,
            content,
            content_type=content_type,
            metadata=metadata,
            if_none_match=if_none_match,
            if_match=if_match,
        )

    def delete_object(self, prefix: str, key: str) -> None:
        self.inner.delete_object(prefix, key)

    def list_objects(self, prefix: str) -> list[str]:
        return self.inner.list_objects(prefix)

    def head_object(self, prefix: str, key: str) -> ObjectInfo:
        return self.inner.head_object(prefix, key)

    def exists(self, prefix: str, key: str) -> bool:
        return self.inner.exists(prefix, key)

    def iter_objects(
        self, prefix: str = "", recursive: bool = True, *, page_size: int | None = None
    ) -> Iterator[ObjectInfo]:
        return self.inner.iter_objects(prefix, recursive, page_size=page_size)

    def get_object_stream(
        self, prefix: str, key: str, start: int | None = None, end: int | None = None
    ) -> AbstractContextManager[BinaryIO]:
        return self.inner.get_object_stream(prefix, key, start, end)

    def put_object_stream(
        self,
        prefix: str,
        key: str,
        stream: IO[bytes] | BinaryIO | Any,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        if_none_match: str | None = None,
        if_match: str | None = None,
    ) -> ObjectInfo:
        return self.inner.put_object_stream(
            prefix,
            key,
            stream,
            content_type=content_type,
            metadata=metadata,
            if_none_match=if_none_match,
            if_match=if_match,
        )

    def copy_object(self, src_prefix: str, src_key: str, dst_prefix: str, dst_key: str) -> None:
        self.inner.copy_object(src_prefix, src_key, dst_prefix, dst_key)

    def delete_objects(self, prefix: str, keys: Iterable[str]) -> DeleteResult:
        return self.inner.delete_objects(prefix, keys)

    def presign_url(self, prefix: str, key: str, *, expires_in: int = 3600, method: str = "GET") -> str:
        return self.inner.presign_url(prefix, key, expires_in=expires_in, method=method)

    def close(self) -> None:
        self.inner.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inner!r})"


class LayerAdapter(ForwardingAdapter):
    """A wrapper that adds a behaviour (retries, logging ...) to a store without being a store of its own.

    Unlike a composed store (Naas wraps S3 under its own name), a layer is transparent: :func:`unwrap` sees
    through it, and sync state is keyed on the store under it.
    """

    def counters(self) -> dict[str, int]:
        """What this layer has counted so far (``{"retries": 3}``); see :func:`layer_counters`."""
        return {}


def layer_counters(adapter: IObjectStorageAdapter) -> dict[str, int]:
    """The counters of every layer over a store, summed by name (retries, faults injected ...)."""
    totals: dict[str, int] = {}
    while isinstance(adapter, LayerAdapter):
        for name, value in adapter.counters().items():
            totals[name] = totals.get(name, 0) + value
        adapter = adapter.inner
    return totals


L = TypeVar("L", bound=IObjectStorageAdapter)


def unwrap(adapter: IObjectStorageAdapter) -> IObjectStorageAdapter:
    """The store under any layers (retry, logging ...): what a layered adapter finally calls."""
    while isinstance(adapter, LayerAdapter):
        adapter = adapter.inner
    return adapter


def find_layer(adapter: IObjectStorageAdapter, layer: type[L]) -> L | None:
    """The outermost adapter of class ``layer`` in a stack of layers (the store itself included), if any."""
    current: IObjectStorageAdapter | None = adapter
    while current is not None:
        if isinstance(current, layer):
            return current
        current = current.inner if isinstance(current, LayerAdapter) else None
    return None


_STREAM_ETAG = "objstore_etag"


def tag_stream(stream: T_stream, etag: str | None) -> T_stream:
    """Record on a stream from ``get_object_stream`` the version (etag) it reads, when the store told us.

    A layer that resumes a broken read can then pin that version without asking the store first.
    """
    if etag:
        setattr(stream, _STREAM_ETAG, etag)
    return stream


def stream_etag(stream: Any) -> str | None:
    """The version a ``get_object_stream`` stream reads, if its adapter recorded it (see :func:`tag_stream`)."""
    etag = getattr(stream, _STREAM_ETAG, None)
    return etag if isinstance(etag, str) else None


def build_config(config_cls: type[C], config: C | Any, options: Mapping[str, Any], label: str) -> C:
    """An adapter's config from a ready config object, or from its first field's value plus keyword options."""
    if isinstance(config, config_cls):
        if options:
            raise ConfigurationError(f"unexpected options with a {config_cls.__name__}: {sorted(options)}")
        return config
    factory: Any = config_cls  # a dataclass: its fields are its parameters
    try:
        built: C = factory(config, **options)
    except TypeError as exc:
        raise ConfigurationError(f"{label} store: {exc}") from None
    return built


def delete_in_batches(
    keys: Iterable[str],
    *,
    locate: Callable[[str], str],
    batch_size: int,
    delete_batch: Callable[[list[str]], Mapping[str, ObjectStorageError]],
) -> DeleteResult:
    """A batch delete for stores with a many-keys request: streams ``keys`` in batches of ``batch_size``.

    ``locate`` maps a key as given to the store's name (raising ``InvalidKey`` to refuse it); ``delete_batch``
    deletes names and returns the ones that failed with their error (absent ones count as deleted), or raises for
    a batch that failed whole. Nothing is swallowed: every key ends in ``deleted`` or in ``errors``.
    """
    deleted: list[str] = []
    errors: dict[str, ObjectStorageError] = {}
    batch: dict[str, str] = {}

    def flush() -> None:
        try:
            failed = delete_batch(list(batch))
        except ObjectStorageError as exc:
            failed = dict.fromkeys(batch, exc)
        for name, given in batch.items():
            if name in failed:
                errors[given] = failed[name]
            else:
                deleted.append(given)
        batch.clear()

    for key in keys:
        try:
            batch[locate(key)] = key
        except ObjectStorageError as exc:
            errors[key] = exc
            continue
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    return DeleteResult(tuple(deleted), errors)


class IObjectStorageDomain(IObjectOperations):
    """What applications call: the operations of the port, with keys validated and errors made uniform."""
