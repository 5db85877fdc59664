"""What the folder store (``filesystem.py``) and a sync's local folder (``objstore.syncing.local``) share.

* :class:`ConfinedRoot`: every write, rename and delete walks the key's folders one level at a time from the root
  with ``O_NOFOLLOW`` directory descriptors, so nothing is ever written or deleted through a symbolic link, at any
  depth, however the tree changes meanwhile. A link on the way is :class:`LinkInTheWay`, a file on the way
  :class:`FileInTheWay`. A link standing at the final name is replaced (by a rename) or removed, never followed.
* :class:`Stage`: an atomic write: a new temporary file (``.objstore-tmp-<pid>-...``, :data:`NEW_FILE` flags)
  beside the target or in a folder of the caller's, fsynced, then renamed (or linked) into place relative to the
  parent's descriptor. The caller commits, so the store can hold its lock and write its sidecar around it.
* :func:`remove_if_abandoned`: the clean-up of temporary files whose writing process is gone (killed mid-write).
* :class:`FolderScan`: one folder's entries in key order (``os.scandir``) for ``walk_files``, with hooks for
  links (followed for reading or not) and for what is left out.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat as stat_module
import time
import uuid
from collections.abc import Callable, Iterator
from typing import IO, Any, Literal

from objstore.domain.keys import is_valid_key
from objstore.domain.listing import FolderItem
from objstore.domain.streams import copy_stream

__all__ = [
    "NEW_FILE",
    "RESERVED",
    "TEMPORARY",
    "ConfinedRoot",
    "FileInTheWay",
    "FolderScan",
    "LinkInTheWay",
    "Stage",
    "abandoned",
    "process_alive",
    "remove_if_abandoned",
    "temporary_name",
]

RESERVED = ".objstore"  # objstore's own folder at a root (a filesystem store's state): never listed or synced
TEMPORARY = ".objstore-tmp-"  # writes in progress: never listed or synced

# A new file: created here or not at all (never an existing one, never through a link).
NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_NOT_ENTERED = (errno.ELOOP, errno.ENOTDIR, errno.EMLINK)  # what opening a link or a file as a folder answers


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (this one does; another user's process counts as running)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def abandoned(stem: str) -> bool:
    """Whether a temporary file named ``<pid>-...`` (``stem``, after any prefix) was left by a process now gone."""
    pid_text = stem.split("-", 1)[0]
    return pid_text.isascii() and pid_text.isdigit() and not process_alive(int(pid_text))


def temporary_name(tag: str = "") -> str:
    """A new temporary file's name: ``.objstore-tmp-<pid>-<tag><random>``."""
    return f"{TEMPORARY}{os.getpid()}-{tag}{uuid.uuid4().hex}"


def remove_if_abandoned(path: str) -> None:
    """Remove the temporary file at ``path`` if the process that wrote it no longer runs.

    Its name is ``.objstore-tmp-<pid>-...``, or ``<pid>-...`` (in a folder that holds only temporary files).
    """
    name = os.path.basename(path)
    if abandoned(name.removeprefix(TEMPORARY)):
        with contextlib.suppress(OSError):
            os.unlink(path)


class _InTheWay(OSError):
    """Something on a key's path stops the write: ``blocking`` names it (a key of the same folder)."""

    code = errno.EIO
    what = "{blocking} is in the way"

    def __init__(self, key: str, blocking: str) -> None:
        super().__init__(self.code, self.what.format(blocking=blocking))
        self.key, self.blocking = key, blocking

    def __str__(self) -> str:
        return str(self.strerror)


class LinkInTheWay(_InTheWay):
    """A folder of the key's path is a symbolic link: nothing is written or deleted through it."""

    code = errno.ELOOP
    what = "{blocking} is a symbolic link; nothing is written through links (left alone)"


class FileInTheWay(_InTheWay, NotADirectoryError):
    """A file stands where the key needs a folder."""

    code = errno.ENOTDIR
    what = "the file {blocking!r} stands where a folder must go"


