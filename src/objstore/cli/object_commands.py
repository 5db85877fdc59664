"""Object commands: ls, tree, du, cat, stat, put, rm, mb, rb, share, purge.

Each takes its object or folder as a URL (``s3://bucket/dir/key``), a named remote (``backup:dir/key``), or a key
in the store given with ``--store`` (``-s``), else the configured store.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import click

from objstore.cli.app import main
from objstore.cli.errors import EXIT_FAILED, EXIT_OK, CommandError, handled
from objstore.cli.locations import open_store, parse_location
from objstore.cli.output import echo, human_size, plural, write_stdout
from objstore.cli.units import duration
from objstore.domain.models import ObjectInfo
from objstore.domain.service import ObjectStorageService
from objstore.domain.streams import copy_stream

__all__ = ["open_folder", "open_object"]

_STORE_HELP = "Store URL or remote (default: OBJSTORE_URL, Naas settings, the local default)."


def open_object(
    key: str, store: str | None, *, folder_ok: bool = False, **kw: bool
) -> tuple[ObjectStorageService, str]:
    """The store and key an argument names: ``key`` in ``store``, or a URL / remote location split into the store
    of its folder and its last name (``folder_ok``: a location ending in '/' names that folder, key '')."""
    if store is None:
        location = parse_location(key, remotes=None) if ":" in key else None
        if location is not None and location.url is not None:
            folder, name = location.split()
            if not name and not folder_ok:
                raise CommandError(f"{key}: names a folder, not an object")
            return open_store(folder, **kw), name
    return open_store(store, **kw), key


def open_folder(prefix: str, store: str | None, **kw: bool) -> tuple[ObjectStorageService, str]:
    """The store and folder a folder argument names (``s3://b/dir``, ``backup:dir``, or a prefix in ``store``)."""
    if store is None and ":" in prefix:
        location = parse_location(prefix)
        if location.url is not None:
            return open_store(location.url, **kw), ""
    return open_store(store, **kw), prefix


def _info_dict(info: ObjectInfo) -> dict[str, Any]:
    return {
        "key": info.key,
        "size": info.size,
        "etag": info.etag,
        "last_modified": info.last_modified.isoformat() if info.last_modified else None,
        "prefix": info.is_prefix,
    }


# -h is --human-readable here, as with ls and du: help is --help only.
_HUMAN = {"help_option_names": ["--help"]}


@main.command(name="ls", context_settings=_HUMAN)
@click.argument("prefix", default="")
@click.option("--store", "-s", help=_STORE_HELP)
@click.option("--recursive", "-r", "-R", is_flag=True, help="Every object below, not only immediate children.")
@click.option("--long", "-l", "long_format", is_flag=True, help="Sizes, times and etags too.")
@click.option("--human-readable", "-h", "human", is_flag=True, help="Sizes as 1.5 KiB, 3.2 GiB.")
@click.option("--json", "json_output", is_flag=True, help="One JSON object per line.")
def list_command(
    prefix: str, store: str | None, recursive: bool, long_format: bool, human: bool, json_output: bool
) -> None:
    """List objects and sub-folders under a folder."""
    with handled():
        service, prefix = open_folder(prefix, store, read_only=True)
        for info in service.iter_objects(prefix, recursive=recursive):
            if json_output:
                echo(json.dumps(_info_dict(info)))
            elif long_format or human:
                echo(_long_line(info, human))
            else:
                echo(info.key)


def _long_line(info: ObjectInfo, human: bool) -> str:
    if info.is_prefix:
        return f"{'PRE':>14}  {'':19}  {'':32}  {info.key}"
    when = info.last_modified.strftime("%Y-%m-%d %H:%M:%S") if info.last_modified else "-"
    size = human_size(info.size) if human else f"{info.size:,}"
    return f"{size:>14}  {when:19}  {(info.etag or '-'):32}  {info.key}"


@main.command()
@click.argument("prefix", default="")
@click.option("--store", "-s", help=_STORE_HELP)
def tree(prefix: str, store: str | None) -> None:
    """Show a folder's objects as a tree, with sizes."""
    with handled():
        service, prefix = open_folder(prefix, store, read_only=True)
        base = prefix.strip("/")
        cut = len(base) + 1 if base else 0
        shown: list[str] = []  # the folders of the last line drawn
        files = folders = 0
        echo(base or ".")
        for info in service.iter_objects(prefix, recursive=True):
            parts = info.key[cut:].split("/")
            common = 0
            while common < min(len(shown), len(parts) - 1) and shown[common] == parts[common]:
                common += 1
            for depth in range(common, len(parts) - 1):
                echo("    " * depth + f"{parts[depth]}/")
                folders += 1
            shown = parts[:-1]
            echo("    " * (len(parts) - 1) + f"{parts[-1]}  ({human_size(info.size)})")
            files += 1
        echo(f"\n{plural(folders, 'folder')}, {plural(files, 'file')}")


@main.command(context_settings=_HUMAN)
@click.argument("prefix", default="")
@click.option("--store", "-s", help=_STORE_HELP)
@click.option("--human-readable", "-h", "human", is_flag=True, help="The size as 1.5 KiB, 3.2 GiB.")
@click.option("--json", "json_output", is_flag=True)
def du(prefix: str, store: str | None, human: bool, json_output: bool) -> None:
    """The number of objects and their total size under a folder (rclone size, aws s3 ls --summarize)."""
    with handled():
        service, prefix = open_folder(prefix, store, read_only=True)
        count = total = 0
        for info in service.iter_objects(prefix, recursive=True):
            count += 1
            total += info.size
        if json_output:
            echo(json.dumps({"prefix": prefix, "objects": count, "bytes": total}))
        else:
            echo(f"{plural(count, 'object')}, {human_size(total) if human else f'{total:,} bytes'}")


main.add_command(du, name="size")


@main.command()
@click.argument("key")
@click.option("--store", "-s", help=_STORE_HELP)
@click.option("--offset", type=click.IntRange(min=0), help="Start at this byte (0 is the first).")
@click.option("--count", type=click.IntRange(min=0), help="Write at most this many bytes.")
def cat(key: str, store: str | None, offset: int | None, count: int | None) -> None:
    """Write an object's content (or a range of it) to standard output."""
    with handled():
        service, key = open_object(key, store, read_only=True)
        end = None if count is None else (offset or 0) + count
        with service.get_object_stream("", key, start=offset, end=end) as stream:
            copy_stream(stream, write_stdout)
        write_stdout(b"", flush=True)


@main.command()
@click.argument("key")
@click.option("--store", "-s", help=_STORE_HELP)
def stat(key: str, store: str | None) -> None:
    """Show an object's metadata as JSON."""
    with handled():
        service, key = open_object(key, store, read_only=True)
        info = service.head_object("", key)
        described = _info_dict(info)
        del described["prefix"]
        described.update(content_type=info.content_type, metadata=dict(info.metadata), sha256=info.checksum_sha256)
        echo(json.dumps(described, indent=2))


@main.command()
@click.argument("source", type=click.Path(dir_okay=False, allow_dash=True))
@click.argument("key")
@click.option("--store", "-s", help=_STORE_HELP)
@click.option("--content-type")
@click.option("--if-absent", is_flag=True, help="Create only: fail if the object exists.")
def put(source: str, key: str, store: str | None, content_type: str | None, if_absent: bool) -> None:
    """Upload a file (or standard input, "-") as an object."""
    with handled():
        stream = sys.stdin.buffer if source == "-" else open(source, "rb")  # noqa: SIM115
        with stream:
            service, key = open_object(key, store, writing=True)
            info = service.put_object_stream(
                "", key, stream, content_type=content_type, if_none_match="*" if if_absent else None
            )
        echo(f"{info.key}  {info.size:,} bytes  etag {info.etag}")


def _below(service: ObjectStorageService, key: str) -> Iterator[ObjectInfo]:
    return service.iter_objects(key.rstrip("/") + "/", recursive=True)


@main.command()
@click.argument("keys", nargs=-1, required=True)
@click.option("--store", "-s", help=_STORE_HELP)
@click.option("--recursive", "-r", "-R", is_flag=True, help="Delete every object under each folder named.")
@click.option("--dry-run", "--dryrun", "-n", "dry_run", is_flag=True, help="Say what would be deleted.")
@click.option(
    "--max-delete",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="Refuse to delete more objects than this with -r (unless --force).",
)
@click.option("--force", "-f", is_flag=True, help="No limit; no error for an object that does not exist.")
def rm(keys: tuple[str, ...], store: str | None, recursive: bool, dry_run: bool, max_delete: int, force: bool) -> None:
    """Delete objects (with -r, every object under folders)."""
    with handled():
        doomed: dict[int, tuple[ObjectStorageService, list[str]]] = {}
        for given in keys:
            service, key = open_object(given, store, folder_ok=recursive)
            doomed.setdefault(id(service), (service, []))[1].extend(_doomed(service, key, given, recursive, force))
        total = sum(len(found) for _, found in doomed.values())
        if recursive and total > max_delete and not force:
            raise CommandError(f"refusing to delete {total:,} objects (more than --max-delete {max_delete}); --force")
        ok = True
        for service, found in doomed.values():
            for key in found:
                echo(f"{'would delete' if dry_run else 'delete'} {key}")
            if not dry_run and found:
                result = service.delete_objects("", found)
                for key, error in result.errors.items():
                    click.echo(f"objstore: error: {key}: {error}", err=True)
                ok = ok and result.ok
        sys.exit(EXIT_OK if ok else EXIT_FAILED)


def _doomed(service: ObjectStorageService, key: str, given: str, recursive: bool, force: bool) -> list[str]:
    """The objects ``rm`` deletes for one argument; a folder without -r, or nothing there, is an error."""
    if recursive:
        base = key.strip("/")
        if not base and not force:
            raise CommandError(f"{given}: that is the whole store; name a folder, or add --force")
        found = [info.key for info in service.iter_objects(base + "/" if base else "", recursive=True)]
        if base and service.exists("", base):
            found.insert(0, base)
        if not found and not force:
            raise CommandError(f"{given}: no such object or folder", code=EXIT_FAILED)
        return found
    if service.exists("", key):
        return [key]
    if next(iter(_below(service, key)), None) is not None:
        raise CommandError(f"{given}: is a folder; rm -r deletes a folder and everything in it")
    if force:
        return []
    raise CommandError(f"{given}: no such object", code=EXIT_FAILED)


@main.command()
@click.argument("location")
def mb(location: str) -> None:
    """Create a bucket or container (s3://name, gs://name, az://name, a folder store's folder)."""
    with handled():
        open_store(location, writing=True).make_bucket()
        echo(f"made {location}")


@main.command()
@click.argument("location")
def rb(location: str) -> None:
    """Remove an empty bucket or container."""
    with handled():
        open_store(location).remove_bucket()
        echo(f"removed {location}")


@main.command()
@click.argument("key")
@click.option("--store", "-s", help=_STORE_HELP)
@click.option("--expires", default="1h", show_default=True, help="How long the link works (30m, 12h, 7d).")
@click.option("--upload", is_flag=True, help="A link to upload (PUT) instead of download.")
def share(key: str, store: str | None, expires: str, upload: bool) -> None:
    """Print a time-limited link to an object, where the store has them."""
    with handled():
        seconds = int(duration(expires).total_seconds())
        service, key = open_object(key, store, read_only=True)
        echo(service.presign_url("", key, expires_in=seconds, method="PUT" if upload else "GET"))


@main.command()
@click.argument("prefix", default="")
@click.option("--store", "-s", help=_STORE_HELP)
@click.option("--older-than", required=True, help="Delete objects last written before this long ago (30d, 12h).")
@click.option("--dry-run", "--dryrun", "-n", "dry_run", is_flag=True)
def purge(prefix: str, store: str | None, older_than: str, dry_run: bool) -> None:
    """Delete objects older than a retention period (a "keep days" setting)."""
    with handled():
        service, prefix = open_folder(prefix, store)
        cutoff = datetime.now(timezone.utc) - duration(older_than)
        old = [
            info.key
            for info in service.iter_objects(prefix)
            if info.last_modified is not None and info.last_modified < cutoff
        ]
        for key in old:
            echo(f"{'would delete' if dry_run else 'delete'} {key}")
        if dry_run or not old:
            return
        result = service.delete_objects("", old)
        for key, error in result.errors.items():
            click.echo(f"objstore: error: {key}: {error}", err=True)
        sys.exit(EXIT_OK if result.ok else EXIT_FAILED)
