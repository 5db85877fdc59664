"""The storage port: the primitives every store implements, and the calls derived from them once.

``IObjectOperations`` declares what applications call. ``IObjectStorageAdapter`` is the port adapters implement:
six primitives (``capabilities``, ``head_object``, ``open_object``, ``write_object``, ``delete_object``,
``scan_objects``) and three native extras with a portable default (``copy_object``, ``delete_objects``,
``presign_url``). Each primitive takes one options value (:class:`WriteOptions`, :class:`ReadOptions`,
:class:`ListOptions`). Everything else (``get_object``, ``put_object``, ``get_object_stream``,
``put_object_stream``, ``iter_objects``, ``list_objects``, ``exists``) is derived here, once, from the primitives
of the object it is called on, and no adapter may redefine it: on a stack of layers a derived call therefore runs
on the outermost layer and reaches the store through every layer. ``IObjectStorageDomain`` is what applications
hold: the same operations, with keys validated and errors made uniform by
:class:`objstore.domain.ObjectStorageService`. :class:`SeedAdapter` plugs in a store written against the four
calls of the original design.

Keys are always relative to the store's root. ``prefix`` is a folder inside the store (slashes around it are
ignored); ``key`` is relative to that folder and may itself contain ``/``.
"""

from __future__ import annotations

import hashlib
import io
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timezone
from types import TracebackType
from typing import Any, BinaryIO, ClassVar, Protocol, TypeVar

from objstore.domain.errors import (
    ConfigurationError,
    NotSupported,
    ObjectAlreadyExists,
    ObjectNotFound,
    ObjectStorageError,
    PreconditionFailed,
)
from objstore.domain.keys import join_key
from objstore.domain.models import (
    Capabilities,
    DeleteResult,
    ListOptions,
    ObjectInfo,
    OpenedObject,
    ReadOptions,
    WriteOptions,
)
from objstore.domain.streams import BufferReader, resolve_range

__all__ = [
    "CONVENIENCES",
    "PRIMITIVES",
    "ForwardingAdapter",
    "IObjectOperations",
    "IObjectStorageAdapter",
    "IObjectStorageDomain",
    "LayerAdapter",
    "ListOptions",
    "OpenedObject",
    "ReadOptions",
    "Readable",
    "SeedAdapter",
    "WriteOptions",
    "build_config",
    "delete_in_batches",
    "derived",
    "layer_counters",
    "unwrap",
]

C = TypeVar("C")

#: What a store does natively: each layer implements every one of these (a test holds them to it).
PRIMITIVES = (
    "head_object",
    "open_object",
    "write_object",
    "delete_object",
    "scan_objects",
    "copy_object",
    "delete_objects",
    "presign_url",
)
#: What is derived from the primitives, once, for every adapter (and the service).
CONVENIENCES = (
    "get_object",
    "get_object_stream",
    "put_object",
    "put_object_stream",
    "_put_bytes",
    "_put_stream",
    "iter_objects",
    "list_objects",
    "exists",
)


class Readable(Protocol):
    """A source to upload: anything with ``read(n)`` (a file, ``BytesIO``, a socket's reader, a pipe)."""

    def read(self, size: int = ..., /) -> bytes: ...


