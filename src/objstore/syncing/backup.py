"""--backup-dir / --suffix: what a sync would overwrite or delete on its destination is kept aside first.

A backup that fails stops the overwrite or the delete of that key (the key is reported as failed): nothing a
sync replaces is lost. A backup place inside the synced folder (or holding it) is refused, as rclone refuses
overlapping backup folders: the next sync would take the backups for data.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from objstore.adapters.localfs import temporary_name
from objstore.domain.errors import ConfigurationError, ObjectNotFound
from objstore.domain.keys import normalize_prefix
from objstore.domain.service import ObjectStorageService

__all__ = ["Backup", "FolderBackup", "StoreBackup", "StoreFolder", "folder_backup", "store_backup"]


@dataclass(frozen=True)
class StoreFolder:
    """A folder of a store given as a backup place (``--backup-dir s3://bucket/backups``): another store, or the
    same one opened at another root. The caller checks that it does not overlap the synced folder."""

    service: ObjectStorageService
    prefix: str = ""


class Backup(Protocol):
    """Where a sync's destination keeps what it replaces."""

    def where(self, key: str) -> str:
        """Where the backup of ``key`` goes (for plans and messages)."""
        ...

    def save(self, key: str) -> None:
        """Keep the destination's ``key`` aside, as it is now; raises if that fails (nothing there: nothing to do)."""
        ...


class StoreBackup:
    """Backups in the destination store: ``key`` copied to ``backup_prefix/key + suffix`` (server side), or in
    another store's folder (``target``: copied through this process, in bounded memory)."""

    def __init__(
        self,
        service: ObjectStorageService,
        prefix: str,
        backup_prefix: str,
        suffix: str,
        target: ObjectStorageService | None = None,
    ) -> None:
        self.service, self.prefix, self.suffix = service, normalize_prefix(prefix), suffix
        self.backup_prefix = normalize_prefix(backup_prefix)
        same = target is None or target.store_identity == service.store_identity
        self.target = None if same else target

    def where(self, key: str) -> str:
        return f"{self.backup_prefix}/{key}{self.suffix}" if self.backup_prefix else key + self.suffix

    def save(self, key: str) -> None:
        with contextlib.suppress(ObjectNotFound):  # gone since the listing: nothing to keep
            if self.target is None:
                self.service.copy_object(self.prefix, key, self.backup_prefix, key + self.suffix)
                return
            with self.service.get_object_stream(self.prefix, key) as stream:
                self.target.put_object_stream(self.backup_prefix, key + self.suffix, stream)


class FolderBackup:
    """Backups in a local folder: the file copied (with its times) to ``backup/key + suffix``.

    Copied, not hard-linked or moved: either would change the file's ctime, so the write that follows would take
    the file for one changed locally during the sync, and refuse to replace it.
    """

    def __init__(self, root: Path, backup_root: Path, suffix: str) -> None:
        self.root, self.backup_root, self.suffix = root, backup_root, suffix

    def where(self, key: str) -> str:
        return str(self.backup_root.joinpath(*(key + self.suffix).split("/")))

    def save(self, key: str) -> None:
        origin = self.root.joinpath(*key.split("/"))
        target = Path(self.where(key))
        if not os.path.lexists(origin):
            return  # gone since the listing: nothing to keep
        target.parent.mkdir(parents=True, exist_ok=True)
        staged = target.with_name(temporary_name("backup-"))
        try:
            shutil.copy2(origin, staged, follow_symlinks=False)
            os.replace(staged, target)  # an older backup of the key is replaced, as rclone does
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(staged)
            raise


def _nested(a: str, b: str) -> bool:
    """Whether one of two normalised prefixes is inside the other (or they are the same; "" holds everything)."""
    return not a or not b or a == b or a.startswith(b + "/") or b.startswith(a + "/")


def store_backup(
    service: ObjectStorageService, prefix: str, backup_dir: str | StoreFolder | None, suffix: str
) -> Backup | None:
    """The backups of a sync into ``service``'s folder ``prefix`` (None without ``backup_dir`` or ``suffix``)."""
    if isinstance(backup_dir, StoreFolder):
        if backup_dir.service.store_identity == service.store_identity:
            return store_backup(service, prefix, backup_dir.prefix or "/", suffix)
        return StoreBackup(service, prefix, backup_dir.prefix, suffix, target=backup_dir.service)
    if not backup_dir:
        return StoreBackup(service, prefix, prefix, suffix) if suffix else None
    where, synced = normalize_prefix(backup_dir), normalize_prefix(prefix)
    if _nested(where, synced):
        raise ConfigurationError(
            f"--backup-dir {backup_dir!r} overlaps the synced folder "
            f"{('/' + synced) if synced else '(the whole store)'}: choose a prefix outside it"
        )
    return StoreBackup(service, prefix, where, suffix)


def folder_backup(root: Path, backup_dir: str | StoreFolder | None, suffix: str) -> Backup | None:
    """The backups of a pull into the local folder ``root`` (None without ``backup_dir`` or ``suffix``)."""
    if isinstance(backup_dir, StoreFolder):
        raise ConfigurationError("a pull keeps its backups in a local folder: --backup-dir takes a local path")
    if not backup_dir:
        return FolderBackup(root, root, suffix) if suffix else None
    where = Path(backup_dir).expanduser().resolve()
    if where == root or root in where.parents or where in root.parents:
        raise ConfigurationError(
            f"--backup-dir {str(where)!r} overlaps the synced folder {str(root)!r}: choose a folder outside it"
        )
    return FolderBackup(root, where, suffix)
