"""The ``objstore`` command group: global options, usage errors on one line, interrupts and closed pipes."""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import signal
import sys
from typing import Any

import click

from objstore.cli.errors import EXIT_OK, EXIT_PIPE, EXIT_USAGE, CommandError, StdoutClosed, fail
from objstore.cli.locations import layers

__all__ = ["main", "notices"]


class RetryNotices(logging.Handler):
    """Retries on standard error as they happen: each one with ``-v``; otherwise the first of the run only, with
    a hint (a dead endpoint is then not a silent wait); nothing with ``--quiet``."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.verbose = False
        self.quiet = False
        self.seen = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.seen += 1
        if self.quiet or (not self.verbose and self.seen > 1):
            return
        hint = "" if self.verbose else " (objstore -v shows every retry; --retries and --retry-deadline bound them)"
        click.echo(f"objstore: {record.getMessage()}{hint}", err=True)


notices = RetryNotices()


# Each command's module, imported only when that command runs (or help lists them all): start-up stays light.
_MODULES = {
    "sync_commands": ("push", "pull", "sync"),
    "object_commands": ("ls", "tree", "du", "size", "cat", "stat", "put", "rm", "mb", "rb", "share", "purge"),
    "transfer_commands": ("cp", "mv", "check"),
    "remote_commands": ("remote",),
    "doctor": ("doctor",),
    "completion": ("completion",),
    "credentials": ("credential-process", "dvc-remote"),
}
_MODULE_OF = {name: module for module, names in _MODULES.items() for name in names}


class _Commands(click.Group):
    """The command group, with usage errors on one line (``objstore: error: ...``) and exit code 2; each
    command's module is imported when the command is looked up (the module registers it on import)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_MODULE_OF})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = _MODULE_OF.get(cmd_name)
        if module is not None and cmd_name not in self.commands:
            importlib.import_module(f"objstore.cli.{module}")
        return super().get_command(ctx, cmd_name)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        kwargs.setdefault("prog_name", "objstore")
        kwargs.setdefault("complete_var", "_OBJSTORE_COMPLETE")  # however it was started (python -m objstore)
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
        except CommandError as exc:
            fail(exc)
        except (StdoutClosed, BrokenPipeError):
            _quiet_stdout()
            sys.exit(EXIT_PIPE)
        except (click.exceptions.Abort, KeyboardInterrupt):
            # Transfers in flight were finished and the state saved (what was done is not redone on a rerun).
            signum = _received_signal or signal.SIGINT
            click.echo(f"objstore: interrupted ({signal.Signals(signum).name})", err=True)
            sys.exit(128 + signum)
        sys.exit(result if isinstance(result, int) else EXIT_OK)


def _quiet_stdout() -> None:
    """Point standard output at /dev/null so the interpreter's final flush does not complain a second time."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


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
@click.version_option(package_name="objstore", prog_name="objstore")
@click.option("--verbose", "-v", is_flag=True, help="Show each change and each retry as it happens.")
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
    help="Most store calls in flight at once, whatever the number of transfers.",
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
@click.pass_context
def main(
    ctx: click.Context,
    verbose: bool,
    retries: int | None,
    retry_deadline: float | None,
    concurrency: int | None,
    log_operations: bool,
    faults: str | None,
) -> None:
    """objstore: one API over every object store, and a folder sync you can trust."""
    _handle_signals()
    ctx.obj = {"verbose": verbose}
    layers.clear()
    if retries is not None:
        layers.update(retry=retries > 0, retry_attempts=retries + 1)
    if retry_deadline is not None:
        layers["retry_deadline"] = retry_deadline
    if concurrency is not None:
        layers["concurrency"] = concurrency
    if faults:
        layers["faults"] = faults
    notices.verbose = verbose
    retry_log = logging.getLogger("objstore.retry")
    if notices not in retry_log.handlers:
        retry_log.addHandler(notices)
        retry_log.setLevel(logging.INFO)
        retry_log.propagate = False
    if log_operations:
        layers["log_operations"] = True
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        operations = logging.getLogger("objstore.operations")
        operations.addHandler(handler)
        operations.setLevel(logging.DEBUG)


def verbose() -> bool:
    """Whether ``-v`` was given to the group."""
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root() if ctx is not None else None
    return bool(root is not None and isinstance(root.obj, dict) and root.obj.get("verbose"))
