"""A local folder as one side of a sync: a key-ordered walk, filters, and confined, atomic writes.

Confinement, the atomic write, the scan and the clean-up of abandoned temporary files are the filesystem store's
too (:mod:`objstore.adapters.localfs`): every write, rename and delete walks the key's folders one level at a time
from the root with ``O_NOFOLLOW`` directory descriptors, so nothing ever goes through a symbolic link, at any
depth, however the tree changes while the sync runs. A link to a folder met on the way is left alone and
reported; a link to a file (or a broken link) standing where a file goes is replaced by that file, as a file
would be. Downloads are written beside their target as ``.objstore-tmp-<pid>-*`` and renamed into place.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat as stat_module
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any

from objstore.adapters.localfs import (
    NEW_FILE,
    RESERVED,
    TEMPORARY,
    ConfinedRoot,
    FileInTheWay,
    FolderScan,
    LinkInTheWay,
    Stage,
    temporary_name,
)
from objstore.domain.errors import ConfigurationError
from objstore.domain.listing import FolderItem, walk_files
from objstore.domain.streams import CHUNK_SIZE
from objstore.syncing.planner import Entry

__all__ = ["FileInTheWay", "Filters", "LinkInTheWay", "LocalFolder", "is_reserved", "local_token"]

PROBE_BYTES = 64 * 1024


def is_reserved(key: str) -> bool:
    """Whether a key names objstore's own files in a local folder (``.objstore/...``, ``.objstore-tmp-*``)."""
    first = key.split("/", 1)[0]
    return first == RESERVED or key.rsplit("/", 1)[-1].startswith(TEMPORARY)


def local_token(st: os.stat_result) -> str:
    """What changes whenever a file's content may have: size, mtime and ctime in nanoseconds, inode.

    ctime cannot be set by tools that restore mtimes (``touch -d``, ``cp -p``), so a same-size, same-mtime rewrite
    still changes the token.
    """
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}"


@dataclass(frozen=True)
class Filters:
    """Which keys take part in a sync: ordered include/exclude rules in gitignore syntax (the first rule that
    matches a key decides; keys no rule matches are included), a list of keys (``--files-from``), and limits on
    an entry's size and age.

    Rules and the key list apply to both sides of a sync alike (:meth:`allows`). Sizes and ages are an entry's
    own (:meth:`admits`): the executor judges a key by its source entry (by its destination entry when the
    source has none), and leaves the key out on both sides.
    """

    rules: tuple[tuple[bool, str], ...] = ()  # (include?, pattern)
    _compiled: tuple[tuple[bool, Any], ...] = field(default=(), repr=False, compare=False)
    files: frozenset[str] | None = None  # --files-from: only these keys
    hidden_suffix: str = ""  # --suffix without --backup-dir: the backups kept beside their keys take no part
    min_size: int | None = None
    max_size: int | None = None
    newest_ns: int | None = None  # --min-age: entries modified later are left out
    oldest_ns: int | None = None  # --max-age: entries modified earlier are left out

    @classmethod
    def of(
        cls,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        rules: Sequence[str] = (),
        *,
        files_from: Sequence[str] | None = None,
        min_size: int | None = None,
        max_size: int | None = None,
        min_age: timedelta | None = None,
        max_age: timedelta | None = None,
        hidden_suffix: str = "",
        now: datetime | None = None,
    ) -> Filters:
        """Rules from ``rules`` ("+ pattern" includes, "- pattern" excludes, in order), then ``include`` and
        ``exclude``. ``include`` without ``rules`` means "only these": everything else is left out after them.

        ``files_from``: only these keys (rclone ``--files-from``), with the rules applied too. ``min_age`` /
        ``max_age``: only entries modified at least / at most that long before ``now`` (default: the time of
        this call). An entry without a modification time passes the age limits.
        """
        ordered: list[tuple[bool, str]] = []
        for rule in rules:
            sign, _, pattern = rule.strip().partition(" ")
            if sign not in ("+", "-") or not pattern.strip():
                raise ValueError(f"a filter rule is '+ pattern' or '- pattern', not {rule!r}")
            ordered.append((sign == "+", pattern.strip()))
        ordered += [(True, p) for p in include] + [(False, p) for p in exclude]
        if include and not rules:
            ordered.append((False, "*"))
        compiled = tuple((keep, _compiled(pattern)) for keep, pattern in ordered)
        files = None if files_from is None else frozenset(key.lstrip("/") for key in files_from if key.strip("/"))
        _check_limits(min_size, max_size, min_age, max_age)
        at = int((now or datetime.now(timezone.utc)).timestamp() * 1e9)
        return cls(
            tuple(ordered),
            compiled,
            files=files,
            hidden_suffix=hidden_suffix,
            min_size=min_size,
            max_size=max_size,
            newest_ns=None if min_age is None else at - _ns(min_age),
            oldest_ns=None if max_age is None else at - _ns(max_age),
        )

    def allows(self, key: str) -> bool:
        if self.files is not None and key not in self.files:
            return False
        if self.hidden_suffix and key.endswith(self.hidden_suffix):
            return False
        for keep, pattern in self._compiled:
            if pattern.match_file(key):
                return bool(keep)
        return True

    def everything(self) -> Filters:
        """What a side seen unfiltered (``--delete-excluded``) still leaves out: backups kept beside their keys."""
        return Filters(hidden_suffix=self.hidden_suffix)

    @property
    def judges_entries(self) -> bool:
        """Whether sizes or ages are limited (entries, not only keys, are judged)."""
        limits = (self.min_size, self.max_size, self.newest_ns, self.oldest_ns)
        return any(limit is not None for limit in limits)

    def admits(self, entry: Entry) -> bool:
        """Whether an entry's size and modification time are within the limits."""
        if self.min_size is not None and entry.size < self.min_size:
            return False
        if self.max_size is not None and entry.size > self.max_size:
            return False
        mtime = entry.mtime_ns
        if mtime is None:
            return True
        if self.newest_ns is not None and mtime > self.newest_ns:
            return False
        return self.oldest_ns is None or mtime >= self.oldest_ns


