"""Exit codes and the one-line error every command prints for the same cause, on every command and every store.

=====  ==========================================================================================
code   meaning
=====  ==========================================================================================
0      done
1      some operations failed, differences were found (``check``), conflicts were left, not found
2      usage or configuration: a wrong option, argument, URL, remote name or local path; no credentials
3      authentication: the credentials were refused (wrong, expired), or may not do this
130    interrupted (SIGINT, Ctrl-C); 143 terminated (SIGTERM); what was finished is kept
141    standard output was closed early (``objstore ls | head -1``): stopped quietly
=====  ==========================================================================================
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import click

from objstore.domain.errors import (
    AuthenticationError,
    ConfigurationError,
    InvalidKey,
    InvalidMetadata,
    NotSupported,
    ObjectStorageError,
    PermissionDenied,
)

__all__ = [
    "EXIT_AUTH",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_PIPE",
    "EXIT_USAGE",
    "CommandError",
    "StdoutClosed",
    "classify",
    "fail",
    "handled",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_AUTH = 0, 1, 2, 3
EXIT_PIPE = 128 + 13  # SIGPIPE, as a shell reports a pipeline whose reader left

_USAGE = (ConfigurationError, InvalidKey, InvalidMetadata, NotSupported)
# Local paths given on the command line that are not what the command needs: the argument is wrong.
_LOCAL_USAGE = {errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.ENAMETOOLONG}


class CommandError(Exception):
    """An error the command itself detects (a wrong argument, a refusal), with its exit code (usage by default)."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.message, self.code = message, code


class StdoutClosed(Exception):
    """Standard output's reader went away (a pipe into ``head``): the command stops quietly."""


def classify(exc: BaseException) -> tuple[int, str]:
    """The exit code and one-line message for an error, the same for the same cause on every store."""
    if isinstance(exc, CommandError):
        return exc.code, exc.message
    if isinstance(exc, AuthenticationError):
        return EXIT_AUTH, _led("authentication failed", str(exc))
    if isinstance(exc, PermissionDenied):
        return EXIT_AUTH, _led("permission denied", str(exc))
    if isinstance(exc, _USAGE):
        return EXIT_USAGE, str(exc)
    if isinstance(exc, ObjectStorageError):
        return EXIT_FAILED, str(exc)
    if isinstance(exc, OSError):
        return _local_error(exc)
    if isinstance(exc, ValueError):
        return EXIT_USAGE, str(exc)
    return EXIT_FAILED, f"{type(exc).__name__}: {exc}"


def _led(words: str, message: str) -> str:
    """``message`` led by the words every store's error of that kind starts with."""
    if message.lower().startswith((words, "access denied", "permission denied")):
        return message
    return f"{words}: {message}"


def _local_error(exc: OSError) -> tuple[int, str]:
    """A local file or folder's error in words (no "[Errno 2]"), naming the path."""
    what = exc.strerror or str(exc)
    where = f"{exc.filename}: " if exc.filename is not None else ""
    if exc.strerror is None:
        return EXIT_FAILED, str(exc)
    code = EXIT_USAGE if exc.errno in _LOCAL_USAGE else EXIT_AUTH if exc.errno in (errno.EACCES, errno.EPERM) else 1
    return code, f"{where}{what[0].lower()}{what[1:]}"


def fail(exc: BaseException) -> NoReturn:
    """Print the error's one line on standard error (never on standard output, even with --json) and exit."""
    code, message = classify(exc)
    click.echo(f"objstore: error: {message}", err=True)
    sys.exit(code)


@contextmanager
def handled() -> Iterator[None]:
    """One-line errors on standard error and the exit codes of the table above, for every command."""
    try:
        yield
    except (click.ClickException, StdoutClosed, KeyboardInterrupt, SystemExit):
        raise
    except BrokenPipeError as exc:
        if _stdout_gone():
            raise StdoutClosed from exc
        fail(exc)
    except (CommandError, ObjectStorageError, OSError, ValueError) as exc:
        fail(exc)


def _stdout_gone() -> bool:
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        return True
    try:
        os.fstat(sys.stdout.fileno())
    except (OSError, ValueError):
        return True
    return False
