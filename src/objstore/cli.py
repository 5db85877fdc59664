"""The objstore command line: push, pull, sync, ls, cat, put, rm, stat, cp, share, purge.

The store comes from ``--store`` (or the command's argument), else ``OBJSTORE_URL``, else the Naas settings
(``NAAS_API_KEY`` ...), else the embedded default: a local folder store in ``$OBJSTORE_HOME/store``
(``~/.local/share/objstore/store``). Credentials come only from the environment, files and the SDKs' chains:
never from the command line (a URL with a secret in it is refused).

Exit codes: 0 done; 1 some operations failed (or conflicts were left); 2 usage, configuration or credentials error.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import click

from objstore.domain.errors import (
    AuthenticationError,
    ConfigurationError,
    InvalidKey,
    InvalidMetadata,
    NotSupported,
    ObjectStorageError,
)
from objstore.domain.service import ObjectStorageService
from objstore.domain.streams import copy_stream
from objstore.factory import ObjectStorageFactory
from objstore.syncing.report import SyncReport

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def default_store_url() -> str:
    home = os.environ.get("OBJSTORE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share", "objstore")
    return "file://" + os.path.join(os.path.abspath(home), "store")


# Layer options given to the command group (``objstore --retries 8 push ...``), applied to every store opened.
_layers: dict[str, Any] = {}


def open_store(url: str | None, *, read_only: bool = False, **options: Any) -> ObjectStorageService:
    """The store named, else the configured one (OBJSTORE_URL, Naas settings), else the embedded default.

    ``read_only``: for commands that only read (ls, cat, stat, share): a folder store's folder is not created.
    """
    options = {**_layers, **options}
    if url:
        return ObjectStorageFactory.from_url(url, **_read_only(url, read_only), **options)
    try:
        return ObjectStorageFactory.from_env(**options)
    except ConfigurationError as exc:
        if "no store configured" not in exc.message:
            raise
    # The embedded default store reads as empty until the first push creates it (nothing is made by a read).
    return ObjectStorageFactory.from_url(default_store_url(), **options)


def _read_only(url: str, read_only: bool) -> dict[str, Any]:
    is_folder = "://" not in url or url.lower().startswith("file:")
    return {"create": False} if read_only and is_folder else {}


@contextmanager
def handled(json_output: bool = False) -> Iterator[None]:
    """One-line errors and meaningful exit codes for every command."""
    try:
        yield
    except (AuthenticationError, ConfigurationError, InvalidKey, InvalidMetadata, NotSupported, ValueError) as exc:
        _fail(exc, EXIT_USAGE, json_output)  # to be fixed by whoever runs the command: settings, credentials
    except ObjectStorageError as exc:
        _fail(exc, EXIT_FAILED, json_output)
    except OSError as exc:
        _fail(exc, EXIT_FAILED, json_output)


def _fail(exc: BaseException, code: int, json_output: bool) -> None:
    message = str(exc)
    if json_output:
        click.echo(json.dumps({"ok": False, "error": message, "type": type(exc).__name__}))
    else:
        click.echo(f"objstore: error: {message}", err=True)
    sys.exit(code)


class _Progress:
    """A live status line (files, bytes, rate; ETA once the whole plan is known) on a terminal; one plain line per
    change otherwise; nothing with --quiet. Planning runs only a little ahead of the transfers (that bounds memory),
    so the total, and with it an ETA, is known only once planning has finished.
    """

    def __init__(self, quiet: bool, label: str) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.label = label
        self.files = 0
        self.bytes = 0
        self.planned = 0
        self.total_known = False
        self.started = time.monotonic()
        self.shown = 0.0

    def __call__(self, event: str, key: str, size: int) -> None:
        if event == "queued":
            self.planned += size
            return
        if event == "planned":
            self.total_known = True
            return
        if self.quiet or event == "skip":
            return
        self.files += 1
        self.bytes += size
        if not self.tty:
            click.echo(f"{event} {key} ({size:,} bytes)" if size else f"{event} {key}", err=True)
            return
        now = time.monotonic()
        if now - self.shown >= 0.1:
            self.shown = now
            rate = self.bytes / max(now - self.started, 1e-6)
            left = max(self.planned - self.bytes, 0)
            if self.total_known:
                done = f"{self.bytes / 2**20:,.1f} of {self.planned / 2**20:,.1f} MiB"
                eta = f", ETA {left / rate:,.0f}s" if rate > 0 else ""
            else:
                done, eta = f"{self.bytes / 2**20:,.1f} MiB", ""
            line = f"\r{self.label}: {self.files:,} files, {done}, {rate / 2**20:,.1f} MiB/s{eta}   "
            click.echo(line, err=True, nl=False)

    def close(self) -> None:
        if self.tty and self.files and not self.quiet:
            click.echo("", err=True)


def _finish(report: SyncReport, json_output: bool, quiet: bool) -> None:
    if json_output:
        click.echo(report.to_json())
        for key, reason in sorted(report.skipped.items()):
            click.echo(f"objstore: NOT SYNCED: {key}: {reason}", err=True)
    else:
        if report.dry_run:
            for action in report.plan:
                if action.kind.value not in ("skip", "forget"):
                    click.echo(f"{action.kind.value:<9} {action.key}  ({action.reason})")
        if not quiet or not report.ok or report.conflicts:
            click.echo(report.summary(), err=not report.dry_run)
    sys.exit(EXIT_OK if report.ok and not report.conflicts else EXIT_FAILED)


def sync_options(function: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.option("--dry-run", is_flag=True, help="Print the plan; change nothing."),
            click.option("--checksum", is_flag=True, help="Compare contents, not only sizes and times."),
            click.option("--include", multiple=True, help="Only keys matching (gitignore syntax; repeatable)."),
            click.option("--exclude", multiple=True, help="Leave out keys matching (gitignore syntax; repeatable)."),
            click.option(
                "--filter",
                "rules",
                multiple=True,
                help="Ordered rules, first match wins: '+ pattern' includes, '- pattern' excludes (repeatable).",
            ),
            click.option("--delete-excluded", is_flag=True, help="Also delete what the filters leave out, there."),
            click.option(
                "--follow-symlinks/--no-follow-symlinks", default=True, help="Follow symbolic links (default)."
            ),
            click.option("--jobs", "-j", default=8, show_default=True, help="Transfers at once."),
            click.option("--max-delete", default="50%", show_default=True, help="Refuse more deletes (N or P%)."),
            click.option(
                "--force", is_flag=True, help="Allow large deletes; overwrite changes made on the other side."
            ),
            click.option(
                "--state-dir",
                envvar="OBJSTORE_STATE_DIR",
                type=click.Path(file_okay=False, path_type=Path),
                help="Where sync states are kept (default: $XDG_STATE_HOME/objstore; never in the synced folder).",
            ),
            click.option("--json", "json_output", is_flag=True, help="Print the report (and plan) as JSON."),
            click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors."),
        ]
    ):
        function = option(function)
    return function


class _Commands(click.Group):
    """The command group, with usage errors on one line (``objstore: error: ...``) and exit code 2."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            result = super().main(*args, **kwargs)
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help() if exc.ctx else exc.format_message())
            sys.exit(EXIT_OK)
        except click.UsageError as exc:
            where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            click.echo(f"objstore: error: {exc.format_message()}{where}", err=True)
            sys.exit(EXIT_USAGE)
        except click.ClickException as exc:
            click.echo(f"objstore: error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except (click.exceptions.Abort, KeyboardInterrupt):
            # Transfers in flight were finished and the state saved (what was done is not redone on a rerun).
            signum = _received_signal or signal.SIGINT
            click.echo(f"objstore: interrupted ({signal.Signals(signum).name})", err=True)
            sys.exit(128 + signum)
        sys.exit(result if isinstance(result, int) else EXIT_OK)


_received_signal: int | None = None


def _on_signal(signum: int, _frame: object) -> None:
    """SIGINT and SIGTERM stop a command the same way: as an interrupt, cleaned up, exit code 128 + the signal."""
    global _received_signal
    _received_signal = signum
    raise KeyboardInterrupt


def _handle_signals() -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError, OSError):  # not the main thread (an embedding application)
            signal.signal(signum, _on_signal)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="objstore")
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    envvar="OBJSTORE_RETRIES",
    help="Tries after a failure that is safe to retry (default 9 for network stores; 0 turns retries off).",
)
@click.option(
    "--retry-deadline",
    type=click.FloatRange(min=0, min_open=True),
    envvar="OBJSTORE_RETRY_DEADLINE",
    help="Seconds after which an operation is not tried again (default 60).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    envvar="OBJSTORE_CONCURRENCY",
    help="Most store calls in flight at once, whatever the number of jobs.",
)
@click.option(
    "--log-operations",
    is_flag=True,
    envvar="OBJSTORE_LOG_OPERATIONS",
    help="Log one line per store operation to standard error (secrets masked).",
)
@click.option(
    "--faults",
    envvar="OBJSTORE_FAULTS",
    metavar="SPEC",
    help="Chaos drill: inject faults, e.g. transient=0.1,throttle=0.02,cut=0.01,seed=7 (see docs/reliability.md).",
)
def main(
    retries: int | None,
    retry_deadline: float | None,
    concurrency: int | None,
    log_operations: bool,
    faults: str | None,
) -> None:
    """objstore: one API over every object store, and a folder sync you can trust."""
    _handle_signals()
    _layers.clear()
    if retries is not None:
        _layers.update(retry=retries > 0, retry_attempts=retries + 1)
    if retry_deadline is not None:
        _layers["retry_deadline"] = retry_deadline
    if concurrency is not None:
        _layers["concurrency"] = concurrency
    if faults:
        _layers["faults"] = faults
    if log_operations:
        _layers["log_operations"] = True
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        operations = logging.getLogger("objstore.operations")
        operations.addHandler(handler)
        operations.setLevel(logging.DEBUG)


