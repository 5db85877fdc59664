"""``objstore remote add|list|show|remove``: named stores in the configuration file (see :mod:`.locations`)."""

from __future__ import annotations

import json
import re

import click

from objstore.cli.app import main
from objstore.cli.errors import CommandError, handled
from objstore.cli.locations import OptionValue, Remote, config_file, load_remotes, save_remotes
from objstore.cli.output import echo
from objstore.factory import ObjectStorageFactory

__all__ = ["remote"]

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


@main.group()
def remote() -> None:
    """Named stores: 'objstore push data backup:' instead of a URL (secrets stay in the environment)."""


def _value(text: str) -> OptionValue:
    """An option's value as TOML keeps it: true/false, a number, or the text."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


@remote.command(name="add")
@click.argument("name")
@click.argument("url")
@click.option("--option", "-o", "options", multiple=True, metavar="NAME=VALUE", help="A non-secret store option.")
@click.option("--force", is_flag=True, help="Replace a remote of that name.")
def add(name: str, url: str, options: tuple[str, ...], force: bool) -> None:
    """Name a store URL (with non-secret options, e.g. -o endpoint_url=https://... -o hierarchical=true)."""
    with handled():
        if not _NAME.fullmatch(name):
            raise CommandError(f"{name!r} is not a remote name (letters, digits, '_', '.', '-')")
        if "://" not in url:
            raise CommandError(f"{url!r} is not a store URL (s3://bucket/prefix, gs://..., file:///path ...)")
        parsed: dict[str, OptionValue] = {}
        for option in options:
            key, sep, value = option.partition("=")
            if not sep or not key.strip():
                raise CommandError(f"an option is NAME=VALUE, not {option!r}")
            parsed[key.strip()] = _value(value.strip())
        remotes = load_remotes()
        if name in remotes and not force:
            raise CommandError(f"a remote named {name!r} exists (--force replaces it)")
        candidate = Remote(name, url, parsed)
        _check(candidate)
        remotes[name] = candidate
        path = save_remotes(remotes)
        echo(f"{name}: {url} (in {path})")


def _check(candidate: Remote) -> None:
    """The URL and options must make a store (a secret among them is refused, as in a URL); nothing is created."""
    url = candidate.url_for()
    is_folder = url.lower().startswith("file:")
    ObjectStorageFactory.from_url(url, **({"create": False} if is_folder else {}))


@remote.command(name="list")
@click.option("--json", "json_output", is_flag=True)
def list_remotes(json_output: bool) -> None:
    """The configured remotes."""
    with handled():
        remotes = load_remotes()
        if json_output:
            echo(json.dumps({name: remote.as_table() for name, remote in sorted(remotes.items())}))
            return
        for name, found in sorted(remotes.items()):
            echo(f"{name}:  {found.url}")


@remote.command(name="show")
@click.argument("name")
def show(name: str) -> None:
    """A remote's URL and options."""
    with handled():
        found = load_remotes().get(name)
        if found is None:
            raise CommandError(f"no remote named {name!r} (in {config_file()})")
        echo(f"[{name}]")
        for key, value in found.as_table().items():
            echo(f"{key} = {json.dumps(value)}")


@remote.command(name="remove")
@click.argument("name")
def remove(name: str) -> None:
    """Forget a remote (the store and its data are untouched)."""
    with handled():
        remotes = load_remotes()
        if remotes.pop(name, None) is None:
            raise CommandError(f"no remote named {name!r} (in {config_file()})")
        save_remotes(remotes)
        echo(f"removed {name}")