class ConfinedRoot:
    """A folder that is written and deleted in without ever going through a link (see the module's notes).

    Args:
        root: The folder, as the user named it (a link there is followed: it is the root itself).
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = root

    @contextlib.contextmanager
    def parent(self, key: str, *, create: bool) -> Iterator[tuple[int, str]]:
        """A descriptor of the real folder that holds ``key`` (reached without following any link) and the name.

        Folders are created one level at a time with ``create``. Raises LinkInTheWay (a link on the path),
        FileInTheWay (a file on the path), FileNotFoundError (a folder missing, without ``create``).
        """
        fd = self._open(key, create=create)
        try:
            yield fd, key.rsplit("/", 1)[-1]
        finally:
            os.close(fd)

    def _open(self, key: str, *, create: bool) -> int:
        """Open the folder that holds ``key``; the caller closes it."""
        folders = key.split("/")[:-1]
        fd = os.open(self.root, _DIRECTORY & ~_NOFOLLOW)  # the root itself is as the user named it
        try:
            for depth, segment in enumerate(folders):
                try:
                    inner = os.open(segment, _DIRECTORY, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(segment, 0o777, dir_fd=fd)
                    inner = _descend(fd, segment, key, folders[: depth + 1])
                except OSError as exc:
                    if exc.errno not in _NOT_ENTERED:
                        raise
                    inner = _descend(fd, segment, key, folders[: depth + 1])
                os.close(fd)
                fd = inner
        except BaseException:
            os.close(fd)
            raise
        return fd

    @contextlib.contextmanager
    def stage(self, key: str, temporaries: str | None = None) -> Iterator[Stage]:
        """Start an atomic write of ``key`` (its folders are made): write, then commit, with the :class:`Stage`.

        ``temporaries``: the folder for the temporary file (on the same filesystem); None: beside the target. On
        leaving, a temporary file not committed is removed.
        """
        stage = Stage(self, key, self._open(key, create=True))
        try:
            if temporaries is not None:
                stage.temp_dir = os.open(temporaries, _DIRECTORY)
                stage._descriptors.append(stage.temp_dir)
            yield stage
        finally:
            stage.close()

    def remove(self, key: str, accept: Callable[[os.stat_result], bool] | None = None) -> bool:
        """Remove the file (or link, never followed) at ``key``; returns whether it was removed.

        ``accept`` sees its ``lstat`` first and may refuse (False). A folder there is an IsADirectoryError.
        """
        with self.parent(key, create=False) as (parent, name):
            st = os.lstat(name, dir_fd=parent)
            if accept is not None and not accept(st):
                return False
            if stat_module.S_ISDIR(st.st_mode):
                raise IsADirectoryError(errno.EISDIR, f"{key}: a folder of that name is in the way")
            os.unlink(name, dir_fd=parent)
            return True

    def prune(self, key: str) -> None:
        """Remove the folders of ``key``'s path that are empty, deepest first, up to the root (not included)."""
        folders = key.split("/")[:-1]
        while folders:
            try:
                with self.parent("/".join(folders), create=False) as (parent, name):
                    os.rmdir(name, dir_fd=parent)
            except OSError:
                return
            folders.pop()


def _descend(fd: int, segment: str, key: str, path: list[str]) -> int:
    """Open ``segment`` of folder ``fd`` as a folder, or say what stands in the way."""
    try:
        return os.open(segment, _DIRECTORY, dir_fd=fd)
    except OSError as exc:
        if exc.errno not in _NOT_ENTERED:
            raise
        st = os.lstat(segment, dir_fd=fd)
        if stat_module.S_ISLNK(st.st_mode):
            raise LinkInTheWay(key, "/".join(path)) from None
        raise FileInTheWay(key, "/".join(path)) from None


