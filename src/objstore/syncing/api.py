"""The sync entry points: a local folder to or from a store (push, pull), and any two stores (sync)."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from objstore.domain.errors import ConfigurationError
from objstore.domain.keys import normalize_prefix
from objstore.domain.service import ObjectStorageService
from objstore.syncing.backup import folder_backup, store_backup
from objstore.syncing.executor import run_sync
from objstore.syncing.local import Filters, LocalFolder
from objstore.syncing.planner import Policy
from objstore.syncing.report import Progress, SyncOptions, SyncReport
from objstore.syncing.settings import SyncSettings, resolve_settings
from objstore.syncing.sides import LocalSide, StoreSide
from objstore.syncing.sqlite_state import LEGACY_FOLDER, SyncState, migrate_in_tree_state, state_path_for

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["sync", "sync_folder"]

_POLICIES = {"fail": Policy.FAIL, "newer": Policy.NEWER_WINS, "keep-both": Policy.KEEP_BOTH}


def sync_folder(
    store: ObjectStorageService,
    direction: str,
    local_dir: str | os.PathLike[str],
    prefix: str,
    options: SyncOptions,
    filters: Filters,
    progress: Progress | None = None,
    state_dir: str | os.PathLike[str] | None = None,
) -> SyncReport:
    """A push (``direction="push"``: the folder into the store's folder ``prefix``) or a pull (``"pull"``).

    What :meth:`ObjectStorageService.push` and :meth:`~ObjectStorageService.pull` run (``options`` and ``filters``
    from :func:`~objstore.syncing.settings.resolve_settings`); see them for the options.
    """
    if direction not in ("push", "pull"):
        raise ValueError(f"direction is push or pull, not {direction!r}")
    folder = _FolderSync(store, direction, local_dir, prefix, options, state_dir)
    return folder.run(filters, progress)


class _FolderSync:
    """A push or a pull: the folder, the store's folder, and the state of that pair."""

    def __init__(
        self,
        store: ObjectStorageService,
        direction: str,
        local_dir: str | os.PathLike[str],
        prefix: str,
        options: SyncOptions,
        state_dir: str | os.PathLike[str] | None,
    ) -> None:
        self.store, self.direction, self.prefix, self.options = store, direction, prefix, options
        self.root = Path(local_dir).expanduser().resolve()
        self.state_dir = state_dir

    def run(self, filters: Filters, progress: Progress | None) -> SyncReport:
        pulling, options = self.direction == "pull", self.options
        delete_excluded = options.delete_excluded
        if pulling:
            backup = folder_backup(self.root, options.backup_dir, options.suffix)
        else:
            backup = store_backup(self.store, self.prefix, options.backup_dir, options.suffix)
        if pulling and not options.dry_run:
            self.root.mkdir(parents=True, exist_ok=True)
        elif not pulling and not self.root.is_dir():
            raise ConfigurationError(f"the folder to push, {str(self.root)!r}, does not exist")
        # --delete-excluded: the destination is seen unfiltered, so what the filters leave out is deleted there.
        everything = filters.everything()
        local_filters = everything if (delete_excluded and pulling) else filters
        remote_filters = everything if (delete_excluded and not pulling) else filters
        folder = LocalFolder(self.root, local_filters, options.follow_symlinks, writable=pulling)
        local, remote = LocalSide(folder), StoreSide(self.store, self.prefix, remote_filters)
        admits = filters.admits if filters.judges_entries else None
        path = self._state_path()
        if pulling and not options.dry_run:
            folder.check_writable()
        state = SyncState(path, read_only=options.dry_run)
        excluded = (lambda key: not filters.allows(key)) if delete_excluded else None
        try:
            if not pulling:
                return run_sync(
                    local, remote, state, options, progress=progress, excluded=excluded, admits=admits, backup=backup
                )
            return run_sync(
                remote,
                local,
                state,
                options,
                swap_state=True,
                progress=progress,
                copy_label="download",
                excluded=excluded,
                admits=admits,
                backup=backup,
            )
        except BaseException:
            state.discard_if_unused()  # a sync that could not start leaves no trace
            raise
        finally:
            state.close()

    def _state_path(self) -> Path:
        """One state per (folder, store folder), in the state directory: never inside the synced folder.

        A state an older objstore kept inside the folder is moved there once (read in place by a dry run).
        """
        identity, root = self.store.store_identity, self.root
        where = normalize_prefix(self.prefix)
        path = state_path_for(f"local:{root}|{identity}|{where}", self.state_dir)
        legacy_name = hashlib.sha256(f"{identity}|{where}".encode()).hexdigest()[:24] + ".sqlite"
        if not self.options.dry_run:
            return migrate_in_tree_state(root, legacy_name, path) or path
        if not path.exists() and (root / LEGACY_FOLDER / "sync" / legacy_name).is_file():
            return root / LEGACY_FOLDER / "sync" / legacy_name  # read in place: a dry run moves nothing
        return path


def _legacy_state_home() -> Path:
    """Where store-to-store states were kept before the state directory: ``$OBJSTORE_HOME/sync``."""
    home = os.environ.get("OBJSTORE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share", "objstore")
    return Path(home) / "sync"


def sync(
    source: ObjectStorageService,
    destination: ObjectStorageService,
    *,
    source_prefix: str = "",
    dest_prefix: str = "",
    two_way: bool = False,
    conflict: str = "fail",
    delete: bool = True,
    progress: Progress | None = None,
    state_path: str | os.PathLike[str] | None = None,
    state_dir: str | os.PathLike[str] | None = None,
    **settings: Unpack[SyncSettings],
) -> SyncReport:
    """Sync two stores (any two adapters: moving data between providers), one way or both ways.

    Args:
        two_way: Reconcile both sides from the state of the last sync; ``conflict`` settles keys changed on both
            (``fail``: reported and left alone; ``newer``: the later write wins; ``keep-both``: the destination's
            version is kept beside under a ``.conflict`` name).
        delete: Delete destination keys the source lacks (default: yes, a mirror).
        progress: Called with each event (see :data:`~objstore.syncing.report.Progress`).
        state_path: The state file of this pair (default: one per pair in the state directory, see
            :func:`objstore.syncing.sqlite_state.state_dir`).
        state_dir: The state directory, instead of the default.
        **settings: The settings push and pull take too (:class:`~objstore.syncing.settings.SyncSettings`);
            ``backup_dir`` is a prefix of the destination store, ``follow_symlinks`` has no effect (stores have no
            links).
    """
    options, filters = resolve_settings(settings, delete=delete, two_way=two_way, policy=_policy(conflict))
    backup = store_backup(destination, dest_prefix, options.backup_dir, options.suffix)
    dry_run = options.dry_run
    path = _stores_state_path(source, source_prefix, destination, dest_prefix, state_path, state_dir, dry_run)
    state = SyncState(path, read_only=dry_run)
    unfiltered = options.delete_excluded and not two_way  # --delete-excluded: the destination is seen whole
    try:
        return run_sync(
            StoreSide(source, source_prefix, filters),
            StoreSide(destination, dest_prefix, filters.everything() if unfiltered else filters),
            state,
            options,
            progress=progress,
            copy_label="copy",
            excluded=(lambda key: not filters.allows(key)) if unfiltered else None,
            admits=filters.admits if filters.judges_entries else None,
            backup=backup,
        )
    finally:
        state.close()


def _policy(conflict: str) -> Policy:
    policy = _POLICIES.get(conflict)
    if policy is None:
        raise ConfigurationError("conflict must be fail, newer or keep-both")
    return policy


def _stores_state_path(
    source: ObjectStorageService,
    source_prefix: str,
    destination: ObjectStorageService,
    dest_prefix: str,
    state_path: str | os.PathLike[str] | None,
    state_dir: str | os.PathLike[str] | None,
    dry_run: bool,
) -> Path:
    """The state of a pair of stores: ``state_path``, else in the state directory (moved there once from where
    it was kept before)."""
    if state_path:
        return Path(state_path)
    pair = (
        f"{source.store_identity}|{normalize_prefix(source_prefix)}|"
        f"{destination.store_identity}|{normalize_prefix(dest_prefix)}"
    )
    path = state_path_for(f"stores:{pair}", state_dir)
    legacy = _legacy_state_home() / f"{hashlib.sha256(pair.encode()).hexdigest()[:24]}.sqlite"
    if path.exists() or not legacy.is_file():
        return path
    if dry_run:
        return legacy
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(legacy, path)  # once: states moved to the state directory
    return path
