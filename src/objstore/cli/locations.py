"""Where a command reads and writes: a local path, a store URL, or a named remote (``backup:sub/dir``).

Named remotes live in one TOML file (``$OBJSTORE_CONFIG``, else ``$XDG_CONFIG_HOME/objstore/config.toml``, else
``~/.config/objstore/config.toml``)::

    [remotes.backup]
    url = "s3://my-bucket/backups"
    endpoint_url = "https://s3.example.net"
    hierarchical = true

A remote holds a URL and non-secret options only; secrets stay in the environment, credential files or the SDKs'
chains (a secret option is refused, as in a URL). ``backup:`` is the remote's folder, ``backup:sub/dir`` a folder
(or object) inside it. A word before a colon that names no remote is a local path, as with rclone (``./a:b``).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from objstore.cli.errors import CommandError
from objstore.domain.errors import ConfigurationError
from objstore.domain.service import ObjectStorageService
from objstore.factory import ObjectStorageFactory

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found, no-redef, unused-ignore]

__all__ = [
    "Location",
    "Remote",
    "config_file",
    "default_store_url",
    "layers",
    "load_remotes",
    "open_store",
    "parse_location",
    "save_remotes",
]

# Layer options given to the command group (``objstore --retries 8 push ...``), applied to every store opened.
layers: dict[str, Any] = {}

_REMOTE = re.compile(r"([A-Za-z0-9_][A-Za-z0-9_.-]*):(?!//)(.*)", re.DOTALL)
OptionValue = str | int | float | bool


def default_store_url() -> str:
    home = os.environ.get("OBJSTORE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share", "objstore")
    return "file://" + os.path.join(os.path.abspath(home), "store")


def config_file() -> Path:
    """The configuration file: ``$OBJSTORE_CONFIG``, else ``$XDG_CONFIG_HOME/objstore/config.toml``."""
    explicit = os.environ.get("OBJSTORE_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "objstore" / "config.toml"


@dataclass(frozen=True)
class Remote:
    """A named store: its URL and non-secret options (given to the store as the URL's query)."""

    name: str
    url: str
    options: Mapping[str, OptionValue] = field(default_factory=dict)

    def url_for(self, path: str = "") -> str:
        """The store URL of ``path`` inside the remote, with the remote's options in its query."""
        parts = urlsplit(self.url)
        joined = parts.path.rstrip("/") + ("/" + path.strip("/") if path.strip("/") else "")
        query = parse_qsl(parts.query, keep_blank_values=True)
        query += [(name, _option_text(value)) for name, value in self.options.items()]
        return urlunsplit((parts.scheme, parts.netloc, joined, urlencode(query), ""))

    def as_table(self) -> dict[str, OptionValue]:
        return {"url": self.url, **self.options}


def _option_text(value: OptionValue) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def load_remotes(path: Path | None = None) -> dict[str, Remote]:
    """The remotes of the configuration file (none if it does not exist); a malformed file is a usage error."""
    path = path or config_file()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise CommandError(f"cannot read the configuration {str(path)!r}: {exc.strerror}") from None
    try:
        tables = tomllib.loads(text).get("remotes", {})
    except tomllib.TOMLDecodeError as exc:
        raise CommandError(f"the configuration {str(path)!r} is not valid TOML: {exc}") from None
    remotes = {}
    for name, table in tables.items():
        if not isinstance(table, dict) or not isinstance(table.get("url"), str):
            raise CommandError(f'{str(path)!r}: remote {name!r} needs a url = "..."')
        options = {key: value for key, value in table.items() if key != "url"}
        remotes[name] = Remote(name, table["url"], options)
    return remotes


def save_remotes(remotes: Mapping[str, Remote], path: Path | None = None) -> Path:
    """Write the remotes (the file's other tables are kept), atomically, readable by its owner only."""
    import tomli_w

    path = path or config_file()
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        document = {}
    document["remotes"] = {name: remote.as_table() for name, remote in sorted(remotes.items())}
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(tomli_w.dumps(document))
    os.replace(temporary, path)
    return path


@dataclass(frozen=True)
class Location:
    """One command-line location: a store URL (``url``) or a local path (``local``); ``text`` as written."""

    text: str
    url: str | None = None
    local: Path | None = None

    @property
    def is_local(self) -> bool:
        return self.url is None

    def split(self) -> tuple[str, str]:
        """A store location as (the URL of its folder, the last name): an object's store and key."""
        assert self.url is not None
        parts = urlsplit(self.url)
        if parts.path.endswith("/"):
            folder, name = parts.path.rstrip("/"), ""
        else:
            folder, _, name = parts.path.rpartition("/")
        if parts.scheme == "file" and not folder:
            folder = "/"
        return urlunsplit((parts.scheme, parts.netloc, folder, parts.query, "")), name


def parse_location(text: str, *, remotes: Mapping[str, Remote] | None = None) -> Location:
    """A URL (``s3://b/p``), a named remote (``backup:sub``), or else a local path."""
    if "://" in text.split("/", 1)[0] or re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", text):
        return Location(text, url=text)
    match = _REMOTE.fullmatch(text)
    if match is not None:
        known = load_remotes() if remotes is None else remotes
        remote = known.get(match.group(1))
        if remote is not None:
            return Location(text, url=remote.url_for(match.group(2)))
        if not os.path.lexists(text) and "/" not in match.group(1):
            names = ", ".join(sorted(known)) or "none configured; see 'objstore remote add'"
            raise CommandError(f"no remote named {match.group(1)!r} (remotes: {names}); a local path: ./{text}")
    return Location(text, local=Path(text).expanduser())


def open_store(url: str | None, *, read_only: bool = False, writing: bool = False) -> ObjectStorageService:
    """The store named, else the configured one (OBJSTORE_URL, Naas settings), else the embedded default.

    ``read_only``: for commands that only read (ls, cat, stat, share): a folder store's folder is not created.
    ``writing``: the command keeps what it writes in the store, so a memory store (gone with the process) is
    refused.
    """
    if url and ":" in url and "://" not in url:
        url = parse_location(url).url or url
    if writing and url and url.lower().startswith("memory:"):
        raise CommandError("memory:// lives only as long as the process: what a command wrote there would be lost")
    if url:
        return ObjectStorageFactory.from_url(url, **_read_only(url, read_only), **layers)
    try:
        return ObjectStorageFactory.from_env(**layers)
    except ConfigurationError as exc:
        if "no store configured" not in exc.message:
            raise
    # The embedded default store reads as empty until the first push creates it (nothing is made by a read).
    return ObjectStorageFactory.from_url(default_store_url(), **layers)


def _read_only(url: str, read_only: bool) -> dict[str, Any]:
    is_folder = "://" not in url or url.lower().startswith("file:")
    return {"create": False} if read_only and is_folder else {}