@main.command()
@click.argument("local", type=click.Path(file_okay=False, path_type=Path))
@click.argument("store", required=False)
@click.option("--prefix", default="", help="Folder inside the store.")
@click.option("--no-delete", is_flag=True, help="Keep objects the folder no longer has.")
@sync_options
def push(local: Path, store: str | None, prefix: str, no_delete: bool, **options: Any) -> None:
    """Mirror a local folder to a store (extra objects are deleted unless --no-delete)."""
    json_output, quiet = options.pop("json_output"), options.pop("quiet")
    progress = _Progress(quiet or json_output, "pushing")
    with handled(json_output):
        service = open_store(store)
        try:
            report = service.push(local, prefix, delete=not no_delete, progress=progress, **options)
        finally:
            progress.close()
        _finish(report, json_output, quiet)


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
    json_output, quiet = options.pop("json_output"), options.pop("quiet")
    progress = _Progress(quiet or json_output, "pulling")
    with handled(json_output):
        service = open_store(store)
        try:
            report = service.pull(prefix, Path(local), delete=delete, progress=progress, **options)
        finally:
            progress.close()
        _finish(report, json_output, quiet)


@main.command(name="ls")
@click.argument("prefix", default="")
@click.option("--store", "-s", help="Store URL (default: OBJSTORE_URL, Naas settings, the local default).")
@click.option("--recursive", "-r", is_flag=True, help="Every object below, not only immediate children.")
@click.option("--long", "-l", "long_format", is_flag=True, help="Sizes and times too.")
@click.option("--json", "json_output", is_flag=True)
def list_command(prefix: str, store: str | None, recursive: bool, long_format: bool, json_output: bool) -> None:
    """List objects and sub-prefixes under a prefix."""
    with handled(json_output):
        for info in open_store(store, read_only=True).iter_objects(prefix, recursive=recursive):
            if json_output:
                click.echo(
                    json.dumps({"key": info.key, "size": info.size, "etag": info.etag, "prefix": info.is_prefix})
                )
            elif long_format and not info.is_prefix:
                when = info.last_modified.strftime("%Y-%m-%d %H:%M:%S") if info.last_modified else "-"
                click.echo(f"{info.size:>14,}  {when}  {info.key}")
            else:
                click.echo(info.key)


