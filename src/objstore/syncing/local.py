"""A local folder as one side of a sync: a key-ordered walk, filters, and confined, atomic writes.

Confinement: every write, rename and delete walks the key's folders one level at a time from the root with
``O_NOFOLLOW`` directory descriptors, so nothing ever goes through a symbolic link, at any depth, however the
tree changes while the sync runs. A link to a folder met on the way is left alone and reported; a link to a file
(or a broken link) standing where a file goes is replaced by that file, as a file would be.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat as stat_module
import unicodedata
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from objstore.adapters.localfs import NEW_FILE, abandoned
from objstore.domain.keys import is_valid_key
from objstore.domain.listing import FolderItem, walk_files
from objstore.domain.streams import CHUNK_SIZE, copy_stream
from objstore.syncing.planner import Entry

__all__ = ["FileInTheWay", "Filters", "LinkInTheWay", "LocalFolder", "is_reserved", "local_token"]

RESERVED = ".objstore"  # objstore's own name at a folder's root (a filesystem store's metadata): never synced
TEMPORARY = ".objstore-tmp-"  # downloads in progress: never synced

PROBE_BYTES = 64 * 1024
_DIRECTORY = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


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


def is_reserved(key: str) -> bool:
    """Whether a key names objstore's own files in a local folder (``.objstore/...``, ``.objstore-tmp-*``)."""
    first = key.split("/", 1)[0]
    return first == RESERVED or key.rsplit("/", 1)[-1].startswith(TEMPORARY)


def _remove_if_abandoned(path: str) -> None:
    """Remove a temporary file (``.objstore-tmp-PID-...``) whose writing process no longer runs."""
    if abandoned(os.path.basename(path)[len(TEMPORARY) :]):
        with contextlib.suppress(OSError):
            os.unlink(path)


def local_token(st: os.stat_result) -> str:
    """What changes whenever a file's content may have: size, mtime and ctime in nanoseconds, inode.

    ctime cannot be set by tools that restore mtimes (``touch -d``, ``cp -p``), so a same-size, same-mtime rewrite
    still changes the token.
    """
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}"


@dataclass(frozen=True)
class Filters:
    """Ordered include/exclude rules in gitignore syntax; the first rule that matches a key decides.

    Keys no rule matches are included. Rules apply to both sides of a sync alike.
    """

    rules: tuple[tuple[bool, str], ...] = ()  # (include?, pattern)
    _compiled: tuple[tuple[bool, Any], ...] = field(default=(), repr=False, compare=False)

    @classmethod
    def of(cls, include: Sequence[str] = (), exclude: Sequence[str] = (), rules: Sequence[str] = ()) -> Filters:
        """Rules from ``rules`` ("+ pattern" includes, "- pattern" excludes, in order), then ``include`` and
        ``exclude``. ``include`` without ``rules`` means "only these": everything else is left out after them."""
        ordered: list[tuple[bool, str]] = []
        for rule in rules:
            sign, _, pattern = rule.strip().partition(" ")
            if sign not in ("+", "-") or not pattern.strip():
                raise ValueError(f"a filter rule is '+ pattern' or '- pattern', not {rule!r}")
            ordered.append((sign == "+", pattern.strip()))
        ordered += [(True, p) for p in include] + [(False, p) for p in exclude]
        if include and not rules:
            ordered.append((False, "*"))
        from pathspec.patterns.gitwildmatch import GitWildMatchPattern

        compiled = tuple((keep, GitWildMatchPattern(pattern)) for keep, pattern in ordered)
        return cls(tuple(ordered), compiled)

    def allows(self, key: str) -> bool:
        for keep, pattern in self._compiled:
            if pattern.match_file(key):
                return bool(keep)
        return True


