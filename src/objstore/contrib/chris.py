"""ChRIS's ``StorageManager`` on any objstore store.

ChRIS (FNNDSC/ChRIS_ultron_backEnd) reaches its file storage through a ``StorageManager`` chosen by
``core.storage.helpers.connect_storage(settings)``. :class:`ObjstoreManager` implements that interface over an
:class:`~objstore.ObjectStorageService`, so ChRIS runs on the filesystem, S3, GCS, Azure or Altastata alike::

    from objstore.contrib.chris import ObjstoreManager

    manager = ObjstoreManager(settings.S3_BUCKET_NAME, settings.S3_CONNECTION_PARAMS)  # as connect_storage does
    manager = ObjstoreManager.from_url("gs://chris-bucket")                              # any store URL
    manager = ObjstoreManager(ObjectStorageFactory.from_url("file:///data"))           # any service

A ChRIS path ``feeds/1/data.json`` is the object ``<root>/feeds/1/data.json`` (the root is the store's bucket and
base prefix), where ChRIS's own S3 and filesystem managers put it, so data they wrote is found. Paths are read as
folders, with or without a trailing slash (``"a/b"`` and ``"a/b/"`` name the same path), as ChRIS's
filesystem manager reads them. The module imports no SDK: the store's own extra provides it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from typing import Any
from urllib.parse import quote

from objstore.domain.errors import (
    ConfigurationError,
    NotSupported,
    ObjectAlreadyExists,
    ObjectNotFound,
    ObjectStorageError,
)
from objstore.domain.service import ObjectStorageService
from objstore.factory import ObjectStorageFactory

__all__ = ["BulkOperationError", "ObjstoreManager"]

# Keys of ChRIS's S3_CONNECTION_PARAMS (config/settings/*.py) and the S3 store options they mean.
_CHRIS_S3_PARAMS = {"endpoint_url": "endpoint_url", "access_key": "access_key_id", "secret_key": "secret_access_key"}
# Keys that make an ALTAS_CONNECTION_PARAMS: an account directory, or the account's properties and key.
_ALTASTATA_MARKERS = ("account_dir_path", "user_properties", "private_key_encrypted")


class BulkOperationError(ObjectStorageError):
    """A ``copy_path``, ``move_path``, ``delete_path`` or ``sanitize_obj_names`` that did all it could, but not all.

    Raised after every object that could be handled was handled: nothing is rolled back, and a source whose copy
    failed is never deleted. One error of objstore's hierarchy, rather than an exception group, because ChRIS
    catches single exceptions (and Python 3.10 has no ``ExceptionGroup``), and because what a caller needs is
    the path of each failure, to retry or report it.

    Attributes:
        failed: Each object path that failed (a source path, or the path being deleted), with its typed error.
        completed: What was done: source path -> new path (``""`` for a path that was deleted).
    """

    def __init__(self, operation: str, failed: Mapping[str, ObjectStorageError], completed: Mapping[str, str]) -> None:
        self.failed = dict(failed)
        self.completed = dict(completed)
        shown = ", ".join(f"{path!r} ({type(error).__name__})" for path, error in list(self.failed.items())[:5])
        more = f" and {len(self.failed) - 5} more" if len(self.failed) > 5 else ""
        super().__init__(
            f"{operation}: {len(self.failed)} object(s) failed, {len(self.completed)} done: {shown}{more}",
            operation=operation,
            retryable=all(error.retryable for error in self.failed.values()),
        )
        self._bulk_operation = operation

    def __reduce__(self) -> tuple[Any, ...]:
        # The base rebuilds errors from (message, context); this one is rebuilt from what it reports.
        return (type(self), (self._bulk_operation, self.failed, self.completed))


def _clean(path: str) -> str:
    """A ChRIS path as a key relative to the root: slashes around it do not count (``"a/b/"`` is ``"a/b"``)."""
    if not isinstance(path, str):
        raise TypeError(f"paths are str, not {type(path).__name__}")
    return path.strip("/")


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder + "/")


def _sanitized(base: str, key: str) -> str | None:
    """Where sanitize_obj_names puts ``key`` (under ``base``): commas dropped from every name below the base,
    names left blank dropped (their contents move up); None when the file's own name is only commas and blanks."""
    parts = key[len(base) + 1 :].split("/") if base else key.split("/")
    if not parts[-1].replace(",", "").strip():
        return None
    kept = [part.replace(",", "") for part in parts if part.replace(",", "").strip()]
    return "/".join([base, *kept]) if base else "/".join(kept)


