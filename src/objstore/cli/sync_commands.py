"""push, pull and sync: a local folder and a store, or two stores, with the options of rclone and aws s3 sync."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from objstore.cli.app import main, notices, verbose
from objstore.cli.errors import CommandError, handled
from objstore.cli.locations import layers, open_store, parse_location
from objstore.cli.output import Progress, finish
from objstore.cli.units import duration, size
from objstore.domain.service import ObjectStorageService
from objstore.factory import ObjectStorageFactory
from objstore.ports.storage import unwrap
from objstore.syncing.backup import StoreFolder
from objstore.syncing.report import SyncReport

__all__ = ["pull", "push", "sync_command"]


def _lines_of(paths: tuple[str, ...], what: str) -> list[str]:
    """The patterns (or keys) of ``--include-from`` style files: one per line; blank lines and ``#`` comments
    are left out; ``-`` reads standard input."""
    found: list[str] = []
    for path in paths:
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"{what} {path}: {exc.strerror}") from None
        found += [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return found


_OPTIONS: list[Callable[[Callable[..., Any]], Callable[..., Any]]] = [
    click.option("--dry-run", "--dryrun", "-n", "dry_run", is_flag=True, help="Print the plan; change nothing."),
    click.option("--checksum", "-c", is_flag=True, help="Compare contents, not only sizes and times."),
    click.option("--size-only", is_flag=True, help="Compare sizes only (a file of the same size is unchanged)."),
    click.option("--ignore-existing", is_flag=True, help="Skip every file the destination already has."),
    click.option("--update", "-u", is_flag=True, help="Skip files that are newer on the destination."),
    click.option("--include", multiple=True, help="Only keys matching (gitignore syntax; repeatable)."),
    click.option("--exclude", multiple=True, help="Leave out keys matching (gitignore syntax; repeatable)."),
    click.option("--include-from", multiple=True, metavar="FILE", help="--include patterns, one per line."),
    click.option("--exclude-from", multiple=True, metavar="FILE", help="--exclude patterns, one per line."),
    click.option("--files-from", multiple=True, metavar="FILE", help="Only the keys listed, one per line."),
    click.option(
        "--filter",
        "rules",
        multiple=True,
        help="Ordered rules, first match wins: '+ pattern' includes, '- pattern' excludes (repeatable).",
    ),
    click.option("--min-size", metavar="SIZE", help="Only files of at least this size (100k, 1.5M, 2G)."),
    click.option("--max-size", metavar="SIZE", help="Only files of at most this size."),
    click.option("--min-age", metavar="AGE", help="Only files last changed at least this long ago (30m, 7d)."),
    click.option("--max-age", metavar="AGE", help="Only files last changed at most this long ago."),
    click.option("--delete-excluded", is_flag=True, help="Also delete what the filters leave out, there."),
    click.option("--follow-symlinks/--no-follow-symlinks", default=True, help="Follow symbolic links (default)."),
    click.option("--jobs", "--transfers", "-j", "jobs", default=8, show_default=True, help="Transfers at once."),
    click.option(
        "--checkers",
        type=click.IntRange(min=1),
        help="Accepted for rclone's scripts: objstore compares from listings and needs no checkers.",
    ),
    click.option("--bwlimit", metavar="RATE", help="Most bytes a second over all transfers (10M = 10 MiB/s)."),
    click.option("--backup-dir", metavar="DIR", help="Move what would be overwritten or deleted here instead."),
    click.option("--suffix", help="Add this to the names moved aside (alone: beside the original)."),
    click.option("--max-delete", default="50%", show_default=True, help="Refuse more deletes (N or P%)."),
    click.option("--force", is_flag=True, help="Allow large deletes; overwrite changes made on the other side."),
    click.option(
        "--state-dir",
        envvar="OBJSTORE_STATE_DIR",
        type=click.Path(file_okay=False, path_type=Path),
        help="Where sync states are kept (default: $XDG_STATE_HOME/objstore; never in the synced folder).",
    ),
    click.option("--progress", "-P", "show_progress", is_flag=True, help="Show progress, even off a terminal."),
    click.option("--json", "json_output", is_flag=True, help="Print the report (and plan) as JSON."),
    click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors."),
]


def sync_options(function: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_OPTIONS):
        function = option(function)
    return function


class _Run:
    """One sync command's options: split into what prints (progress, JSON, quiet) and the engine's settings."""

    def __init__(self, label: str, options: dict[str, Any]) -> None:
        self.json_output = options.pop("json_output")
        self.quiet = options.pop("quiet")
        forced = options.pop("show_progress")
        options.pop("checkers")
        notices.quiet = self.quiet
        self.progress = Progress(label, quiet=self.quiet or self.json_output, forced=forced, verbose=verbose())
        self.settings = _settings(options)

    def finish(self, report: SyncReport) -> None:
        self.progress.close()
        finish(report, json_output=self.json_output, quiet=self.quiet, plan_lines=_plan_lines)


def _plan_lines(report: SyncReport) -> list[str]:
    return [f"{label:<11} {key}  ({reason})" for label, key, reason in report.plan_lines()]


def _settings(options: dict[str, Any]) -> dict[str, Any]:
    """The engine's keyword settings (:class:`objstore.syncing.settings.SyncSettings`) from the command's options:
    files of patterns read, sizes and ages parsed, and options left unset left out (the engine's defaults hold)."""
    lists = {"include": "include_from", "exclude": "exclude_from", "files_from": "files_from"}
    settings: dict[str, Any] = {}
    for name, value in options.items():
        if name in _CONVERTED:
            value = None if value is None else _CONVERTED[name](value)
        elif name in lists.values():
            continue
        if value is not None:
            settings[name] = value
    for name, source in lists.items():
        given = (*(options.get(name) or ()), *_lines_of(options[source], f"--{source.replace('_', '-')}"))
        if given or name != "files_from":
            settings[name] = given
    return settings


_CONVERTED: dict[str, Callable[[str], Any]] = {
    "min_size": size,
    "max_size": size,
    "min_age": duration,
    "max_age": duration,
    "bwlimit": lambda text: size(text, default_unit="k"),
}


def _backup_place(settings: dict[str, Any], destination: str | None) -> None:
    """``--backup-dir`` given as a URL or remote (not a prefix of the destination store): that store's folder,
    refused where it overlaps the destination (the next sync would take the backups for data)."""
    text = settings.get("backup_dir")
    if not isinstance(text, str) or (":" not in text):
        return
    location = parse_location(text)
    if location.url is None:
        return
    if destination is not None:
        mine, theirs = urlsplit(location.url), urlsplit(parse_location(destination).url or destination)
        inner, outer = mine.path.rstrip("/") + "/", theirs.path.rstrip("/") + "/"
        same_store = (mine.scheme, mine.netloc) == (theirs.scheme, theirs.netloc)
        if same_store and (inner.startswith(outer) or outer.startswith(inner)):
            raise CommandError(
                f"--backup-dir {text} overlaps the destination {destination}: choose a folder outside it"
            )
    settings["backup_dir"] = StoreFolder(open_store(location.url, writing=True))


def _folder_root(service: ObjectStorageService, prefix: str) -> Path | None:
    """The local folder a folder store's ``prefix`` is (None for any other store)."""
    root = getattr(unwrap(service.adapter), "root", None)
    return Path(root, prefix) if isinstance(root, str) else None


def _refuse_overlap(local: Path, service: ObjectStorageService, prefix: str) -> None:
    """A folder synced with a folder store inside it (or around it) would copy itself into itself."""
    folder = _folder_root(service, prefix)
    if folder is None:
        return
    mine, theirs = local.expanduser().resolve(), folder.resolve()
    if mine == theirs or mine in theirs.parents or theirs in mine.parents:
        raise CommandError(f"the folder {str(mine)!r} and the store's folder {str(theirs)!r} overlap")


@main.command()
@click.argument("local", type=click.Path(file_okay=False, path_type=Path))
@click.argument("store", required=False)
@click.option("--prefix", default="", help="Folder inside the store.")
@click.option("--no-delete", is_flag=True, help="Keep objects the folder no longer has.")
@click.option("--delete", "delete_flag", is_flag=True, help="Delete objects the folder no longer has (the default).")
@sync_options
def push(local: Path, store: str | None, prefix: str, no_delete: bool, delete_flag: bool, **options: Any) -> None:
    """Mirror a local folder to a store (extra objects are deleted unless --no-delete)."""
    if no_delete and delete_flag:
        raise click.UsageError("--delete and --no-delete contradict each other")
    run = _Run("pushing", options)
    with handled():
        if not local.is_dir():
            raise CommandError(
                f"{local}: the folder does not exist" if not local.exists() else f"{local}: not a folder"
            )
        service = open_store(store, writing=True)
        _refuse_overlap(local, service, prefix)
        _backup_place(run.settings, store)
        run.finish(service.push(local, prefix, delete=not no_delete, progress=run.progress, **run.settings))


@main.command()
@click.argument("arguments", nargs=-1, required=True, metavar="[STORE] LOCAL")
@click.option("--prefix", default="", help="Folder inside the store.")
@click.option("--delete", is_flag=True, help="Delete local files the store does not have.")
@sync_options
def pull(arguments: tuple[str, ...], prefix: str, delete: bool, **options: Any) -> None:
    """Bring a store's objects into a local folder (local extras are kept unless --delete)."""
    if len(arguments) > 2:
        raise click.UsageError("pull takes [STORE] LOCAL")
    store, local = (None, arguments[0]) if len(arguments) == 1 else arguments
    run = _Run("pulling", options)
    with handled():
        target = Path(local)
        if target.exists() and not target.is_dir():
            raise CommandError(f"{local}: not a folder (a pull writes into a folder)")
        service = open_store(store, read_only=True)
        _refuse_overlap(target, service, prefix)
        run.finish(service.pull(prefix, target, delete=delete, progress=run.progress, **run.settings))


@main.command(name="sync")
@click.argument("source")
@click.argument("destination")
@click.option("--two-way", is_flag=True, help="Reconcile both sides from the state of the last sync.")
@click.option("--conflict", type=click.Choice(["fail", "newer", "keep-both"]), default="fail", show_default=True)
@click.option("--no-delete", is_flag=True)
@click.option("--delete", "delete_flag", is_flag=True, help="Delete what the source lacks (the default).")
@sync_options
def sync_command(
    source: str, destination: str, two_way: bool, conflict: str, no_delete: bool, delete_flag: bool, **options: Any
) -> None:
    """Sync between two stores (store URLs, remotes, or local folders)."""
    from objstore.syncing.api import sync as run_sync

    if no_delete and delete_flag:
        raise click.UsageError("--delete and --no-delete contradict each other")
    run = _Run("syncing", options)
    with handled():
        _backup_place(run.settings, destination)
        source_store, destination_store = _open_source(source), open_store(_as_url(destination), writing=True)
        folder = _folder_root(source_store, "")
        if folder is not None:
            _refuse_overlap(folder, destination_store, "")
        report = run_sync(
            source_store,
            destination_store,
            two_way=two_way,
            conflict=conflict,
            delete=not no_delete,
            progress=run.progress,
            **run.settings,
        )
        run.finish(report)


def _as_url(text: str) -> str:
    location = parse_location(text)
    return location.url if location.url is not None else str(location.local)


def _open_source(text: str) -> ObjectStorageService:
    """A sync's source must exist: a local folder is not created (a typo would look like an empty source)."""
    url = _as_url(text)
    if "://" not in url or url.lower().startswith("file:"):
        path = url.split("://", 1)[-1] if url.lower().startswith("file:") else url
        if not os.path.isdir(path):
            raise CommandError(f"{text}: the folder does not exist")
        return ObjectStorageFactory.from_url(url, create=False, **layers)
    return open_store(url)