@dataclass
class LocalFolder:
    """A local folder's files as sync entries, in key order, and confined writes into it.

    Args:
        root: The folder.
        filters: Which keys take part.
        follow_symlinks: Read through links (default), with cycle detection; otherwise links are skipped. A folder
            the sync writes into (``writable``) is never entered through a link to a folder: such a link is
            reported and left alone, whatever this says.
        writable: The sync may write and delete here (a pull, or either side of a two-way sync).
    """

    root: Path
    filters: Filters = field(default_factory=Filters)
    follow_symlinks: bool = True
    writable: bool = False
    problems: list[str] = field(default_factory=list)
    problem_keys: set[str] = field(default_factory=set)  # entries that exist but could not be read
    skipped: dict[str, str] = field(default_factory=dict)  # files that exist but cannot take part, with why

    def __post_init__(self) -> None:
        self.root = Path(self.root)

    def entries(self) -> Iterator[Entry]:
        """Every file under the root, in key order; loops, broken links and unnameable files are reported."""
        if not self.root.is_dir():
            if self.writable and not os.path.lexists(self.root):
                return  # a pull's new folder (a dry run does not create it)
            raise FileNotFoundError(f"the local folder {str(self.root)!r} does not exist")
        for key, _path, st, _is_dir in walk_files(str(self.root), "", self._scan, self._loop):
            if self.filters.allows(key):
                yield Entry(key, st.st_size, local_token(st), st.st_mtime_ns)

    def _loop(self, key: str) -> None:
        self.problems.append(f"{key}: symbolic link loop (skipped)")

    def _scan(self, folder: str, prefix: str) -> list[FolderItem]:
        """One folder's entries, as (key, path, stat, is a folder), in the order of the keys they produce."""
        items: list[FolderItem] = []
        try:
            with os.scandir(folder) as scan:
                for item in scan:
                    if item.name.startswith(TEMPORARY):
                        _remove_if_abandoned(item.path)  # left by a killed writer
                        continue
                    if not prefix and item.name == RESERVED:
                        continue
                    key = prefix + item.name
                    try:
                        if item.is_symlink():
                            if not self.follow_symlinks and not self.writable:
                                continue
                            st = os.stat(item.path)
                            if self.writable and stat_module.S_ISDIR(st.st_mode):
                                if self.filters.allows(key + "/"):
                                    self.problems.append(
                                        f"{key}: a symbolic link to a folder; left alone (nothing is written "
                                        "through links)"
                                    )
                                continue
                            if not self.follow_symlinks:
                                continue
                        else:
                            st = item.stat(follow_symlinks=False)
                    except OSError:
                        self.problems.append(f"{key}: broken symbolic link (skipped)")
                        self.problem_keys.add(key)
                        continue
                    is_dir = stat_module.S_ISDIR(st.st_mode)
                    if not is_dir and not stat_module.S_ISREG(st.st_mode):
                        continue  # sockets, devices, pipes
                    if not is_valid_key(key):
                        if self.filters.allows(key):
                            self.skipped[key.encode("utf-8", "backslashreplace").decode()] = (
                                "a name no object key can carry (not synced)"
                            )
                        continue
                    items.append((key + "/" if is_dir else key, item.path, st, is_dir))
        except OSError as exc:
            self.problems.append(f"{prefix or '.'}: cannot be read ({exc.strerror})")
            raise
        items.sort(key=lambda item: item[0])  # "a/" after "a-c": the order of the keys the entries produce
        return items

    # --- reading ---------------------------------------------------------------------------------------------

    def path_of(self, key: str) -> Path:
        return self.root.joinpath(*key.split("/"))

    def open(self, key: str) -> IO[bytes]:
        return open(self.path_of(key), "rb")

    def sha256(self, key: str) -> str:
        digest = hashlib.sha256()
        with self.open(key) as handle:
            while chunk := handle.read(CHUNK_SIZE):
                digest.update(chunk)
        return digest.hexdigest()

    # --- confined writing and deleting ------------------------------------------------------------------------

    def folding(self) -> tuple[bool, bool]:
        """Whether this folder's filesystem folds case, and Unicode normalisation (macOS, Windows): a probe file.

        Twins it would fold to one name (``Report.csv`` and ``report.csv``) cannot both be files here. A folder
        that does not exist yet, or cannot be written, is taken to fold neither (nothing is created to find out).
        """
        stem = f"{TEMPORARY}{os.getpid()}-fold-{uuid.uuid4().hex}-\u00c9"  # "É" precomposed (NFC)
        try:
            fd = os.open(self.root / stem, NEW_FILE, 0o600)
        except OSError:
            return False, False
        try:
            os.close(fd)
            case = os.path.lexists(self.root / stem.swapcase())
            normalisation = os.path.lexists(self.root / unicodedata.normalize("NFD", stem))
            return case, normalisation
        finally:
            with contextlib.suppress(OSError):
                os.unlink(self.root / stem)

    def check_writable(self) -> None:
        """Before a sync writes anything: the folder must take a write (of 64 KiB, a read buffer's worth).

        A read-only folder or a full disk then fails in one line, before the sync changes anything.
        """
        name = f"{TEMPORARY}{os.getpid()}-probe-{uuid.uuid4().hex}"
        try:
            fd = os.open(self.root / name, NEW_FILE, 0o600)
            try:
                view = memoryview(bytes(PROBE_BYTES))
                while view:  # a short write is how a nearly full disk answers first
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
                with contextlib.suppress(OSError):
                    os.unlink(self.root / name)
        except OSError as exc:
            why = "no space left" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "it is not writable"
            raise OSError(
                exc.errno, f"the folder {str(self.root)!r} cannot take the pull: {why} ({exc.strerror})"
            ) from None

    @contextlib.contextmanager
    def _parent(self, key: str, *, create: bool) -> Iterator[tuple[int, str]]:
        """A descriptor of the real folder that holds ``key`` (reached without following any link) and the name.

        Folders are created one level at a time with ``create``. Raises LinkInTheWay (a link on the path),
        FileInTheWay (a file on the path, with ``create``), FileNotFoundError (a folder missing).
        """
        *folders, name = key.split("/")
        fd = os.open(self.root, _DIRECTORY & ~getattr(os, "O_NOFOLLOW", 0))  # the root itself is as the user named it
        try:
            for depth, segment in enumerate(folders):
                try:
                    inner = os.open(segment, _DIRECTORY, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(segment, 0o777, dir_fd=fd)
                    inner = self._descend(fd, segment, key, folders[: depth + 1])
                except OSError as exc:
                    if exc.errno not in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                        raise
                    inner = self._descend(fd, segment, key, folders[: depth + 1])
                os.close(fd)
                fd = inner
            yield fd, name
        finally:
            os.close(fd)

    @staticmethod
    def _descend(fd: int, segment: str, key: str, path: list[str]) -> int:
        try:
            return os.open(segment, _DIRECTORY, dir_fd=fd)
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                raise
            st = os.lstat(segment, dir_fd=fd)
            if stat_module.S_ISLNK(st.st_mode):
                raise LinkInTheWay(key, "/".join(path)) from None
            raise FileInTheWay(key, "/".join(path)) from None

    def write(self, key: str, source: IO[bytes] | Any, mtime_ns: int | None, *, expect: object = None) -> str:
        """Write a file atomically (temporary file beside it, fsync, rename), with the given mtime; returns its token.

        ``expect``: the token the file must still have (or an object other than a str: it must not exist), checked
        just before the rename, so a local edit made during the sync is not overwritten. None: overwrite.
        """
        with self._parent(key, create=True) as (parent, name):
            tmp = f"{TEMPORARY}{os.getpid()}-{uuid.uuid4().hex}"
            digest = hashlib.sha256()
            try:
                with open(os.open(tmp, NEW_FILE, 0o666, dir_fd=parent), "wb") as handle:

                    def sink(chunk: memoryview) -> None:
                        digest.update(chunk)
                        handle.write(chunk)

                    copy_stream(source, sink)
                    handle.flush()
                    os.fsync(handle.fileno())
                    if mtime_ns is not None:
                        os.utime(handle.fileno(), ns=(mtime_ns, mtime_ns))
                current = self._current(parent, name, key)
                if expect is not None and current != (expect if isinstance(expect, str) else None):
                    raise FileExistsError(f"{key}: changed locally during the sync; not overwritten")
                os.replace(tmp, name, src_dir_fd=parent, dst_dir_fd=parent)  # replaces a link, never follows it
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp, dir_fd=parent)
            return local_token(os.stat(name, dir_fd=parent, follow_symlinks=False))

    @staticmethod
    def _current(parent: int, name: str, key: str) -> str | None:
        """The token of what stands at the name now (None if nothing); a folder, or a link to one, is in the way."""
        try:
            st = os.lstat(name, dir_fd=parent)
        except FileNotFoundError:
            return None
        if stat_module.S_ISLNK(st.st_mode):
            try:
                target = os.stat(name, dir_fd=parent)
            except OSError:
                return "broken link"
            if stat_module.S_ISDIR(target.st_mode):
                raise LinkInTheWay(key, key)
            return local_token(target)
        if stat_module.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, f"{key}: a folder of that name is in the way")
        return local_token(st)

    def delete(self, key: str) -> None:
        """Delete a file (a link is removed, never followed), then the folders it leaves empty, up to the root."""
        with self._parent(key, create=False) as (parent, name):
            st = os.lstat(name, dir_fd=parent)
            if stat_module.S_ISDIR(st.st_mode):
                raise IsADirectoryError(errno.EISDIR, f"{key}: a folder of that name is in the way")
            os.unlink(name, dir_fd=parent)
        folders = key.split("/")[:-1]
        while folders:
            try:
                with self._parent("/".join(folders), create=False) as (parent, name):
                    os.rmdir(name, dir_fd=parent)
            except OSError:
                return
            folders.pop()

    def remove_if_unchanged(self, key: str, token: str) -> bool:
        """Delete a file only if it still has ``token`` (a file in the way of a folder the sync must create)."""
        with self._parent(key, create=False) as (parent, name):
            st = os.lstat(name, dir_fd=parent)
            if not stat_module.S_ISREG(st.st_mode) or local_token(st) != token:
                return False
            os.unlink(name, dir_fd=parent)
            return True
