"""``objstore completion [bash|zsh|fish]``: the shell completion script, from click's shell completion support."""

from __future__ import annotations

import os

import click
from click.shell_completion import get_completion_class

from objstore.cli.app import main
from objstore.cli.errors import CommandError, handled
from objstore.cli.output import echo

__all__ = ["COMPLETE_VAR", "PROG_NAME", "completion", "completion_script"]

PROG_NAME = "objstore"
COMPLETE_VAR = "_OBJSTORE_COMPLETE"  # what the script sets when it asks objstore for completions
SHELLS = ("bash", "zsh", "fish")


def completion_script(shell: str) -> str:
    """The completion script of ``shell`` (bash, zsh or fish) for the ``objstore`` command."""
    completer = get_completion_class(shell)
    if completer is None:
        raise CommandError(f"no completion for the {shell} shell (shells: {', '.join(SHELLS)})")
    return completer(main, {}, PROG_NAME, COMPLETE_VAR).source()


def _shell_from_environment() -> str:
    login_shell = os.environ.get("SHELL", "")
    name = os.path.basename(login_shell)
    if name not in SHELLS:
        told = f"$SHELL is {login_shell!r}" if login_shell else "$SHELL is not set"
        raise CommandError(f"cannot tell which shell ({told}): name one: objstore completion {'|'.join(SHELLS)}")
    return name


@main.command(name="completion")
@click.argument("shell", required=False, type=click.Choice(SHELLS))
def completion(shell: str | None) -> None:
    """Print the completion script of bash, zsh or fish (default: the shell $SHELL names).

    To install it, add one line to the shell's start-up file:

    \b
      bash (~/.bashrc):  eval "$(objstore completion bash)"
      zsh (~/.zshrc):    eval "$(objstore completion zsh)"
      fish:              objstore completion fish > ~/.config/fish/completions/objstore.fish

    Then open a new shell: commands, options and choices complete with Tab. Bash needs version 4.4 or later.
    """
    with handled():
        echo(completion_script(shell or _shell_from_environment()))
