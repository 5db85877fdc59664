"""FilesystemAdapter: a folder on a local or mounted filesystem used as an object store.

Layout: object ``a/b.txt`` is the file ``<root>/a/b.txt``. objstore keeps its own state in ``<root>/.objstore``
(temporary files, one small JSON "sidecar" per object with its content type, user metadata and SHA-256); that
folder never shows in listings, and keys under it are refused.

Guarantees:
  * Writes are atomic: content goes to a temporary file, is fsynced, then renamed over the object, so a reader or
    a crash never sees a partial object. Temporary files left by a killed process are removed on the next start.
  * Nothing is read or written outside the root. Reads and listings follow a link only if its target stays
    inside the root. Writes and deletes never go through a link at all: they walk the key's folders one level at
    a time from the root with ``O_NOFOLLOW`` descriptors (``localfs.ConfinedRoot``, shared with a sync's local
    folder), so a link on the path is refused (``PermissionDenied``), however the tree changes meanwhile.
  * Conditional puts are atomic with respect to every other writer using objstore on the same folder: the final
    rename happens under a per-root lock (a thread lock plus ``flock`` across processes), and create-only puts
    use ``link()``, which fails if the name exists.
  * Etags change on every write: objstore stamps each written file with a fresh nanosecond mtime, and the etag
    is built from mtime, size and inode, so listings give etags without reading any sidecar.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import re
import shutil
import stat as stat_module
import threading
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from objstore.adapters.localfs import (
    RESERVED,
    ConfinedRoot,
    FileInTheWay,
    FolderScan,
    LinkInTheWay,
    Stage,
    remove_if_abandoned,
    temporary_name,
)
from objstore.domain.errors import (
    ConfigurationError,
    InvalidKey,
    ObjectAlreadyExists,
    ObjectNotFound,
    ObjectStorageError,
    PermissionDenied,
    PreconditionFailed,
    TransientError,
)
from objstore.domain.keys import join_key
from objstore.domain.listing import FolderItem, walk_files
from objstore.domain.models import Capabilities, ListOptions, ObjectInfo, OpenedObject, ReadOptions, WriteOptions
from objstore.domain.streams import CHUNK_SIZE, HashingReader, LimitedReader, resolve_range
from objstore.ports.storage import IObjectStorageAdapter, Readable, build_config

try:  # POSIX: serialize commits across processes too
    import fcntl
except ImportError:  # pragma: no cover - Windows has no flock; the thread lock still applies
    fcntl = None  # type: ignore[assignment]

__all__ = ["FilesystemAdapter", "FilesystemConfig"]

INTERNAL_DIR = RESERVED  # objstore's own folder, the same name a sync leaves alone
_SIDECAR_VERSION = 1
# Characters other than "/" that separate folders here (the backslash on Windows): no file name can hold them.
_OTHER_SEPARATORS = "".join(sep for sep in (os.sep, os.altsep) if sep and sep != "/")
_SEPARATORS = re.compile(f"[{re.escape(_OTHER_SEPARATORS)}]" if _OTHER_SEPARATORS else "(?!)")

_ERRNO_TABLE: dict[int, tuple[type[ObjectStorageError], str]] = {
    errno.ENOENT: (ObjectNotFound, "no such object"),
    errno.ENOTDIR: (ObjectNotFound, "no such object"),
    errno.EISDIR: (ObjectNotFound, "no such object (a folder has that name)"),
    errno.EACCES: (PermissionDenied, "permission denied by the filesystem"),
    errno.EPERM: (PermissionDenied, "operation not permitted by the filesystem"),
    errno.EROFS: (PermissionDenied, "the filesystem is read-only"),
    errno.EEXIST: (ObjectAlreadyExists, "the object already exists"),
    errno.ENAMETOOLONG: (InvalidKey, "a segment of the key is longer than the filesystem allows"),
    errno.ENOSPC: (ObjectStorageError, "no space left on the device"),
    errno.EDQUOT: (ObjectStorageError, "disk quota exceeded"),
    errno.EAGAIN: (TransientError, "resource temporarily unavailable"),
    errno.EINTR: (TransientError, "interrupted system call"),
}


@dataclass(frozen=True)
class FilesystemConfig:
    """Options of the filesystem store.

    Attributes:
        base_path: The folder that is the store's root. ``file://`` URLs give it as their path.
        create: Create the root folder if it does not exist (default), at the first write: until then the store
            reads as empty and nothing is created on disk. Otherwise a missing root is an error.
        fsync: Flush each written file and its folder to disk before reporting success (default). Turning it
            off is faster and still atomic, but a power cut may lose the most recent writes.
    """

    base_path: str
    create: bool = True
    fsync: bool = True


def _translate(exc: OSError, key: str | None, writing: bool) -> ObjectStorageError:
    if isinstance(exc, LinkInTheWay):
        return PermissionDenied(f"{exc}: the store writes and deletes through no link", key=key)
    if isinstance(exc, FileInTheWay) and writing:
        return ObjectAlreadyExists(
            f"the object {exc.blocking!r} exists, so nothing can be stored under it on a filesystem", key=key
        )
    cls, message = _ERRNO_TABLE.get(exc.errno or 0, (ObjectStorageError, "filesystem error"))
    return cls(f"{message} ({exc.strerror or exc})", key=key)


@contextmanager
def _os_errors(key: str | None, *, writing: bool = False) -> Iterator[None]:
    try:
        yield
    except ObjectStorageError:
        raise
    except OSError as exc:
        raise _translate(exc, key, writing) from exc


class FilesystemAdapter(IObjectStorageAdapter):
    """A local folder as an object store.

    Args:
        base_path: The root folder, or a complete :class:`FilesystemConfig`.
        **options: Fields of :class:`FilesystemConfig` (``create``, ``fsync``).

    Raises:
        ConfigurationError: Unknown option, or the root is missing (with ``create=False``) or not a folder.
    """

    name = "filesystem"

    def __init__(self, base_path: str | os.PathLike[str] | FilesystemConfig, **options: Any) -> None:
        first = base_path if isinstance(base_path, FilesystemConfig) else os.fspath(base_path)
        config = build_config(FilesystemConfig, first, options, "filesystem")
        self.config = config
        root = Path(config.base_path).expanduser()
        try:
            # With ``create``, a missing root is made by the first write and reads as an empty store until then.
            # is_dir() again after lexists(): another store may have made the folder between the two checks.
            if not root.is_dir() and not (config.create and not os.path.lexists(root)) and not root.is_dir():
                raise ConfigurationError(f"the store root {str(root)!r} is not a folder (or does not exist)")
            self._root = os.path.realpath(root)
            self._internal = os.path.join(self._root, INTERNAL_DIR)
            self._tmp = os.path.join(self._internal, "tmp")
            self._meta = os.path.join(self._internal, "meta")
        except OSError as exc:
            raise ConfigurationError(f"cannot use {str(root)!r} as a store root: {exc.strerror or exc}") from exc
        self._confined = ConfinedRoot(self._root)
        self._scan = _StoreScan(self._inside)
        self._lock = threading.Lock()
        self._setup_lock = threading.Lock()
        self._lock_fd = -1  # objstore's own folder is made by the first write: reading a store writes nothing
        if (os.path.lexists(self._internal) and not os.path.isdir(self._internal)) or os.path.islink(self._internal):
            raise ConfigurationError(f"{self._internal!r} must be a real folder (it is a link or a file)")
        self._name_max = self._pathconf_name_max()
        self._remove_stale_temporaries()

    # --- set-up ---------------------------------------------------------------------------------------------

    @property
    def root(self) -> str:
        """The resolved root folder."""
        return self._root

    def _ready_to_write(self) -> None:
        """Create objstore's own folder (temporary files, metadata, the commit lock) before the first write."""
        if self._lock_fd >= 0:
            return
        with self._setup_lock, _os_errors(None):
            if self._lock_fd >= 0:
                return
            os.makedirs(self._root, exist_ok=True)
            for folder in (self._internal, self._tmp, self._meta):
                self._ensure_real_dir(folder)
            self._remove_stale_temporaries()
            self._lock_fd = os.open(os.path.join(self._internal, "lock"), os.O_RDWR | os.O_CREAT, 0o644)

    def _ensure_real_dir(self, path: str) -> None:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            # Another store on the same folder (another thread or process) may create it at the same moment.
            with contextlib.suppress(FileExistsError):
                os.mkdir(path, 0o755)
            st = os.lstat(path)
        if not stat_module.S_ISDIR(st.st_mode):
            raise ConfigurationError(f"{path!r} must be a real folder (it is a link or a file)")

    def _pathconf_name_max(self) -> int:
        try:
            return int(os.pathconf(self._root, "PC_NAME_MAX"))
        except (OSError, ValueError, AttributeError):
            return 255

    def _remove_stale_temporaries(self) -> None:
        """Remove temporary files whose writing process is gone (killed mid-write)."""
        with contextlib.suppress(OSError), os.scandir(self._tmp) as entries:
            for entry in entries:
                remove_if_abandoned(entry.path)

    def close(self) -> None:
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def __repr__(self) -> str:
        return f"FilesystemAdapter({self._root!r})"

    @property
    def location(self) -> str:
        """``file:///absolute/root``."""
        return Path(self._root).as_uri()

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            checksum_sha256=True,
            key_and_prefix_coexist=False,
            max_segment_bytes=self._name_max,
            buckets=True,
        )

    # --- the root folder, as the store's bucket -----------------------------------------------------------

    def make_bucket(self) -> None:
        """Create the root folder (and its parents); objstore's own folder in it is made by the first write."""
        with _os_errors(None, writing=True):
            os.makedirs(os.path.dirname(self._root), exist_ok=True)
            try:
                os.mkdir(self._root, 0o755)
            except FileExistsError:
                raise ObjectAlreadyExists("bucket already exists") from None

    def remove_bucket(self) -> None:
        """Remove the root folder if it holds no object: empty folders and objstore's own folder go with it.

        Anything else in it (a file, a link, whatever it points to) makes it not empty, and nothing is removed.
        Not atomic against a writer at the same moment: an object written meanwhile stays, and so does the root.
        """
        with _os_errors(None):
            if not os.path.isdir(self._root):
                raise ObjectNotFound("the bucket does not exist")
            held = self._first_held()
            if held is not None:
                raise PreconditionFailed(f"the bucket is not empty (it holds {held!r})")
            self.close()  # the commit lock's file goes with objstore's folder; the next write makes both again
            if os.path.lexists(self._internal):
                shutil.rmtree(self._internal)  # refuses a link: that would have been held, above
            try:
                for folder, _dirs, _files in os.walk(self._root, topdown=False):
                    os.rmdir(folder)  # the root last
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
                raise PreconditionFailed("the bucket is not empty (an object was written meanwhile)") from exc

    def _first_held(self) -> str | None:
        """The first thing (relative path) in the root that is neither a real, empty folder nor objstore's own."""
        folders = [self._root]
        while folders:
            folder = folders.pop()
            with os.scandir(folder) as entries:
                for entry in entries:
                    if not entry.is_dir(follow_symlinks=False):
                        return os.path.relpath(entry.path, self._root)
                    if not (folder == self._root and entry.name == INTERNAL_DIR):
                        folders.append(entry.path)
        return None

    # --- paths ----------------------------------------------------------------------------------------------

    def _full_key(self, prefix: str, key: str) -> str:
        full = join_key(prefix, key)
        if full.split("/", 1)[0] == INTERNAL_DIR:
            raise InvalidKey(f"keys under {INTERNAL_DIR}/ are reserved by the filesystem store", key=full)
        if _SEPARATORS.search(full):
            raise InvalidKey("a backslash is a path separator on this system; no file can carry it", key=full)
        return full

    def _inside(self, real: str) -> bool:
        return real == self._root or real.startswith(self._root + os.sep)

    def _resolve_existing(self, full: str) -> str:
        """Resolve an existing object's path, symlinks included, proving it stays inside the root."""
        real = os.path.realpath(os.path.join(self._root, full))
        if not self._inside(real):
            raise PermissionDenied("the path resolves outside the store root", key=full)
        return real

    def _sidecar_path(self, full: str) -> str:
        digest = hashlib.sha256(full.encode("utf-8", "surrogatepass")).hexdigest()
        return os.path.join(self._meta, digest[:2], digest + ".json")

    # --- reads ----------------------------------------------------------------------------------------------

    def head_object(self, prefix: str, key: str) -> ObjectInfo:
        full = self._full_key(prefix, key)
        with _os_errors(full):
            real = self._resolve_existing(full)
            st = os.stat(real)
            if not stat_module.S_ISREG(st.st_mode):
                raise ObjectNotFound("no such object (a folder has that name)", key=full)
            sidecar = self._read_sidecar(full, st)
        return _info(full, st, sidecar)

    def _read_sidecar(self, full: str, st: os.stat_result) -> dict[str, Any]:
        try:
            with open(self._sidecar_path(full), "rb") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            return {}
        if (
            not isinstance(data, dict)
            or data.get("v") != _SIDECAR_VERSION
            or data.get("size") != st.st_size
            or data.get("mtime_ns") != st.st_mtime_ns
            or data.get("ino") != st.st_ino
        ):
            return {}  # written by another tool since: what we kept no longer describes the file
        return data

    @contextmanager
    def open_object(self, prefix: str, key: str, options: ReadOptions) -> Generator[OpenedObject, None, None]:
        full = self._full_key(prefix, key)
        with _os_errors(full):
            real = self._resolve_existing(full)
            handle = open(real, "rb", buffering=0)  # noqa: SIM115 - closed by the reader below
        try:
            with _os_errors(full):
                # Describe the file actually opened (its descriptor), not whatever the path names a moment later.
                st = os.fstat(handle.fileno())
                if not stat_module.S_ISREG(st.st_mode):
                    raise ObjectNotFound("no such object (a folder has that name)", key=full)
                info = _info(full, st, self._read_sidecar(full, st))
                first, stop = resolve_range(options.start, options.end, st.st_size)
                if first:
                    handle.seek(first)
            reader = io.BufferedReader(LimitedReader(handle, stop - first), buffer_size=CHUNK_SIZE)
        except BaseException:
            handle.close()
            raise
        with reader:
            yield OpenedObject(info, reader)

    def scan_objects(self, prefix: str, options: ListOptions) -> Iterator[ObjectInfo]:
        recursive = options.recursive
        base_key = join_key("", prefix) if prefix else ""
        if base_key.split("/", 1)[0] == INTERNAL_DIR:
            return
        real = os.path.realpath(os.path.join(self._root, base_key)) if base_key else self._root
        if not self._inside(real) or not os.path.isdir(real):  # a link leaving the root lists nothing
            return
        yield from self._walk(real, f"{base_key}/" if base_key else "", recursive)

    def _walk(self, top: str, top_key: str, recursive: bool) -> Iterator[ObjectInfo]:
        """Objects in key order: every file below ``top`` (``walk_files``), or one level with its sub-folders.

        Links are followed only inside the root (``_scan``); a link cycle is not entered again.
        """
        if recursive:
            for key, _path, st, _is_dir in walk_files(top, top_key, self._scan):
                yield _info(key, st, {})
            return
        for key, path, st, is_dir in self._scan(top, top_key):
            if not is_dir:
                yield _info(key, st, {})
            elif self._has_objects(path):
                yield ObjectInfo(key=key, is_prefix=True)  # a folder's key ends in "/"

    def _has_objects(self, folder: str) -> bool:
        return any(files for _root, _dirs, files in os.walk(folder, followlinks=False))

    # --- writes ---------------------------------------------------------------------------------------------

    def write_object(self, prefix: str, key: str, stream: Readable, options: WriteOptions) -> ObjectInfo:
        full = self._full_key(prefix, key)
        self._ready_to_write()
        with _os_errors(full, writing=True):
            for segment in full.split("/"):
                if len(segment.encode("utf-8")) > self._name_max:
                    raise InvalidKey(f"a segment is longer than this filesystem's {self._name_max} bytes", key=full)
            with self._confined.stage(full, self._tmp) as stage:
                if options.if_none_match == "*" and stage.current() is not None:
                    raise ObjectAlreadyExists("the object already exists", key=full)
                reader = HashingReader(stream)
                st = stage.write(reader, mtime_ns="now", fsync=self.config.fsync)  # a fresh mtime: a new etag
                kept = {
                    "content_type": options.content_type,
                    "metadata": dict(options.metadata),
                    "sha256": reader.sha256.hexdigest(),
                }
                sidecar_tmp = self._write_sidecar_temporary(st, kept)
                try:
                    self._commit(full, stage, sidecar_tmp, options)
                finally:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(sidecar_tmp)
                if self.config.fsync:
                    stage.fsync_folder()
        return _info(full, st, kept)

    def _write_sidecar_temporary(self, st: os.stat_result, kept: dict[str, Any]) -> str:
        record = {
            "v": _SIDECAR_VERSION,
            "size": st.st_size,
            "mtime_ns": st.st_mtime_ns,
            "ino": st.st_ino,
            **kept,
        }
        path = os.path.join(self._tmp, temporary_name() + ".json")
        with open(path, "x", encoding="utf-8") as handle:
            json.dump(record, handle, separators=(",", ":"))
            if self.config.fsync:
                handle.flush()
                os.fsync(handle.fileno())
        return path

    @contextmanager
    def _commit_lock(self) -> Iterator[None]:
        with self._lock:
            if fcntl is not None and self._lock_fd >= 0:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                if fcntl is not None and self._lock_fd >= 0:
                    fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _commit(self, full: str, stage: Stage, sidecar_tmp: str, options: WriteOptions) -> None:
        """Move a written temporary file into place, checking conditions atomically, then its sidecar.

        The folders on the path were made before the lock was taken, so a delete (which prunes folders left
        empty, under the same lock) may have removed them since. That is a race with another writer, not a
        transient failure: it is settled here, once and deterministically, by making the folders again while
        holding the lock, which no objstore delete can then undo before the rename. This is not a retry (it
        neither sleeps nor repeats); if the path vanishes even so (another tool, not objstore, removing
        folders), the write fails with a retryable error and the retry layer decides.
        """
        with self._commit_lock():
            self._check_match(full, stage, options)
            try:
                self._place(full, stage, options)
            except FileNotFoundError:
                if not stage.temp_exists():
                    raise
                stage.reopen()  # pruned by a concurrent delete
                try:
                    self._place(full, stage, options)
                except FileNotFoundError as exc:
                    raise TransientError(
                        "a folder on the path was removed by another program during the write", key=full
                    ) from exc
            os.makedirs(os.path.dirname(self._sidecar_path(full)), exist_ok=True)
            # The object first, its sidecar second: a crash between the two leaves a sidecar that no longer
            # matches the file (so it is ignored).
            os.replace(sidecar_tmp, self._sidecar_path(full))

    @staticmethod
    def _check_match(full: str, stage: Stage, options: WriteOptions) -> None:
        """Enforce ``if_match`` against the file now at the target (called under the commit lock)."""
        if options.if_match is None:
            return
        try:
            current = stage.current(follow=True)
        except NotADirectoryError:
            current = None
        if current is None:
            raise PreconditionFailed("the object is gone", key=full)
        if not stat_module.S_ISREG(current.st_mode) or _etag(current) != options.if_match:
            raise PreconditionFailed("the object changed (etag differs)", key=full)

    @staticmethod
    def _place(full: str, stage: Stage, options: WriteOptions) -> None:
        """Link (create-only) or rename the temporary file to its name (called under the commit lock)."""
        if options.if_none_match == "*":
            try:
                stage.link()
            except FileExistsError:
                raise ObjectAlreadyExists("the object already exists", key=full) from None
            return
        current = stage.current()
        if current is not None and stat_module.S_ISDIR(current.st_mode):
            raise ObjectAlreadyExists("a folder of that name holds other objects; the key collides with it", key=full)
        stage.replace()

    def delete_object(self, prefix: str, key: str) -> None:
        full = self._full_key(prefix, key)
        self._ready_to_write()
        with _os_errors(full), self._commit_lock():
            self._confined.remove(full)  # a folder there: "no such object (a folder has that name)"
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._sidecar_path(full))
            self._confined.prune(full)  # prefixes exist only while objects do