def _compiled(pattern: str) -> Any:
    """A gitignore pattern, compiled by pathspec (imported when filters are first built)."""
    try:
        from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern
    except ImportError:  # pathspec 0.12: the same class under its old, since deprecated, name
        from pathspec.patterns.gitwildmatch import GitWildMatchPattern

        return GitWildMatchPattern(pattern)
    return GitIgnoreSpecPattern(pattern)


def _ns(age: timedelta) -> int:
    return (age.days * 86_400 + age.seconds) * 1_000_000_000 + age.microseconds * 1_000


def _check_limits(
    min_size: int | None, max_size: int | None, min_age: timedelta | None, max_age: timedelta | None
) -> None:
    for name, size in (("--min-size", min_size), ("--max-size", max_size)):
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
            raise ConfigurationError(f"{name} is a number of bytes, not {size!r}")
    for name, age in (("--min-age", min_age), ("--max-age", max_age)):
        if age is not None and (not isinstance(age, timedelta) or age < timedelta(0)):
            raise ConfigurationError(f"{name} is a duration (a timedelta) of zero or more, not {age!r}")
    if min_size is not None and max_size is not None and min_size > max_size:
        raise ConfigurationError(f"--min-size {min_size} is larger than --max-size {max_size}: nothing would sync")
    if min_age is not None and max_age is not None and min_age > max_age:
        raise ConfigurationError(f"--min-age {min_age} is older than --max-age {max_age}: nothing would sync")


