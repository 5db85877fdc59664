"""The keyword settings that push, pull and sync all take, written once, and what they turn into.

``ObjectStorageService.push`` / ``pull`` and :func:`objstore.syncing.api.sync` take ``**settings:
Unpack[SyncSettings]``: mypy checks each keyword against :class:`SyncSettings`, and :func:`resolve_settings` (the
one place that reads them) refuses any other at run time with a ``TypeError``, as a misspelt keyword argument is.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, TypedDict, cast

from objstore.syncing.backup import StoreFolder
from objstore.syncing.local import Filters
from objstore.syncing.planner import Policy
from objstore.syncing.report import SyncOptions

__all__ = ["SyncSettings", "resolve_settings"]


class SyncSettings(TypedDict, total=False):
    """The settings of a push, a pull or a sync (each optional; the CLI flag, and rclone's or aws's, in brackets).

    Attributes:
        force: Allow large deletes and overwrite changes made on the destination (``--force``).
        dry_run: Plan only; change nothing (``--dry-run``; aws ``--dryrun``, rclone ``-n``).
        checksum: Compare contents even where nothing seems changed (``--checksum``, rclone ``-c``).
        include: Only keys matching these gitignore patterns (``--include``).
        exclude: Leave out keys matching these patterns (``--exclude``).
        rules: Ordered ``"+ pattern"`` / ``"- pattern"`` rules, first match wins (``--filter``).
        delete_excluded: Also delete on the destination what the filters leave out (``--delete-excluded``).
        follow_symlinks: Read through symbolic links in a pushed folder (default True).
        jobs: Transfers at once (``--jobs``; rclone ``--transfers``).
        max_delete: Refuse more deletes than this count or percentage, unless ``force`` (``--max-delete``).
        size_only: Keys on both sides with the same size are skipped, whatever else changed (``--size-only``).
        ignore_existing: Keys the destination has are never overwritten (``--ignore-existing``).
        update: Keys whose destination copy is newer than the source's are skipped (``--update``, rclone ``-u``).
        min_size: Only entries of at least this many bytes (``--min-size``).
        max_size: Only entries of at most this many bytes (``--max-size``).
        min_age: Only entries modified at least this long ago (``--min-age``).
        max_age: Only entries modified at most this long ago (``--max-age``).
        files_from: Only these keys (paths relative to the synced folders) take part (``--files-from``).
        backup_dir: Where what the sync would overwrite or delete on the destination is moved first: a prefix of
            the destination store (push, sync) or a local folder (pull), outside the synced one (``--backup-dir``).
        suffix: Appended to the names of backups; alone, backups are kept beside their keys (``--suffix``).
        bwlimit: Bytes per second, all transfers of the sync together (``--bwlimit``).
    """

    force: bool
    dry_run: bool
    checksum: bool
    include: Sequence[str]
    exclude: Sequence[str]
    rules: Sequence[str]
    delete_excluded: bool
    follow_symlinks: bool
    jobs: int
    max_delete: str
    size_only: bool
    ignore_existing: bool
    update: bool
    min_size: int | None
    max_size: int | None
    min_age: timedelta | None
    max_age: timedelta | None
    files_from: Sequence[str] | None
    backup_dir: str | StoreFolder | None
    suffix: str
    bwlimit: int | None


_KNOWN = frozenset(SyncSettings.__optional_keys__)
_OPTIONS = (
    "force",
    "dry_run",
    "checksum",
    "delete_excluded",
    "follow_symlinks",
    "jobs",
    "max_delete",
    "size_only",
    "ignore_existing",
    "update",
    "backup_dir",
    "suffix",
    "bwlimit",
)


def resolve_settings(
    settings: SyncSettings, *, delete: bool, two_way: bool = False, policy: Policy = Policy.FAIL
) -> tuple[SyncOptions, Filters]:
    """A sync's options and filters from its settings (``delete``, ``two_way`` and ``policy`` come apart).

    Raises:
        TypeError: A setting :class:`SyncSettings` does not name.
        ConfigurationError: A value out of range, or settings that contradict each other.
    """
    unknown = sorted(set(settings) - _KNOWN)
    if unknown:
        raise TypeError(f"unknown sync setting(s): {', '.join(unknown)} (known: {', '.join(sorted(_KNOWN))})")
    raw = cast("dict[str, Any]", settings)
    given = {name: raw[name] for name in _OPTIONS if name in raw}
    options = SyncOptions(delete=delete, two_way=two_way, policy=policy, **given)
    suffix_alone = bool(options.suffix) and not options.backup_dir
    filters = Filters.of(
        settings.get("include", ()),
        settings.get("exclude", ()),
        settings.get("rules", ()),
        files_from=settings.get("files_from"),
        min_size=settings.get("min_size"),
        max_size=settings.get("max_size"),
        min_age=settings.get("min_age"),
        max_age=settings.get("max_age"),
        # Backups kept beside their keys are never synced (a mirror would delete them as extras):
        hidden_suffix=options.suffix if suffix_alone else "",
    )
    return options, filters