class ObjstoreManager:
    """ChRIS's ``StorageManager`` interface over any objstore store.

    Args:
        service: The store, as an :class:`~objstore.ObjectStorageService`; or, as ``connect_storage`` calls
            ChRIS's own managers, a container name (the S3 bucket; for Altastata only a name, as ChRIS's
            ``AltaStataManager`` keeps its files at the account's root).
        conn_params: With a container name: ChRIS's connection parameters. ``S3_CONNECTION_PARAMS``
            (``endpoint_url``, ``access_key``, ``secret_key``, ``region_name``) or ``ALTAS_CONNECTION_PARAMS``
            (``account_dir_path`` or ``user_properties`` with ``private_key_encrypted``; ``password``, ``port``).
            Any other key is an objstore store option (``hierarchical``, ``retry``, ``mode`` ...).
        workers: Copies run at once in ``copy_path``, ``move_path`` and ``sanitize_obj_names``.

    Raises:
        ConfigurationError: Parameters of a storage objstore has no store for (Swift), or unknown options.
    """

    def __init__(
        self,
        service: ObjectStorageService | str,
        conn_params: Mapping[str, Any] | None = None,
        *,
        workers: int = 8,
    ) -> None:
        if isinstance(service, ObjectStorageService):
            if conn_params is not None:
                raise TypeError("conn_params are for a container name, not for a ready service")
            self.service = service
        elif isinstance(service, str) and isinstance(conn_params, Mapping):
            self.service = _service_for_chris(service, conn_params)
        else:
            raise TypeError(
                "ObjstoreManager takes a service, or a container name and ChRIS connection parameters "
                "(ObjstoreManager.from_url builds one from a store URL)"
            )
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers

    @classmethod
    def from_url(cls, url: str, **options: Any) -> ObjstoreManager:
        """A manager on the store a URL names (``s3://bucket/prefix``, ``file:///data``, ``altastata://...``);
        ``options`` are the store's options, as :meth:`objstore.ObjectStorageFactory.from_url` takes them."""
        return cls(ObjectStorageFactory.from_url(url, **options))

    def __repr__(self) -> str:
        return f"ObjstoreManager({self.service.location!r})"

    def close(self) -> None:
        self.service.close()

    # --- the StorageManager interface -------------------------------------------------------------------------

    def create_container(self) -> None:
        """Create the bucket (container, root folder) the files go in; nothing happens if it exists, or where
        the store has none to create (Altastata)."""
        with suppress(ObjectAlreadyExists, NotSupported):
            self.service.make_bucket()

    def ls(self, path_prefix: str) -> list[str]:
        """Every file under a path, recursively, sorted; ``[path]`` itself when the path is a file.

        Paths are relative to the root, as ChRIS gives them. ``""`` lists nothing, as ChRIS's S3 and Swift
        managers do: a listing of everything is never made by mistake.
        """
        path = _clean(path_prefix)
        if not path:
            return []
        found = [path] if self.service.exists("", path) else []
        found.extend(info.key for info in self.service.iter_objects(path))
        return found

    def path_exists(self, path: str) -> bool:
        """True if the path is a file, or a folder holding at least one file."""
        path = _clean(path)
        if not path:
            return False
        if self.service.exists("", path):
            return True
        return next(iter(self.service.iter_objects(path, page_size=1)), None) is not None

    def obj_exists(self, file_path: str) -> bool:
        """True if the path is a file."""
        path = _clean(file_path)
        return bool(path) and self.service.exists("", path)

    def upload_obj(self, file_path: str, contents: str | bytes, content_type: str | None = None) -> None:
        """Write a file; text is stored UTF-8. Without a content type, the store guesses one from the name."""
        if isinstance(contents, str):
            contents = contents.encode("utf-8")
        self.service.put_object("", _clean(file_path), contents, content_type=content_type)

    def download_obj(self, file_path: str) -> bytes:
        """A file's content. Raises ObjectNotFound (a ``FileNotFoundError``) if there is none."""
        return self.service.get_object("", _clean(file_path))

    def copy_obj(self, src: str, dst: str) -> None:
        """Copy a file inside the store (server-side where the store can). ObjectNotFound if ``src`` is none."""
        self.service.copy_object("", _clean(src), "", _clean(dst))

    def delete_obj(self, file_path: str) -> None:
        """Delete a file. Raises ObjectNotFound if there is none, as ChRIS's filesystem manager does."""
        self.service.delete_object("", _clean(file_path))

    def copy_path(self, src: str, dst: str) -> None:
        """Copy every file under ``src`` (or the file ``src``) to the same place under ``dst``, overwriting.

        Raises:
            FileNotFoundError: Nothing is at ``src`` (an :class:`ObjectNotFound`).
            ValueError: ``src`` and ``dst`` overlap (one inside the other), or one is empty.
            BulkOperationError: Some copies failed; the others were made.
        """
        plan = self._plan("copy_path", src, dst)
        copied, failed = self._copy_all(plan)
        if failed:
            raise BulkOperationError("copy_path", failed, copied)

    def move_path(self, src: str, dst: str) -> None:
        """Move every file under ``src`` (or the file ``src``) to the same place under ``dst``: server-side
        copies, then one batch delete of the sources that were copied (a source whose copy failed is kept).

        Raises:
            FileNotFoundError: Nothing is at ``src`` (an :class:`ObjectNotFound`).
            ValueError: ``src`` and ``dst`` overlap (one inside the other), or one is empty.
            BulkOperationError: Some files could not be copied or their source not deleted; the rest moved.
        """
        plan = self._plan("move_path", src, dst)
        copied, failed = self._copy_all(plan)
        deleted, delete_failed = self._delete_all(copied)
        failed.update(delete_failed)
        if failed:
            raise BulkOperationError("move_path", failed, {path: copied[path] for path in deleted})

    def delete_path(self, path: str) -> None:
        """Delete every file under ``path`` (or the file ``path``) with batch deletes.

        Raises:
            FileNotFoundError: Nothing is at ``path`` (an :class:`ObjectNotFound`), on every store.
            ValueError: ``path`` is empty (the whole store is never deleted this way).
            BulkOperationError: Some files could not be deleted; the others were.
        """
        clean = _clean(path)
        if not clean:
            raise ValueError("delete_path needs a path: the whole store is not deleted this way")
        keys = self.ls(clean)
        if not keys:
            raise ObjectNotFound(f"nothing at {clean!r} to delete", operation="delete_path", key=clean)
        deleted, failed = self._delete_all(keys)
        if failed:
            raise BulkOperationError("delete_path", failed, dict.fromkeys(deleted, ""))

    def sanitize_obj_names(self, path: str) -> dict[str, str]:
        """Remove commas from the names of every file and folder under ``path``, as ChRIS's managers do.

        A file whose name is only commas and blanks is deleted; a folder whose name is, is dropped, its contents
        moving up to its parent. ``path`` itself is left as it is, and a ``path`` that is a file is not touched.

        Returns:
            Only the files that changed: old path -> new path, ``""`` for a file that was deleted.

        Raises:
            BulkOperationError: Some renames or deletes failed; ``completed`` holds those done.
        """
        base = _clean(path)
        keys = self.ls(base)
        if keys == [base]:
            return {}
        renames: dict[str, str] = {}
        doomed: list[str] = []
        for key in keys:
            new = _sanitized(base, key)
            if new is None:
                doomed.append(key)
            elif new != key:
                renames[key] = new
        copied, failed = self._copy_all(renames)
        deleted, delete_failed = self._delete_all([*doomed, *copied])
        failed.update(delete_failed)
        done = set(deleted)
        changes = {key: copied.get(key, "") for key in keys if key in done}
        if failed:
            raise BulkOperationError("sanitize_obj_names", failed, changes)
        return changes

    # --- bulk helpers -------------------------------------------------------------------------------------------

    def _plan(self, operation: str, src: str, dst: str) -> dict[str, str]:
        """Source path -> destination path for every file a copy or move of ``src`` to ``dst`` handles."""
        source, target = _clean(src), _clean(dst)
        if not source or not target:
            raise ValueError(f"{operation} needs two paths; the whole store is not copied or moved this way")
        if _inside(source, target) or _inside(target, source):
            raise ValueError(f"{operation}: {src!r} and {dst!r} overlap; one cannot be copied or moved into the other")
        plan = {key: target + key[len(source) :] for key in self.ls(source)}
        if not plan:
            raise ObjectNotFound(f"nothing at {source!r} to {operation.split('_')[0]}", operation=operation, key=source)
        return plan

    def _copy_all(self, plan: Mapping[str, str]) -> tuple[dict[str, str], dict[str, ObjectStorageError]]:
        """Run the copies of a plan, ``workers`` at once; (copied source -> destination, failures by source)."""
        copied: dict[str, str] = {}
        failed: dict[str, ObjectStorageError] = {}

        def copy(item: tuple[str, str]) -> tuple[str, ObjectStorageError | None]:
            source, target = item
            return source, _attempt(lambda: self.service.copy_object("", source, "", target))

        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            for source, error in pool.map(copy, plan.items()):
                if error is None:
                    copied[source] = plan[source]
                else:
                    failed[source] = error
        return copied, failed

    def _delete_all(self, keys: Iterable[str]) -> tuple[list[str], dict[str, ObjectStorageError]]:
        """Batch-delete keys (the store's native batch delete where it has one); (deleted, failures by key)."""
        keys = list(keys)
        if not keys:
            return [], {}
        result = self.service.delete_objects("", keys)
        return list(result.deleted), dict(result.errors)