class IObjectOperations(ABC):
    """What applications call, declared once: the service implements it, and so does every adapter.

    On an adapter the calls that are not primitives (see :class:`IObjectStorageAdapter`) are derived from the
    primitives in one place, so on a stack of layers every call passes through every layer.
    """

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
        self._put_bytes(prefix, key, content, WriteOptions(content_type, metadata or {}, if_none_match, if_match))

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

    def put_object_stream(
        self,
        prefix: str,
        key: str,
        stream: Readable,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        if_none_match: str | None = None,
        if_match: str | None = None,
    ) -> ObjectInfo:
        """Write an object from a readable binary stream in bounded memory; return its new metadata.

        The stream only needs ``read(n)``. Conditions as for :meth:`put_object`.
        """
        return self._put_stream(
            prefix, key, stream, WriteOptions(content_type, metadata or {}, if_none_match, if_match)
        )

    @abstractmethod
    def _put_bytes(self, prefix: str, key: str, content: bytes | bytearray | memoryview, options: WriteOptions) -> None:
        """``put_object`` with its keyword arguments gathered into one options value."""

    @abstractmethod
    def _put_stream(self, prefix: str, key: str, stream: Readable, options: WriteOptions) -> ObjectInfo:
        """``put_object_stream`` with its keyword arguments gathered into one options value."""

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
    """The port every store implements: the primitives, with the rest derived from them once.

    Adapters receive prefixes already normalized by the service (no surrounding slashes) and build their
    store-side key with :func:`objstore.domain.keys.join_key`, which validates again so an adapter used on its
    own is just as safe. They raise only :class:`~objstore.domain.errors.ObjectStorageError` subclasses,
    translated from the provider's errors at their boundary, and never retry: retries are the retry layer's.

    Primitives to implement: ``capabilities``, ``head_object``, ``open_object``, ``write_object``,
    ``delete_object`` and ``scan_objects``. ``copy_object``, ``delete_objects`` and ``presign_url`` have a
    portable default; override them to do them natively. The derived calls (:data:`CONVENIENCES`) cannot be
    overridden (defining one is a ``TypeError`` when the class is made). ``make_bucket`` and ``remove_bucket``
    act on the store's bucket itself, not on objects: they raise ``NotSupported`` unless a store with buckets
    overrides them (and sets ``capabilities.buckets``).
    """

    name: str = "adapter"
    #: Derived calls a subclass may define itself (only :class:`SeedAdapter`'s four seed calls).
    _own_conveniences: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        redefined = sorted(name for name in CONVENIENCES if name in vars(cls) and name not in cls._own_conveniences)
        if redefined and cls.__module__ != __name__:
            raise TypeError(
                f"{cls.__name__} redefines {', '.join(redefined)}: derived calls are computed once from the "
                "primitives (implement open_object, write_object, scan_objects or head_object instead)"
            )

    # --- the primitives -------------------------------------------------------------------------------------

    @abstractmethod
    def open_object(self, prefix: str, key: str, options: ReadOptions) -> AbstractContextManager[OpenedObject]:
        """Open an object (or a byte range of it) for reading in bounded memory.

        The context gives the version being read (its ``info``: key, whole size and etag at least) and the
        stream of the requested bytes.

        Raises:
            ObjectNotFound: There is no such object (raised on entering the context).
        """

    @abstractmethod
    def write_object(self, prefix: str, key: str, stream: Readable, options: WriteOptions) -> ObjectInfo:
        """Write an object from a readable binary stream in bounded memory, atomically; return its new metadata.

        ``options.content_type`` is what to store (the service has already guessed one when none was given).

        Raises:
            ObjectAlreadyExists: ``if_none_match="*"`` and the object exists.
            PreconditionFailed: ``if_match`` did not match, or the object is gone.
        """

    @abstractmethod
    def scan_objects(self, prefix: str, options: ListOptions) -> Iterator[ObjectInfo]:
        """Stream the objects under a folder, in ascending key order (by code point), page by page."""

    # --- the derived calls: written once, from the primitives of the object they are called on ---------------

    def get_object(self, prefix: str, key: str) -> bytes:
        return derived.read_all(self, prefix, key)

    def get_object_stream(
        self, prefix: str, key: str, start: int | None = None, end: int | None = None
    ) -> AbstractContextManager[BinaryIO]:
        return derived.open_stream(self, prefix, key, ReadOptions(start, end))

    def _put_bytes(self, prefix: str, key: str, content: bytes | bytearray | memoryview, options: WriteOptions) -> None:
        derived.write_bytes(self, prefix, key, content, options)

    def _put_stream(self, prefix: str, key: str, stream: Readable, options: WriteOptions) -> ObjectInfo:
        return self.write_object(prefix, key, stream, options)

    def iter_objects(
        self, prefix: str = "", recursive: bool = True, *, page_size: int | None = None
    ) -> Iterator[ObjectInfo]:
        return self.scan_objects(prefix, ListOptions(recursive, page_size))

    def list_objects(self, prefix: str) -> list[str]:
        return derived.children(self, prefix)

    def exists(self, prefix: str, key: str) -> bool:
        return derived.exists(self, prefix, key)

    # --- native extras: a portable default, overridden to do them natively ----------------------------------

    def copy_object(self, src_prefix: str, src_key: str, dst_prefix: str, dst_key: str) -> None:
        source = self.head_object(src_prefix, src_key)
        if join_key(src_prefix, src_key) == join_key(dst_prefix, dst_key):
            return
        with self.open_object(src_prefix, src_key, ReadOptions()) as opened:
            options = WriteOptions(source.content_type, source.metadata)
            self.write_object(dst_prefix, dst_key, opened.stream, options)

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

    def presign_url(self, prefix: str, key: str, *, expires_in: int = 3600, method: str = "GET") -> str:
        raise NotSupported(f"the {self.name} store cannot make shareable links", key=join_key(prefix, key))

    # --- the store's container: not primitives (layers need not carry them; the service calls the store itself) --

    def make_bucket(self) -> None:
        """Create the store's bucket (S3, GCS), container (Azure) or root folder (filesystem), empty.

        Only the bucket is made: a base prefix is a folder inside it, which exists while objects are under it.

        Raises:
            ObjectAlreadyExists: The bucket exists already.
            NotSupported: The store has no buckets (``capabilities.buckets`` is false).
        """
        raise NotSupported(f"the {self.name} store has no buckets")

    def remove_bucket(self) -> None:
        """Remove the store's bucket (container, root folder), which must hold no objects: the whole bucket, not
        just the base prefix.

        Raises:
            PreconditionFailed: The bucket is not empty (nothing is deleted).
            ObjectNotFound: There is no such bucket.
            NotSupported: The store has no buckets (``capabilities.buckets`` is false).
        """
        raise NotSupported(f"the {self.name} store has no buckets")

    # --- for adapters -----------------------------------------------------------------------------------------

    def _check_conditions_early(self, prefix: str, key: str, options: WriteOptions) -> None:
        """Fail before a long multi-request upload when its condition already fails.

        For uploads whose condition the store checks only at the end (multipart, resumable, block lists): the
        store still enforces it then, but a doomed multi-gigabyte upload should not run first.
        """
        if not options.conditional:
            return
        full = join_key(prefix, key)
        try:
            current = self.head_object(prefix, key)
        except ObjectNotFound:
            if options.if_match:
                raise PreconditionFailed("the object is gone", key=full) from None
            return
        if options.if_none_match:
            raise ObjectAlreadyExists("the object already exists", key=full)
        if current.etag != options.if_match:
            raise PreconditionFailed("the object changed (etag differs)", key=full)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    @property
    def location(self) -> str:
        """Where the store is, as its user would write it (``s3://bucket/prefix``), with no credential in it.

        For messages and reports only: sync state is keyed on the store's ``repr``, not on this. Adapters override
        it; the default is the ``repr``.
        """
        return repr(self)