class _StoreScan(FolderScan):
    """The store's scan: a link is followed when its target stays inside the root; a missing folder is empty."""

    hide_temporaries = False  # the store's own temporary files are under .objstore/tmp, hidden with it

    def __init__(self, inside: Callable[[str], bool]) -> None:
        self._inside = inside

    def through_link(self, entry: os.DirEntry[str], key: str) -> tuple[str, os.stat_result] | None:
        path = os.path.realpath(entry.path)
        return (path, os.stat(path)) if self._inside(path) else None

    def unreadable(self, prefix: str, exc: OSError) -> list[FolderItem]:
        if isinstance(exc, FileNotFoundError | NotADirectoryError):
            return []
        raise exc


def _etag(st: os.stat_result) -> str:
    return f"{st.st_mtime_ns:x}-{st.st_size:x}-{st.st_ino:x}"


def _info(full: str, st: os.stat_result, sidecar: Mapping[str, Any]) -> ObjectInfo:
    return ObjectInfo(
        key=full,
        size=st.st_size,
        etag=_etag(st),
        last_modified=datetime.fromtimestamp(st.st_mtime_ns / 1e9, tz=timezone.utc),
        content_type=sidecar.get("content_type"),
        metadata=sidecar.get("metadata") or {},
        checksum_sha256=sidecar.get("sha256"),
    )