@main.command()
@click.argument("key")
@click.option("--store", "-s")
def cat(key: str, store: str | None) -> None:
    """Write an object's content to standard output."""
    with handled(), open_store(store, read_only=True).get_object_stream("", key) as stream:
        copy_stream(stream, sys.stdout.buffer.write)


@main.command()
@click.argument("source", type=click.Path(dir_okay=False, allow_dash=True))
@click.argument("key")
@click.option("--store", "-s")
@click.option("--content-type")
@click.option("--if-absent", is_flag=True, help="Create only: fail if the object exists.")
def put(source: str, key: str, store: str | None, content_type: str | None, if_absent: bool) -> None:
    """Upload a file (or standard input, "-") as an object."""
    with handled():
        service = open_store(store)
        stream = sys.stdin.buffer if source == "-" else open(source, "rb")  # noqa: SIM115
        with stream:
            info = service.put_object_stream(
                "", key, stream, content_type=content_type, if_none_match="*" if if_absent else None
            )
        click.echo(f"{info.key}  {info.size:,} bytes  etag {info.etag}")


@main.command()
@click.argument("keys", nargs=-1, required=True)
@click.option("--store", "-s")
def rm(keys: tuple[str, ...], store: str | None) -> None:
    """Delete objects."""
    with handled():
        result = open_store(store).delete_objects("", list(keys))
        for key, error in result.errors.items():
            click.echo(f"objstore: {key}: {error}", err=True)
        sys.exit(EXIT_OK if result.ok else EXIT_FAILED)