class _Derived:
    """The derived calls, each written once and used by the adapters' derived methods and by the service."""

    @staticmethod
    def read_all(store: IObjectStorageAdapter, prefix: str, key: str) -> bytes:
        with store.open_object(prefix, key, ReadOptions()) as opened:
            return opened.stream.read()

    @staticmethod
    @contextmanager
    def open_stream(
        store: IObjectStorageAdapter, prefix: str, key: str, options: ReadOptions
    ) -> Generator[BinaryIO, None, None]:
        with store.open_object(prefix, key, options) as opened:
            yield opened.stream

    @staticmethod
    def write_bytes(
        store: IObjectStorageAdapter,
        prefix: str,
        key: str,
        content: bytes | bytearray | memoryview,
        options: WriteOptions,
    ) -> ObjectInfo:
        with BufferReader(content) as reader:
            return store.write_object(prefix, key, reader, options)

    @staticmethod
    def children(store: IObjectStorageAdapter, prefix: str) -> list[str]:
        return [info.key for info in store.scan_objects(prefix, ListOptions(recursive=False))]

    @staticmethod
    def exists(store: IObjectStorageAdapter, prefix: str, key: str) -> bool:
        try:
            store.head_object(prefix, key)
        except ObjectNotFound:
            return False
        return True


derived = _Derived()


