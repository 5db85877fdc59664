"""Sync: a pure planner over listings and a state of the last sync, and an executor that carries plans out."""

from __future__ import annotations

from objstore.domain.sync.engine import LocalSide, StoreSide, SyncOptions, SyncReport, run_sync
from objstore.domain.sync.local import Filters, LocalFolder
from objstore.domain.sync.planner import Action, ActionKind, Entry, Policy, Prior, plan_one_way, plan_two_way
from objstore.domain.sync.state import SyncState

__all__ = [
    "Action",
    "ActionKind",
    "Entry",
    "Filters",
    "LocalFolder",
    "LocalSide",
    "Policy",
    "Prior",
    "StoreSide",
    "SyncOptions",
    "SyncReport",
    "SyncState",
    "plan_one_way",
    "plan_two_way",
    "run_sync",
]
