"""A local folder as one side of a sync: a key-ordered walk, filters, and atomic writes."""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat as stat_module
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from objstore.domain.keys import is_valid_key
from objstore.domain.listing import FolderItem, walk_files
from objstore.domain.streams import CHUNK_SIZE, copy_stream
from objstore.domain.sync.planner import Entry

__all__ = ["Filters", "LocalFolder", "local_token"]

RESERVED = ".objstore"  # objstore's own folder (sync state): never synced
TEMPORARY = ".objstore-tmp-"  # downloads in progress: never synced


def _remove_if_abandoned(path: str) -> None:
    """Remove a temporary file (``.objstore-tmp-PID-...``) whose writing process no longer runs."""
    try:
        pid = int(os.path.basename(path)[len(TEMPORARY) :].split("-", 1)[0])
    except ValueError:
        return
    if pid == os.getpid():
        return
    try:
        os.kill(pid, 0)
        return  # still running (or another user's process): leave it
    except ProcessLookupError:
        pass
    except PermissionError:
        return
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
    """A local folder's files as sync entries, in key order.

    Args:
        root: The folder.
        filters: Which keys take part.
        follow_symlinks: Follow links (default), with cycle detection; otherwise links are skipped.
    """

    root: Path
    filters: Filters = field(default_factory=Filters)
    follow_symlinks: bool = True
    problems: list[str] = field(default_factory=list)
    problem_keys: set[str] = field(default_factory=set)  # entries that exist but could not be read

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self._tmp_dev: int | None = None

    @property
    def reserved(self) -> Path:
        return self.root / RESERVED

    def entries(self) -> Iterator[Entry]:
        """Every file under the root, in key order; loops, broken links and unnameable files are reported."""
        if not self.root.is_dir():
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
                            if not self.follow_symlinks:
                                continue
                            st = os.stat(item.path)
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
                        self.problems.append(f"{key!r}: a name no object key can carry (skipped)")
                        continue
                    items.append((key + "/" if is_dir else key, item.path, st, is_dir))
        except OSError as exc:
            self.problems.append(f"{prefix or '.'}: cannot be read ({exc.strerror})")
            raise
        items.sort(key=lambda item: item[0])  # "a/" after "a-c": the order of the keys the entries produce
        return items

    # --- reading and writing files ---------------------------------------------------------------------------

    def path_of(self, key: str) -> Path:
        return self.root.joinpath(*key.split("/"))

    def token(self, key: str) -> str:
        return local_token(os.stat(self.path_of(key)))

    def open(self, key: str) -> IO[bytes]:
        return open(self.path_of(key), "rb")

    def sha256(self, key: str) -> str:
        digest = hashlib.sha256()
        with self.open(key) as handle:
            while chunk := handle.read(CHUNK_SIZE):
                digest.update(chunk)
        return digest.hexdigest()

    def write(self, key: str, source: IO[bytes] | Any, mtime_ns: int | None, *, expect: object = None) -> str:
        """Write a file atomically (temporary file, fsync, rename), with the given mtime; returns its token.

        ``expect``: the token the file must still have (or an object other than a str: it must not exist), checked
        just before the rename, so a local edit made during the sync is not overwritten. None: overwrite.
        """
        target = self.path_of(key)
        self._make_parents(target)
        tmp = self._temporary_for(target)
        digest = hashlib.sha256()
        try:
            with open(tmp, "xb") as handle:

                def sink(chunk: memoryview) -> None:
                    digest.update(chunk)
                    handle.write(chunk)

                copy_stream(source, sink)
                handle.flush()
                os.fsync(handle.fileno())
            if mtime_ns is not None:
                os.utime(tmp, ns=(mtime_ns, mtime_ns))
            if target.is_dir() and not target.is_symlink():
                raise IsADirectoryError(f"{key}: a folder of that name is in the way")
            if expect is not None:
                current = local_token(os.stat(target)) if os.path.lexists(target) else None
                if current != (expect if isinstance(expect, str) else None):
                    raise FileExistsError(f"{key}: changed locally during the sync; not overwritten")
            os.replace(tmp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        return local_token(os.stat(target))

    def _temporary_for(self, target: Path) -> Path:
        """Where a download is written before its rename: in ``.objstore/tmp`` (never seen among the folder's
        files), unless the target's folder is on another filesystem (a linked folder), where it goes beside the
        target so the rename stays atomic. Either way its name marks it as objstore's, and a temporary file
        whose writer was killed is removed by the next run."""
        name = f"{TEMPORARY}{os.getpid()}-{uuid.uuid4().hex}"
        if self._tmp_dev is None:
            tmp_dir = self.reserved / "tmp"
            tmp_dir.mkdir(parents=True, exist_ok=True)
            for stale in tmp_dir.iterdir():
                _remove_if_abandoned(str(stale))
            self._tmp_dev = os.stat(tmp_dir).st_dev
        if os.stat(target.parent).st_dev == self._tmp_dev:
            return self.reserved / "tmp" / name
        return target.parent / name

    def _make_parents(self, target: Path) -> None:
        """Create the parent folders; a file standing where a folder must go is replaced (it was synced away)."""
        parent = target.parent
        for ancestor in reversed([parent, *parent.parents]):
            if ancestor == self.root or (self.root not in ancestor.parents and ancestor != self.root):
                continue
            if ancestor.is_file() and not ancestor.is_symlink():
                ancestor.unlink()
        parent.mkdir(parents=True, exist_ok=True)

    def delete(self, key: str) -> None:
        path = self.path_of(key)
        path.unlink()
        # Remove folders left empty, up to the root.
        for folder in path.parents:
            if folder == self.root or self.root not in folder.parents:
                break
            try:
                folder.rmdir()
            except OSError:
                break