class SeedAdapter(IObjectStorageAdapter):
    """The base of a store written against the four calls of the original design; it derives the rest.

    Implement ``get_object``, ``put_object``, ``delete_object`` and ``list_objects`` (a folder's immediate
    children: keys, and sub-prefixes ending in ``/``). Heads, ranges and listings are derived by reading whole
    objects and walking folders, so they cost what the four calls cost (a listing reads each object it lists, to
    give its size and etag); the capabilities say so (``whole_object_transfers``, no conditional puts, no user
    metadata), and the service and the conformance suite hold the store to just that. The four calls know no
    times: an object's ``last_modified`` is the time this adapter wrote the content it now holds, and ``None``
    for content written elsewhere (another process, or before this adapter was made).
    """

    _own_conveniences = frozenset({"get_object", "put_object", "list_objects"})  # with delete_object, a primitive

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(conditional_put=False, user_metadata=False, whole_object_transfers=True)

    @abstractmethod
    def get_object(self, prefix: str, key: str) -> bytes:
        """The whole content of an object; ``ObjectNotFound`` if there is none."""

    @abstractmethod
    def put_object(self, prefix: str, key: str, content: bytes) -> None:  # type: ignore[override]
        """Write an object from bytes, replacing any previous version."""

    @abstractmethod
    def list_objects(self, prefix: str) -> list[str]:
        """Immediate children of a folder: keys relative to the root, sub-prefixes ending in ``/``."""

    def head_object(self, prefix: str, key: str) -> ObjectInfo:
        return self._describe(join_key(prefix, key), self.get_object(prefix, key))

    @contextmanager
    def open_object(self, prefix: str, key: str, options: ReadOptions) -> Generator[OpenedObject, None, None]:
        data = self.get_object(prefix, key)
        first, stop = resolve_range(options.start, options.end, len(data))
        with BufferReader(data, first, stop) as reader:
            yield OpenedObject(self._describe(join_key(prefix, key), data), reader)  # type: ignore[arg-type]

    def write_object(self, prefix: str, key: str, stream: Readable, options: WriteOptions) -> ObjectInfo:

        full = join_key(prefix, key)
        if options.conditional:
            raise NotSupported(f"the {self.name} store has no conditional writes", key=full)
        # A BytesIO grows in place and hands over its buffer as bytes without a copy: the content is held once.
        buffer = io.BytesIO()
        while chunk := stream.read(1024 * 1024):
            buffer.write(chunk)
        data = buffer.getvalue()
        del buffer
        self.put_object(prefix, key, data)
        info = ObjectInfo(
            key=full,
            size=len(data),
            etag=hashlib.md5(data, usedforsecurity=False).hexdigest(),
            last_modified=datetime.now(timezone.utc),
        )
        self._written()[full] = info
        return info

    def scan_objects(self, prefix: str, options: ListOptions) -> Iterator[ObjectInfo]:
        for entry in sorted(self.list_objects(prefix)):
            if entry.endswith("/"):
                if options.recursive:
                    yield from self.scan_objects(entry.rstrip("/"), options)
                else:
                    yield ObjectInfo(key=entry, is_prefix=True)
                continue
            try:
                data = self.get_object("", entry)
            except ObjectNotFound:
                continue  # deleted since the folder was listed
            yield self._describe(entry, data)

    def _written(self) -> dict[str, ObjectInfo]:
        """What this adapter wrote, by key (made on first use: a seed store's ``__init__`` need not call super)."""
        written: dict[str, ObjectInfo] | None = self.__dict__.get("_seed_written")
        if written is None:
            written = self.__dict__.setdefault("_seed_written", {})
        return written

    def _describe(self, full: str, data: bytes) -> ObjectInfo:
        etag = hashlib.md5(data, usedforsecurity=False).hexdigest()
        known = self._written().get(full)
        if known is not None and known.etag == etag and known.size == len(data):
            return known  # the content this adapter wrote: its time is known
        return ObjectInfo(key=full, size=len(data), etag=etag, last_modified=None)


