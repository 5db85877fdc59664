"""Sync: the application that keeps a local folder and a store (or two stores) equal, beside the domain.

* :mod:`~objstore.syncing.planner`: a pure planner from two listings and the state of the last sync to actions;
* :mod:`~objstore.syncing.state`: the state port (and an in-memory fake), :mod:`~objstore.syncing.sqlite_state` its
  SQLite adapter;
* :mod:`~objstore.syncing.sides` and :mod:`~objstore.syncing.local`: the two sides (a local folder, a store's folder);
* :mod:`~objstore.syncing.executor`: the executor that carries a plan out, into a :class:`SyncReport`, with
  :mod:`~objstore.syncing.backup` (``--backup-dir``) and :mod:`~objstore.syncing.throttle` (``--bwlimit``);
* :mod:`~objstore.syncing.settings`: the keyword settings push, pull and sync take (:class:`SyncSettings`);
* :mod:`~objstore.syncing.api`: the entry points: ``sync_folder`` (a push or a pull) and ``sync``.

The domain never imports this package at module level: ``ObjectStorageService.push`` / ``pull`` import it when
called, and the package root (``import objstore``) only on first use of ``objstore.sync`` (the function
:func:`objstore.syncing.api.sync`).
"""

from __future__ import annotations

from objstore.syncing.api import sync, sync_folder
from objstore.syncing.backup import Backup, FolderBackup, StoreBackup
from objstore.syncing.executor import SyncExecutor, run_sync
from objstore.syncing.local import Filters, LocalFolder
from objstore.syncing.planner import Action, ActionKind, Comparison, Entry, Policy, Prior, plan_one_way, plan_two_way
from objstore.syncing.report import Progress, SyncOptions, SyncReport
from objstore.syncing.settings import SyncSettings, resolve_settings
from objstore.syncing.sides import LocalSide, Side, StoreSide
from objstore.syncing.sqlite_state import SyncState, SyncStateError, state_dir, state_path_for
from objstore.syncing.state import MemorySyncState, SyncStatePort
from objstore.syncing.throttle import RateLimit

__all__ = [
    "Action",
    "ActionKind",
    "Backup",
    "Comparison",
    "Entry",
    "Filters",
    "FolderBackup",
    "LocalFolder",
    "LocalSide",
    "MemorySyncState",
    "Policy",
    "Prior",
    "Progress",
    "RateLimit",
    "Side",
    "StoreBackup",
    "StoreSide",
    "SyncExecutor",
    "SyncOptions",
    "SyncReport",
    "SyncSettings",
    "SyncState",
    "SyncStateError",
    "SyncStatePort",
    "plan_one_way",
    "plan_two_way",
    "resolve_settings",
    "run_sync",
    "state_dir",
    "state_path_for",
    "sync",
    "sync_folder",
]
