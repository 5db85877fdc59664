"""Sync: the application that keeps a local folder and a store (or two stores) equal, beside the domain.

* :mod:`~objstore.sync.planner`: a pure planner from two listings and the state of the last sync to actions;
* :mod:`~objstore.sync.state`: the state port (and an in-memory fake), :mod:`~objstore.sync.sqlite_state` its
  SQLite adapter;
* :mod:`~objstore.sync.sides` and :mod:`~objstore.sync.local`: the two sides (a local folder, a store's folder);
* :mod:`~objstore.sync.executor`: the executor that carries a plan out, into a :class:`SyncReport`;
* :mod:`~objstore.sync.api`: the entry points: ``sync_folder`` (a push or a pull) and ``sync``.

The domain never imports this package at module level: ``ObjectStorageService.push`` / ``pull`` import it when
called, and the package root (``import objstore``) only on first use of ``objstore.sync``.

``objstore.sync`` names this package and, as it always has, the function that syncs two stores: the package is
callable, as :func:`objstore.sync.api.sync` (``objstore.sync(source, destination, two_way=True)``).
"""

from __future__ import annotations

import sys
import types
from typing import Any

from objstore.sync.api import sync, sync_folder
from objstore.sync.executor import SyncExecutor, run_sync
from objstore.sync.local import Filters, LocalFolder
from objstore.sync.planner import Action, ActionKind, Entry, Policy, Prior, plan_one_way, plan_two_way
from objstore.sync.report import Progress, SyncOptions, SyncReport
from objstore.sync.sides import LocalSide, Side, StoreSide
from objstore.sync.sqlite_state import SyncState, SyncStateError, state_dir, state_path_for
from objstore.sync.state import MemorySyncState, SyncStatePort

__all__ = [
    "Action",
    "ActionKind",
    "Entry",
    "Filters",
    "LocalFolder",
    "LocalSide",
    "MemorySyncState",
    "Policy",
    "Prior",
    "Progress",
    "Side",
    "StoreSide",
    "SyncExecutor",
    "SyncOptions",
    "SyncReport",
    "SyncState",
    "SyncStateError",
    "SyncStatePort",
    "plan_one_way",
    "plan_two_way",
    "run_sync",
    "state_dir",
    "state_path_for",
    "sync",
    "sync_folder",
]


class _CallablePackage(types.ModuleType):
    """This package, callable as :func:`~objstore.sync.api.sync`: Python sets ``objstore.sync`` to the package
    whenever it is imported, so the package itself answers for the function of the same name."""

    def __call__(self, *args: Any, **kwargs: Any) -> SyncReport:
        return sync(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
