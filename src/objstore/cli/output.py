"""What commands print: the progress of a transfer, a sync's report, sizes for people, and standard output that
stops quietly when its reader leaves (``objstore ls | head``)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from objstore.cli.errors import EXIT_FAILED, EXIT_OK, StdoutClosed
from objstore.domain.text import plural

if TYPE_CHECKING:
    from objstore.syncing.report import SyncReport

__all__ = ["Progress", "echo", "finish", "human_size", "plural", "write_stdout"]


def echo(text: str = "", *, nl: bool = True) -> None:
    """A line on standard output; a closed pipe stops the command quietly (:class:`StdoutClosed`)."""
    try:
        click.echo(text, nl=nl)
    except BrokenPipeError as exc:
        raise StdoutClosed from exc


def write_stdout(chunk: bytes | memoryview, *, flush: bool = False) -> None:
    """Bytes on standard output (``flush``: and flushed); a closed pipe stops the command quietly."""
    try:
        sys.stdout.buffer.write(chunk)
        if flush:
            sys.stdout.buffer.flush()
    except BrokenPipeError as exc:
        raise StdoutClosed from exc


def human_size(size: int) -> str:
    """``512 B``, ``1.5 KiB``, ``3.2 GiB`` (binary units, as ``ls -h``)."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


class Progress:
    """A sync's progress on standard error.

    * on a terminal: one live status line (files, bytes, rate; an ETA once the whole plan is known), redrawn at
      most ten times a second and drawn once more, exact, at the end;
    * elsewhere: one line per change (``upload a.txt (4,096 bytes)``);
    * ``forced`` (``-P``) off a terminal: the status line once a second, then the final one;
    * ``verbose`` (``-v``): one line per change, on a terminal too; ``quiet``: nothing.

    Planning runs only a little ahead of the transfers (that bounds memory), so the total, and with it an ETA, is
    known only once planning has finished.
    """

    def __init__(self, label: str, *, quiet: bool = False, forced: bool = False, verbose: bool = False) -> None:
        self.label, self.quiet, self.verbose = label, quiet, verbose
        self.tty = sys.stderr.isatty()
        self.live = not quiet and (self.tty or forced)
        self.per_change = not quiet and (verbose or not self.tty) and not (forced and not self.tty)
        self.interval = 0.1 if self.tty else 1.0
        self.files = self.bytes = self.planned = 0
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
        if event == "skip":
            return
        self.files += 1
        self.bytes += size
        if self.per_change:
            self._line(f"{event} {key} ({size:,} bytes)" if size else f"{event} {key}")
        if self.live:
            now = time.monotonic()
            if now - self.shown >= self.interval:
                self.shown = now
                self._status(now)

    def _status(self, now: float) -> None:
        rate = self.bytes / max(now - self.started, 1e-6)
        if self.total_known:
            done = f"{self.bytes / 2**20:,.1f} of {self.planned / 2**20:,.1f} MiB"
            left = max(self.planned - self.bytes, 0)
            eta = f", ETA {left / rate:,.0f}s" if rate > 0 and left else ""
        else:
            done, eta = f"{self.bytes / 2**20:,.1f} MiB", ""
        line = f"{self.label}: {plural(self.files, 'file')}, {done}, {rate / 2**20:,.1f} MiB/s{eta}"
        if self.tty:
            click.echo(f"\r{line}   ", err=True, nl=False)
        else:
            click.echo(line, err=True)

    def _line(self, text: str) -> None:
        if self.tty and self.live and self.shown:
            click.echo("\r\033[K", err=True, nl=False)
        click.echo(text, err=True)

    def close(self) -> None:
        """Draw the final, exact status (the last redraw may be up to a tenth of a second old)."""
        if self.live and self.files:
            self.total_known = True
            self.planned = max(self.planned, self.bytes)
            self._status(time.monotonic())
            if self.tty:
                click.echo("", err=True)


def finish(
    report: SyncReport, *, json_output: bool, quiet: bool, plan_lines: Callable[[SyncReport], list[str]]
) -> None:
    """Print a sync's report (and its plan on a dry run) and exit: 0 if all is done, else 1."""
    if json_output:
        echo(report.to_json())
        for key, reason in sorted(report.skipped.items()):
            click.echo(f"objstore: NOT SYNCED: {key}: {reason}", err=True)
    else:
        if report.dry_run:
            for line in plan_lines(report):
                echo(line)
        if not quiet or not report.ok or report.conflicts:
            if report.dry_run:
                echo(report.summary())
            else:
                click.echo(report.summary(), err=True)
    sys.exit(EXIT_OK if report.ok and not report.conflicts else EXIT_FAILED)