@main.command()
@click.argument("key")
@click.option("--store", "-s")
def stat(key: str, store: str | None) -> None:
    """Show an object's metadata as JSON."""
    with handled(True):
        info = open_store(store, read_only=True).head_object("", key)
        click.echo(
            json.dumps(
                {
                    "key": info.key,
                    "size": info.size,
                    "etag": info.etag,
                    "last_modified": info.last_modified.isoformat() if info.last_modified else None,
                    "content_type": info.content_type,
                    "metadata": dict(info.metadata),
                    "sha256": info.checksum_sha256,
                },
                indent=2,
            )
        )


@main.command()
@click.argument("source_key")
@click.argument("dest_key")
@click.option("--store", "-s")
def cp(source_key: str, dest_key: str, store: str | None) -> None:
    """Copy an object inside a store (server-side where the store can)."""
    with handled():
        open_store(store).copy_object("", source_key, "", dest_key)


@main.command()
@click.argument("key")
@click.option("--store", "-s")
@click.option("--expires", default="1h", show_default=True, help="How long the link works (30m, 12h, 7d).")
@click.option("--upload", is_flag=True, help="A link to upload (PUT) instead of download.")
def share(key: str, store: str | None, expires: str, upload: bool) -> None:
    """Print a time-limited link to an object, where the store has them."""
    with handled():
        seconds = int(_duration(expires).total_seconds())
        service = open_store(store, read_only=True)
        click.echo(service.presign_url("", key, expires_in=seconds, method="PUT" if upload else "GET"))


@main.command()
@click.argument("prefix", default="")
@click.option("--store", "-s")
@click.option("--older-than", required=True, help="Delete objects last written before this long ago (30d, 12h).")
@click.option("--dry-run", is_flag=True)
def purge(prefix: str, store: str | None, older_than: str, dry_run: bool) -> None:
    """Delete objects older than a retention period (a "keep days" setting)."""
    with handled():
        service = open_store(store)
        cutoff = datetime.now(timezone.utc) - _duration(older_than)
        old = [
            info.key
            for info in service.iter_objects(prefix)
            if info.last_modified is not None and info.last_modified < cutoff
        ]
        for key in old:
            click.echo(f"{'would delete' if dry_run else 'delete'} {key}")
        if dry_run or not old:
            return
        result = service.delete_objects("", old)
        for key, error in result.errors.items():
            click.echo(f"objstore: {key}: {error}", err=True)
        sys.exit(EXIT_OK if result.ok else EXIT_FAILED)


@main.command(name="sync")
@click.argument("source")
@click.argument("destination")
@click.option("--two-way", is_flag=True, help="Reconcile both sides from the state of the last sync.")
@click.option("--conflict", type=click.Choice(["fail", "newer", "keep-both"]), default="fail", show_default=True)
@click.option("--no-delete", is_flag=True)
@sync_options
def sync_command(source: str, destination: str, two_way: bool, conflict: str, no_delete: bool, **options: Any) -> None:
    """Sync between two stores (store URLs, or local folders)."""
    from objstore.syncing.api import sync as run

    json_output, quiet = options.pop("json_output"), options.pop("quiet")
    progress = _Progress(quiet or json_output, "syncing")
    with handled(json_output):
        try:
            report = run(
                _open_source(source),
                open_store(destination),
                two_way=two_way,
                conflict=conflict,
                delete=not no_delete,
                progress=progress,
                **options,
            )
        finally:
            progress.close()
        _finish(report, json_output, quiet)


def _open_source(url: str) -> ObjectStorageService:
    """A sync's source must exist: a local folder is not created (a typo would look like an empty source)."""
    if "://" not in url or url.lower().startswith("file:"):
        return ObjectStorageFactory.from_url(url, create=False, **_layers)
    return open_store(url)


def _duration(text: str) -> timedelta:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if match is None:
        raise click.BadParameter(f"{text!r} is not a duration like 30m, 12h, 30d")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[match.group(2)]
    return timedelta(**{unit: float(match.group(1))})


if __name__ == "__main__":  # pragma: no cover
    main()