def _attempt(action: Callable[[], None]) -> ObjectStorageError | None:
    """Run one object's step of a bulk operation: its error is returned, to be reported with the others."""
    try:
        action()
    except ObjectStorageError as exc:
        return exc
    return None


def _service_for_chris(container_name: str, conn_params: Mapping[str, Any]) -> ObjectStorageService:
    """The store ChRIS's connection parameters describe (the ``connect_storage`` constructor)."""
    params = dict(conn_params)
    if any(name in params for name in _ALTASTATA_MARKERS):
        # ChRIS's AltaStataManager keeps each file at its path in the account, whatever the container's name:
        # the store's root is the account's ("/" as the container, so ALTAS_CONTAINER_NAME does not move it).
        params.setdefault("container", "/")
        return ObjectStorageFactory.from_url("altastata://", **params)
    if any(name in params for name in _CHRIS_S3_PARAMS) or "region_name" in params:
        if not container_name:
            raise ConfigurationError("S3_BUCKET_NAME is empty: the ChRIS S3 storage needs a bucket")
        options = {_CHRIS_S3_PARAMS.get(name, name): value for name, value in params.items()}
        if options.get("region_name") is None:
            options.pop("region_name", None)  # ChRIS sets None when S3_REGION is unset: the store's default
        return ObjectStorageFactory.from_url(f"s3://{quote(container_name, safe='')}", **options)
    if "authurl" in params:
        raise ConfigurationError("objstore has no Swift store; use a store URL with ObjstoreManager.from_url")
    raise ConfigurationError(
        "unrecognised ChRIS connection parameters: expected S3_CONNECTION_PARAMS (endpoint_url, access_key, "
        "secret_key) or ALTAS_CONNECTION_PARAMS (account_dir_path, or user_properties and private_key_encrypted)"
    )