class ForwardingAdapter(IObjectStorageAdapter):
    """An adapter that forwards every primitive to another one: the base of wrappers (layers, composed stores).

    Only primitives are forwarded; the derived calls run on the wrapper itself, so they pass through it.
    """

    def __init__(self, inner: IObjectStorageAdapter) -> None:
        self.inner = inner

    @property
    def capabilities(self) -> Capabilities:
        return self.inner.capabilities

    def head_object(self, prefix: str, key: str) -> ObjectInfo:
        return self.inner.head_object(prefix, key)

    def open_object(self, prefix: str, key: str, options: ReadOptions) -> AbstractContextManager[OpenedObject]:
        return self.inner.open_object(prefix, key, options)

    def write_object(self, prefix: str, key: str, stream: Readable, options: WriteOptions) -> ObjectInfo:
        return self.inner.write_object(prefix, key, stream, options)

    def delete_object(self, prefix: str, key: str) -> None:
        self.inner.delete_object(prefix, key)

    def scan_objects(self, prefix: str, options: ListOptions) -> Iterator[ObjectInfo]:
        return self.inner.scan_objects(prefix, options)

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

    @property
    def location(self) -> str:
        """A wrapper is where the store it wraps is (a composed store, such as Naas, names its own)."""
        return self.inner.location


class LayerAdapter(ForwardingAdapter):
    """A wrapper that adds a behaviour (retries, logging ...) to a store without being a store of its own.

    Unlike a composed store (Naas wraps S3 under its own name), a layer is transparent: :func:`unwrap` sees
    through it, and sync state is keyed on the store under it. A layer implements every primitive
    (:data:`PRIMITIVES`) itself, even to pass it on unchanged, so no call slips past it as the port grows.
    """

    def counters(self) -> dict[str, int]:
        """What this layer has counted so far (``{"retries": 3}``); see :func:`layer_counters`."""
        return {}

    def make_bucket(self) -> None:
        """A layer is transparent: the store under it makes its bucket (see :func:`unwrap`)."""
        self.inner.make_bucket()

    def remove_bucket(self) -> None:
        """A layer is transparent: the store under it removes its bucket (see :func:`unwrap`)."""
        self.inner.remove_bucket()


def layer_counters(adapter: IObjectStorageAdapter) -> dict[str, int]:
    """The counters of every layer over a store, summed by name (retries, faults injected ...)."""
    totals: dict[str, int] = {}
    while isinstance(adapter, LayerAdapter):
        for name, value in adapter.counters().items():
            totals[name] = totals.get(name, 0) + value
        adapter = adapter.inner
    return totals


def unwrap(adapter: IObjectStorageAdapter) -> IObjectStorageAdapter:
    """The store under any layers (retry, logging ...): what a layered adapter finally calls."""
    while isinstance(adapter, LayerAdapter):
        adapter = adapter.inner
    return adapter


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