class Stage:
    """One atomic write in progress: the target's folder (``parent``, a descriptor) and name, and its temporary file.

    Made by :meth:`ConfinedRoot.stage`. :meth:`write` fills the temporary file; :meth:`replace` or :meth:`link`
    commits it; :meth:`reopen` walks to the folder again if it was removed meanwhile.
    """

    def __init__(self, root: ConfinedRoot, key: str, parent: int) -> None:
        self.root, self.key, self.parent = root, key, parent
        self.name = key.rsplit("/", 1)[-1]
        self.temp_dir = -1  # -1: beside the target
        self.temp = temporary_name()
        self._descriptors = [parent]

    @property
    def _temp_fd(self) -> int:
        return self.parent if self.temp_dir < 0 else self.temp_dir

    def write(
        self, source: IO[bytes] | Any, *, mtime_ns: int | Literal["now"] | None = None, fsync: bool = True
    ) -> os.stat_result:
        """Copy ``source`` into the temporary file, fsync it (``fsync``), set its mtime; returns its stat.

        ``mtime_ns``: the mtime to set, ``"now"`` (the clock once written) or None (leave it).
        """
        if self.temp_dir < 0:
            self.temp_dir = os.dup(self.parent)  # the temporary file stays where it is if the folder is reopened
            self._descriptors.append(self.temp_dir)
        with open(os.open(self.temp, NEW_FILE, 0o666, dir_fd=self.temp_dir), "wb", buffering=0) as handle:

            def sink(chunk: memoryview) -> None:
                view = chunk
                while view:
                    view = view[handle.write(view) or 0 :]

            copy_stream(source, sink)
            if fsync:
                os.fsync(handle.fileno())
            stamp = time.time_ns() if mtime_ns == "now" else mtime_ns
            if stamp is not None:
                os.utime(handle.fileno(), ns=(stamp, stamp))
            return os.fstat(handle.fileno())

    def current(self, *, follow: bool = False) -> os.stat_result | None:
        """What stands at the target's name now (``follow``: through a link there), or None if nothing does."""
        try:
            return os.stat(self.name, dir_fd=self.parent, follow_symlinks=follow)
        except FileNotFoundError:
            return None

    def temp_exists(self) -> bool:
        try:
            os.lstat(self.temp, dir_fd=self._temp_fd)
        except FileNotFoundError:
            return False
        return True

    def replace(self) -> None:
        """Rename the temporary file over the target (a link there is replaced, never followed)."""
        os.replace(self.temp, self.name, src_dir_fd=self._temp_fd, dst_dir_fd=self.parent)

    def link(self) -> None:
        """Give the temporary file the target's name only if nothing has it (FileExistsError otherwise)."""
        os.link(self.temp, self.name, src_dir_fd=self._temp_fd, dst_dir_fd=self.parent, follow_symlinks=False)

    def reopen(self) -> None:
        """Walk to the target's folder again, making the folders (another writer's delete pruned them)."""
        self.parent = self.root._open(self.key, create=True)
        self._descriptors.append(self.parent)

    def fsync_folder(self) -> None:
        with contextlib.suppress(OSError):
            os.fsync(self.parent)

    def close(self) -> None:
        """Remove the temporary file if it is still there (not committed, or linked), and close the folders."""
        if self.temp_dir >= 0:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.temp, dir_fd=self.temp_dir)
        for fd in self._descriptors:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._descriptors.clear()


class FolderScan:
    """One local folder's entries as (key, path, stat, is a folder), in key order: the ``scan`` of ``walk_files``.

    Left out: objstore's own folder at the root, sockets, devices and pipes, and (``hide_temporaries``) writes in
    progress, an abandoned one being removed. Subclasses decide about links (:meth:`through_link`; by default
    they are skipped) and hear about broken entries, names no key can carry, and folders that cannot be read.
    """

    hide_temporaries = True

    def __call__(self, folder: str, prefix: str) -> list[FolderItem]:
        items: list[FolderItem] = []
        try:
            with os.scandir(folder) as scan:
                for entry in scan:
                    item = self._item(entry, prefix)
                    if item is not None:
                        items.append(item)
        except OSError as exc:
            return self.unreadable(prefix, exc)
        items.sort(key=lambda item: item[0])  # "a/" after "a-c": the order of the keys the entries produce
        return items

    def _item(self, entry: os.DirEntry[str], prefix: str) -> FolderItem | None:
        if self.hide_temporaries and entry.name.startswith(TEMPORARY):
            remove_if_abandoned(entry.path)  # left by a killed writer
            return None
        if not prefix and entry.name == RESERVED:
            return None
        key = prefix + entry.name
        try:
            found = (
                self.through_link(entry, key) if entry.is_symlink() else (entry.path, entry.stat(follow_symlinks=False))
            )
        except OSError:
            self.broken(key)
            return None
        if found is None:
            return None
        path, st = found
        is_dir = stat_module.S_ISDIR(st.st_mode)
        if not is_dir and not stat_module.S_ISREG(st.st_mode):
            return None  # sockets, devices, pipes
        if not is_valid_key(key):
            self.unnameable(key)
            return None
        return (key + "/" if is_dir else key, path, st, is_dir)

    def through_link(self, entry: os.DirEntry[str], key: str) -> tuple[str, os.stat_result] | None:
        """A link's path to read through and what it leads to, or None to leave it out (OSError: broken)."""
        return None

    def broken(self, key: str) -> None:
        """An entry that vanished, or a broken link."""

    def unnameable(self, key: str) -> None:
        """A file or folder whose name no object key can carry."""

    def unreadable(self, prefix: str, exc: OSError) -> list[FolderItem]:
        """A folder that cannot be listed: raise, or answer what to take it for."""
        raise exc
