"""ObjectStorageService: what applications call."""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Generator, Iterable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING, BinaryIO

from objstore.domain.errors import InvalidKey, ObjectStorageError
from objstore.domain.keys import join_key, normalize_prefix, validate_content_type, validate_metadata
from objstore.domain.models import Capabilities, DeleteResult, ListOptions, ObjectInfo, ReadOptions, WriteOptions
from objstore.ports.storage import IObjectStorageAdapter, IObjectStorageDomain, Readable, derived, unwrap

if TYPE_CHECKING:  # the sync application depends on the domain, not the reverse: push and pull import it late
    from typing_extensions import Unpack

    from objstore.syncing.report import Progress, SyncReport
    from objstore.syncing.settings import SyncSettings

__all__ = ["ObjectStorageService"]

DEFAULT_CONTENT_TYPE = "application/octet-stream"


class ObjectStorageService(IObjectStorageDomain):
    """The storage service applications use, over any adapter.

    It validates every key and prefix before the adapter sees it (a rejected key never reaches a store),
    validates metadata and conditions, guesses a content type from the key's extension when none is given, and
    guarantees that every failure is an :class:`ObjectStorageError` carrying the operation, the adapter's name
    and the key.

    Args:
        adapter: The store. Build one with :class:`objstore.ObjectStorageFactory` or directly.
    """

    def __init__(self, adapter: IObjectStorageAdapter) -> None:
        if not isinstance(adapter, IObjectStorageAdapter):
            raise TypeError(f"adapter must implement IObjectStorageAdapter, not {type(adapter).__name__}")
        self.adapter = adapter

    def __repr__(self) -> str:
        return f"ObjectStorageService({self.adapter!r})"

    @property
    def store_identity(self) -> str:
        """Names the store itself, whatever layers wrap it: sync state is keyed on it."""
        return repr(unwrap(self.adapter))

    @property
    def location(self) -> str:
        """Where the store is, as its user would write it (``s3://bucket/prefix``), whatever layers wrap it; no
        credential is in it. For messages and reports: sync state is keyed on :attr:`store_identity`."""
        return unwrap(self.adapter).location

    @property
    def capabilities(self) -> Capabilities:
        return self.adapter.capabilities

    # --- the four original calls ----------------------------------------------------------------------------

    def get_object(self, prefix: str, key: str) -> bytes:
        prefix, full = self._locate("get_object", prefix, key)
        with self._guard("get_object", full):
            return derived.read_all(self.adapter, prefix, key)

    def _put_bytes(self, prefix: str, key: str, content: bytes | bytearray | memoryview, options: WriteOptions) -> None:
        if not isinstance(content, (bytes, bytearray, memoryview)):
            raise TypeError(f"content must be bytes, bytearray or memoryview, not {type(content).__name__}")
        prefix, full = self._locate("put_object", prefix, key)
        options = self._completed(full, options)
        with self._guard("put_object", full):
            derived.write_bytes(self.adapter, prefix, key, content, options)

    def delete_object(self, prefix: str, key: str) -> None:
        prefix, full = self._locate("delete_object", prefix, key)
        with self._guard("delete_object", full):
            self.adapter.delete_object(prefix, key)

    def list_objects(self, prefix: str) -> list[str]:
        prefix = normalize_prefix(prefix)
        with self._guard("list_objects", prefix):
            return derived.children(self.adapter, prefix)

    # --- the rest of the port -------------------------------------------------------------------------------

    def head_object(self, prefix: str, key: str) -> ObjectInfo:
        prefix, full = self._locate("head_object", prefix, key)
        with self._guard("head_object", full):
            return self.adapter.head_object(prefix, key)

    def exists(self, prefix: str, key: str) -> bool:
        prefix, full = self._locate("exists", prefix, key)
        with self._guard("exists", full):
            return derived.exists(self.adapter, prefix, key)

    def iter_objects(
        self,
        prefix: str = "",
        recursive: bool = True,
        *,
        page_size: int | None = None,
        include_unusable: bool = False,
    ) -> Iterator[ObjectInfo]:
        """Objects under a prefix, in key order, streamed page by page.

        ``include_unusable``: also list keys the store holds that objstore cannot address (written by other tools:
        ``a/../b``, ``a//b``, control characters), each with ``unusable`` saying why, so they can be reported.
        """
        prefix = normalize_prefix(prefix)
        return self._iter_guarded(prefix, ListOptions(recursive, page_size), include_unusable)

    def _iter_guarded(self, prefix: str, options: ListOptions, include_unusable: bool) -> Iterator[ObjectInfo]:
        with self._guard("iter_objects", prefix):
            for info in self.adapter.scan_objects(prefix, options):
                if info.unusable is None or include_unusable:
                    yield info

    def get_object_stream(
        self, prefix: str, key: str, start: int | None = None, end: int | None = None
    ) -> AbstractContextManager[BinaryIO]:
        options = ReadOptions(start, end)
        prefix, full = self._locate("get_object_stream", prefix, key)
        return self._open_guarded(prefix, key, full, options)

    @contextmanager
    def _open_guarded(self, prefix: str, key: str, full: str, options: ReadOptions) -> Generator[BinaryIO, None, None]:
        with ExitStack() as stack:
            with self._guard("get_object_stream", full):
                opened = stack.enter_context(self.adapter.open_object(prefix, key, options))
            yield opened.stream

    def _put_stream(self, prefix: str, key: str, stream: Readable, options: WriteOptions) -> ObjectInfo:
        if not callable(getattr(stream, "read", None)):
            raise TypeError(f"stream must have a read(n) method; got {type(stream).__name__}")
        prefix, full = self._locate("put_object_stream", prefix, key)
        options = self._completed(full, options)
        with self._guard("put_object_stream", full):
            return self.adapter.write_object(prefix, key, stream, options)

    def copy_object(self, src_prefix: str, src_key: str, dst_prefix: str, dst_key: str) -> None:
        src_prefix, src_full = self._locate("copy_object", src_prefix, src_key)
        dst_prefix, _ = self._locate("copy_object", dst_prefix, dst_key)
        with self._guard("copy_object", src_full):
            self.adapter.copy_object(src_prefix, src_key, dst_prefix, dst_key)

    def delete_objects(self, prefix: str, keys: Iterable[str]) -> DeleteResult:
        if isinstance(keys, (str, bytes)):
            raise TypeError("keys must be an iterable of keys, not a single string")
        prefix = normalize_prefix(prefix)
        rejected: dict[str, ObjectStorageError] = {}

        def valid_keys() -> Iterator[str]:
            # Streamed, so a huge batch is never held whole here; rejected keys are reported, not raised.
            for key in keys:
                try:
                    join_key(prefix, key)
                except ObjectStorageError as exc:
                    rejected[key if isinstance(key, str) else repr(key)] = exc.with_context(
                        operation="delete_objects", adapter=self.adapter.name
                    )
                else:
                    yield key

        with self._guard("delete_objects", prefix):
            result = self.adapter.delete_objects(prefix, valid_keys())
        if not rejected:
            return result
        return DeleteResult(result.deleted, {**result.errors, **rejected})

    def presign_url(self, prefix: str, key: str, *, expires_in: int = 3600, method: str = "GET") -> str:
        if not isinstance(expires_in, int) or isinstance(expires_in, bool) or not 1 <= expires_in <= 7 * 24 * 3600:
            raise ValueError("expires_in must be whole seconds from 1 to 604800 (7 days)")
        if method.upper() not in ("GET", "PUT"):
            raise ValueError("method must be GET or PUT")
        prefix, full = self._locate("presign_url", prefix, key)
        with self._guard("presign_url", full):
            return self.adapter.presign_url(prefix, key, expires_in=expires_in, method=method.upper())

    def close(self) -> None:
        self.adapter.close()

    # --- the bucket -------------------------------------------------------------------------------------------
    # Sent to the store under the layers, once: a retried create would find the bucket its first try made.

    def make_bucket(self) -> None:
        """Create the store's bucket (S3, GCS), container (Azure) or root folder (filesystem), empty.

        Raises:
            ObjectAlreadyExists: The bucket exists already (on S3 and GCS, also when another account has it).
            NotSupported: The store has no buckets (``capabilities.buckets`` is false).
        """
        with self._guard("make_bucket", None):
            unwrap(self.adapter).make_bucket()

    def remove_bucket(self) -> None:
        """Remove the store's bucket (container, root folder): the whole bucket, which must hold no objects.

        Raises:
            PreconditionFailed: The bucket is not empty; nothing was deleted.
            ObjectNotFound: There is no such bucket.
            NotSupported: The store has no buckets (``capabilities.buckets`` is false).
        """
        with self._guard("remove_bucket", None):
            unwrap(self.adapter).remove_bucket()

    # --- sync ---------------------------------------------------------------------------------------------
    # Thin entry points into the sync application (objstore.syncing), imported when called: the domain does not
    # depend on it.

    def push(
        self,
        local_dir: str | os.PathLike[str],
        prefix: str = "",
        *,
        delete: bool = True,
        progress: Progress | None = None,
        state_dir: str | os.PathLike[str] | None = None,
        **settings: Unpack[SyncSettings],
    ) -> SyncReport:
        """Mirror a local folder into a folder of this store (extra objects deleted, as ``aws s3 sync --delete``).

        Remote changes made since the last sync are kept and reported as conflicts unless ``force``. See
        docs/sync.md for the whole semantics.

        Args:
            delete: Delete objects the folder does not have (default: yes, a mirror).
            progress: Called with each event (see :data:`objstore.syncing.report.Progress`).
            state_dir: Where sync states are kept, instead of the default state directory.
            **settings: :class:`objstore.syncing.settings.SyncSettings` (``force``, ``dry_run``, ``exclude``,
                ``size_only``, ``backup_dir`` (a prefix of this store) ...); any other keyword is a ``TypeError``.
        """
        from objstore.syncing.api import sync_folder
        from objstore.syncing.settings import resolve_settings

        options, filters = resolve_settings(settings, delete=delete)
        return sync_folder(self, "push", local_dir, prefix, options, filters, progress, state_dir)

    def pull(
        self,
        prefix: str,
        local_dir: str | os.PathLike[str],
        *,
        delete: bool = False,
        progress: Progress | None = None,
        state_dir: str | os.PathLike[str] | None = None,
        **settings: Unpack[SyncSettings],
    ) -> SyncReport:
        """Bring a folder of this store into a local folder (local extras kept unless ``delete``).

        Local changes made since the last sync are kept and reported as conflicts unless ``force``.

        Args:
            delete: Delete local files the store does not have (default: no).
            progress: Called with each event (see :data:`objstore.syncing.report.Progress`).
            state_dir: Where sync states are kept, instead of the default state directory.
            **settings: :class:`objstore.syncing.settings.SyncSettings`, as :meth:`push` takes them;
                ``backup_dir`` is a local folder outside ``local_dir``.
        """
        from objstore.syncing.api import sync_folder
        from objstore.syncing.settings import resolve_settings

        options, filters = resolve_settings(settings, delete=delete)
        return sync_folder(self, "pull", local_dir, prefix, options, filters, progress, state_dir)

    # --- helpers --------------------------------------------------------------------------------------------

    def _locate(self, operation: str, prefix: str, key: str) -> tuple[str, str]:
        """Normalize the prefix and validate the key; a rejected key never reaches the adapter."""
        try:
            prefix = normalize_prefix(prefix)
            full = join_key(prefix, key)
            if "\\" in full and not self.adapter.capabilities.backslash_in_keys:
                raise InvalidKey(
                    f"the {self.adapter.name} store turns a backslash into '/'; a key with one would be stored under "
                    "another name",
                    key=full,
                )
            return prefix, full
        except ObjectStorageError as exc:
            raise exc.with_context(operation=operation, adapter=self.adapter.name) from None

    def _completed(self, full_key: str, options: WriteOptions) -> WriteOptions:
        """The caller's options, validated, with a content type guessed from the key when none was given."""
        return replace(
            options,
            content_type=validate_content_type(options.content_type) or self._guess_type(full_key),
            metadata=validate_metadata(options.metadata),
        )

    @cached_property
    def _mime(self) -> mimetypes.MimeTypes:
        # Python's own table only, so the guess is the same on every machine.
        return mimetypes.MimeTypes()

    def _guess_type(self, key: str) -> str:
        return self._mime.guess_type(key, strict=False)[0] or DEFAULT_CONTENT_TYPE

    @contextmanager
    def _guard(self, operation: str, key: str | None) -> Iterator[None]:
        """Give every failure the operation, adapter and key, and keep it inside the error hierarchy."""
        try:
            yield
        except ObjectStorageError as exc:
            exc.with_context(operation=operation, adapter=self.adapter.name, key=key)
            raise
        except Exception as exc:
            raise ObjectStorageError(
                f"unexpected {type(exc).__name__} from the adapter (see the cause)",
                operation=operation,
                adapter=self.adapter.name,
                key=key,
            ) from exc