class _SyncScan(FolderScan):
    """A sync's scan of its local folder: links as its options say, and what is left out reported to it."""

    def __init__(self, folder: LocalFolder) -> None:
        self.folder = folder

    def through_link(self, entry: os.DirEntry[str], key: str) -> tuple[str, os.stat_result] | None:
        folder = self.folder
        if not folder.follow_symlinks and not folder.writable:
            return None
        st = os.stat(entry.path)
        if folder.writable and stat_module.S_ISDIR(st.st_mode):
            if folder.filters.allows(key + "/"):
                folder.problems.append(
                    f"{key}: a symbolic link to a folder; left alone (nothing is written through links)"
                )
            return None
        return (entry.path, st) if folder.follow_symlinks else None

    def broken(self, key: str) -> None:
        self.folder.problems.append(f"{key}: broken symbolic link (skipped)")
        self.folder.problem_keys.add(key)

    def unnameable(self, key: str) -> None:
        if self.folder.filters.allows(key):
            self.folder.skipped[key.encode("utf-8", "backslashreplace").decode()] = (
                "a name no object key can carry (not synced)"
            )

    def unreadable(self, prefix: str, exc: OSError) -> list[FolderItem]:
        self.folder.problems.append(f"{prefix or '.'}: cannot be read ({exc.strerror})")
        raise exc


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
        self._confined = ConfinedRoot(self.root)

    def entries(self) -> Iterator[Entry]:
        """Every file under the root, in key order; loops, broken links and unnameable files are reported."""
        if not self.root.is_dir():
            if self.writable and not os.path.lexists(self.root):
                return  # a pull's new folder (a dry run does not create it)
            raise FileNotFoundError(f"the local folder {str(self.root)!r} does not exist")
        for key, _path, st, _is_dir in walk_files(str(self.root), "", _SyncScan(self), self._loop):
            if self.filters.allows(key):
                yield Entry(key, st.st_size, local_token(st), st.st_mtime_ns)

    def _loop(self, key: str) -> None:
        self.problems.append(f"{key}: symbolic link loop (skipped)")

    # --- reading ---------------------------------------------------------------------------------------------

    def path_of(self, key: str) -> Path:
        return self.root.joinpath(*key.split("/"))

    def open(self, key: str) -> IO[bytes]:
        return open(self.path_of(key), "rb")

    def sha256(self, key: str) -> str:
        return self.digests(key, "sha256")[0]

    def digests(self, key: str, *algorithms: str) -> list[str]:
        """The file's hex digests by each named algorithm (``hashlib`` names), from one read."""
        digests = [hashlib.new(name, usedforsecurity=False) for name in algorithms]  # MD5 compares, never secures
        with self.open(key) as handle:
            while chunk := handle.read(CHUNK_SIZE):
                for digest in digests:
                    digest.update(chunk)
        return [digest.hexdigest() for digest in digests]

    # --- confined writing and deleting ------------------------------------------------------------------------

    def folding(self) -> tuple[bool, bool]:
        """Whether this folder's filesystem folds case, and Unicode normalisation (macOS, Windows): a probe file.

        Twins it would fold to one name (``Report.csv`` and ``report.csv``) cannot both be files here. A folder
        that does not exist yet, or cannot be written, is taken to fold neither (nothing is created to find out).
        """
        stem = temporary_name("fold-") + "-\u00c9"  # "É" precomposed (NFC)
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
        name = temporary_name("probe-")
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

    def write(self, key: str, source: IO[bytes] | Any, mtime_ns: int | None, *, expect: object = None) -> str:
        """Write a file atomically (temporary file beside it, fsync, rename), with the given mtime; returns its token.

        ``expect``: the token the file must still have (or an object other than a str: it must not exist), checked
        just before the rename, so a local edit made during the sync is not overwritten. None: overwrite.
        """
        with self._confined.stage(key) as stage:
            stage.write(source, mtime_ns=mtime_ns)
            current = _current(stage.current(), stage, key)
            if expect is not None and current != (expect if isinstance(expect, str) else None):
                raise FileExistsError(f"{key}: changed locally during the sync; not overwritten")
            stage.replace()  # replaces a link, never follows it
            return local_token(os.stat(stage.name, dir_fd=stage.parent, follow_symlinks=False))

    def delete(self, key: str) -> None:
        """Delete a file (a link is removed, never followed), then the folders it leaves empty, up to the root."""
        self._confined.remove(key)
        self._confined.prune(key)

    def remove_if_unchanged(self, key: str, token: str) -> bool:
        """Delete a file only if it still has ``token`` (a file in the way of a folder the sync must create)."""
        return self._confined.remove(key, lambda st: stat_module.S_ISREG(st.st_mode) and local_token(st) == token)


def _current(st: os.stat_result | None, stage: Stage, key: str) -> str | None:
    """The token of what stands at the name now (None if nothing); a folder, or a link to one, is in the way."""
    if st is None:
        return None
    if stat_module.S_ISLNK(st.st_mode):
        try:
            target = stage.current(follow=True)
        except OSError:
            return "broken link"
        if target is None:
            return "broken link"
        if stat_module.S_ISDIR(target.st_mode):
            raise LinkInTheWay(key, key)
        return local_token(target)
    if stat_module.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, f"{key}: a folder of that name is in the way")
    return local_token(st)
