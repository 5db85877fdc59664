"""Value objects shared by the port, the adapters and the service."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import BinaryIO

from objstore.domain.errors import ObjectStorageError

__all__ = [
    "Capabilities",
    "DeleteResult",
    "ListOptions",
    "ObjectInfo",
    "OpenedObject",
    "ReadOptions",
    "WriteOptions",
]

_EMPTY: Mapping[str, str] = MappingProxyType({})
_NO_ERRORS: Mapping[str, ObjectStorageError] = MappingProxyType({})


def _empty_metadata() -> Mapping[str, str]:
    return _EMPTY


def _no_errors() -> Mapping[str, ObjectStorageError]:
    return _NO_ERRORS


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What a store knows about one object (or, in a non-recursive listing, one sub-prefix).

    Attributes:
        key: The key relative to the store's root, prefix included (``"docs/a.txt"``). Sub-prefixes in a
            non-recursive listing end in ``/`` and have ``is_prefix`` set.
        size: Size in bytes.
        etag: An opaque version tag, unquoted. It changes whenever the object is written; pass it to
            ``put_object(..., if_match=etag)`` for an optimistic-concurrency update.
        last_modified: When the object was last written (timezone-aware, UTC), where known.
        content_type: The MIME type, where known. Listings may leave it unset; ``head_object`` fills it.
        metadata: User metadata (lower-case keys). Listings may leave it empty; ``head_object`` fills it.
        checksum_sha256: Hex SHA-256 of the content, where the store keeps one.
        is_prefix: True for a sub-prefix entry of a non-recursive listing.
        unusable: Why the key cannot be addressed through objstore (``a/../b``, ``a//b``, control characters),
            for keys a store holds that other tools wrote. Such entries are listed only when asked for
            (``iter_objects(..., include_unusable=True)``), so they can be reported rather than lost silently.
    """

    key: str
    size: int = 0
    etag: str | None = None
    last_modified: datetime | None = None
    content_type: str | None = None
    metadata: Mapping[str, str] = field(default_factory=_empty_metadata, hash=False)
    checksum_sha256: str | None = None
    is_prefix: bool = False
    unusable: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.metadata, MappingProxyType):
            object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    @property
    def name(self) -> str:
        """The last segment of the key (without the trailing ``/`` of a prefix)."""
        return self.key.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a store supports, so callers and the conformance suite know what to expect.

    Attributes:
        ranged_reads: Reads of a byte range without transferring the whole object.
        conditional_put: ``if_none_match="*"`` and ``if_match=etag`` are enforced atomically by the store.
        server_side_copy: ``copy_object`` runs inside the store, without moving the bytes through this process.
        native_batch_delete: Many keys are deleted per request.
        presigned_urls: ``share`` can make a time-limited URL.
        user_metadata: User metadata and content type are kept.
        checksum_sha256: ``head_object`` returns a SHA-256 of the content.
        key_and_prefix_coexist: An object ``a`` and an object ``a/b`` can both exist (not on a filesystem).
        retains_content_in_memory: The store keeps objects in this process's memory (the in-memory store).
        max_segment_bytes: Longest single path segment the store accepts, if it is shorter than a whole key.
        max_key_bytes: Longest key (relative to the store's root, UTF-8) the store accepts: 1024 less what the
            store's own base prefix takes.
        backslash_in_keys: A backslash in a key is kept as it is. Where it is not (Azure turns it into ``/``), keys
            with one are refused with InvalidKey instead of being written under another name.
        whole_object_transfers: Reads and writes move whole objects through memory: the store was written against
            the four calls of the original design (see :class:`objstore.ports.storage.SeedAdapter`).
        buckets: The store has a bucket (container, root folder) of its own that ``make_bucket`` creates and
            ``remove_bucket`` removes; elsewhere both raise ``NotSupported``.
        md5_etags: An etag of 32 hex digits is the MD5 of the object's bytes (S3's single-part objects; a
            multipart etag has a ``-N`` suffix). A first sync compares it with a local file's MD5 to adopt objects
            other tools wrote. An etag that looks so but is not (SSE-KMS) only costs a transfer, never a skip.
    """

    ranged_reads: bool = True
    conditional_put: bool = True
    server_side_copy: bool = False
    native_batch_delete: bool = False
    presigned_urls: bool = False
    user_metadata: bool = True
    checksum_sha256: bool = False
    key_and_prefix_coexist: bool = True
    retains_content_in_memory: bool = False
    max_segment_bytes: int | None = None
    max_key_bytes: int = 1024
    backslash_in_keys: bool = True
    whole_object_transfers: bool = False
    buckets: bool = False
    md5_etags: bool = False


@dataclass(frozen=True, slots=True)
class DeleteResult:
    """Outcome of a batch delete: nothing is swallowed.

    Attributes:
        deleted: Keys (as given) that are gone now, including those that were already absent.
        errors: Keys (as given) that could not be deleted, with the typed error for each.
    """

    deleted: tuple[str, ...] = ()
    errors: Mapping[str, ObjectStorageError] = field(default_factory=_no_errors, hash=False)

    @property
    def ok(self) -> bool:
        """True when every key was deleted."""
        return not self.errors


@dataclass(frozen=True, slots=True)
class WriteOptions:
    """How to write an object: one value that travels unchanged from the service through every layer to the store.

    Attributes:
        content_type: MIME type. The service fills it from the key's extension when the caller gives none.
        metadata: User metadata (lower-case identifier keys, printable ASCII values).
        if_none_match: ``"*"`` makes the write create-only (``ObjectAlreadyExists`` if the object exists).
        if_match: Write only if the current object's etag is this one (``PreconditionFailed`` otherwise).
    """

    content_type: str | None = None
    metadata: Mapping[str, str] = field(default_factory=_empty_metadata, hash=False)
    if_none_match: str | None = None
    if_match: str | None = None

    def __post_init__(self) -> None:
        if self.if_none_match is not None and self.if_none_match != "*":
            raise ValueError('if_none_match accepts only "*" (create-only)')
        if self.if_match is not None:
            if not isinstance(self.if_match, str) or not self.if_match.strip('"'):
                raise ValueError("if_match must be a non-empty etag string")
            object.__setattr__(self, "if_match", self.if_match.strip('"'))
        if self.if_none_match is not None and self.if_match is not None:
            raise ValueError("if_none_match and if_match cannot be combined")
        if isinstance(self.metadata, Mapping) and not isinstance(self.metadata, MappingProxyType):
            object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    @property
    def conditional(self) -> bool:
        """Whether the write carries a condition (create-only or if-match)."""
        return self.if_none_match is not None or self.if_match is not None


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """Which bytes of an object to read: a Python-slice range (``start`` inclusive, ``end`` exclusive).

    Negative values count from the end and out-of-range values clamp, as ``content[start:end]`` would.
    """

    start: int | None = None
    end: int | None = None

    def __post_init__(self) -> None:
        for name, value in (("start", self.start), ("end", self.end)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise TypeError(f"{name} must be an int or None, not {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class ListOptions:
    """How to list a folder.

    Attributes:
        recursive: Every object below the folder (default), or only its immediate children, with sub-prefixes as
            entries whose ``is_prefix`` is set.
        page_size: How many entries to ask the store for per request (a hint).
    """

    recursive: bool = True
    page_size: int | None = None

    def __post_init__(self) -> None:
        if self.page_size is not None and (
            not isinstance(self.page_size, int) or isinstance(self.page_size, bool) or self.page_size < 1
        ):
            raise ValueError(f"page_size must be a positive int, not {self.page_size!r}")


@dataclass(frozen=True, slots=True)
class OpenedObject:
    """An object opened for reading: the version being read and the stream of its (ranged) content.

    Attributes:
        info: The object as the store described it with this read: its key, whole size and etag always; content
            type, metadata and modification time where the read's answer carries them.
        stream: The content (only the requested range), with ``read(n)`` and, where it can, ``readinto``.
    """

    info: ObjectInfo
    stream: BinaryIO
