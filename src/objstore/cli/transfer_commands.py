"""cp, mv and check between any two locations: local files and folders, store URLs and named remotes.

Both ends are the sync engine's sides (:mod:`objstore.syncing.sides`), so a local end gets its confinement and
atomic writes (a temporary file renamed into place), and a store end its checks, whatever the store.
"""

from __future__ import annotations

import contextlib
import hashlib
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import click

from objstore.cli.app import main, verbose
from objstore.cli.errors import EXIT_FAILED, EXIT_OK, CommandError, handled
from objstore.cli.locations import open_store, parse_location
from objstore.cli.output import echo, plural
from objstore.domain.keys import join_key
from objstore.domain.streams import CHUNK_SIZE
from objstore.syncing.local import Filters, LocalFolder, local_token
from objstore.syncing.planner import Entry
from objstore.syncing.sides import ANY, LocalSide, StoreSide

__all__ = ["End", "resolve"]

Side = LocalSide | StoreSide


@dataclass
class End:
    """One end of a copy: a side (a local folder, or a folder of a store) and a key in it ('' for the folder)."""

    side: Side
    key: str
    text: str

    @property
    def is_local(self) -> bool:
        return isinstance(self.side, LocalSide)

    def exists(self) -> bool:
        """An object (a file) at ``key``."""
        if isinstance(self.side, LocalSide):
            return self.side.folder.path_of(self.key).is_file() if self.key else False
        return bool(self.key) and self.side.service.exists(self.side.prefix, self.key)

    def is_folder(self) -> bool:
        """A folder at ``key`` (a local folder, or a store prefix with objects below it)."""
        if isinstance(self.side, LocalSide):
            return self.side.folder.path_of(self.key).is_dir() if self.key else self.side.folder.root.is_dir()
        below = join_key(self.side.prefix, self.key).rstrip("/") + "/" if self.key or self.side.prefix else ""
        return next(iter(self.side.service.iter_objects(below, recursive=True)), None) is not None

    def inside(self, key: str) -> End:
        return End(self.side, join_key(self.key, key) if self.key else key, self.text)

    def entries(self) -> Iterator[Entry]:
        """The objects under ``key`` (the folder), keys relative to it."""
        if self.key:
            return self.folder().entries()
        return self.side.entries()

    def folder(self) -> End:
        """This end's key as a folder of its own (a side rooted there)."""
        if isinstance(self.side, LocalSide):
            root = self.side.folder.path_of(self.key)
            return End(LocalSide(LocalFolder(root, writable=self.side.folder.writable)), "", self.text)
        return End(StoreSide(self.side.service, join_key(self.side.prefix, self.key), Filters()), "", self.text)


def resolve(text: str, store: str | None, *, writing: bool) -> End:
    """The end a command-line argument names: a local path, a URL, a remote, or a key in ``--store``."""
    if store is not None:
        service = open_store(store, writing=writing, read_only=not writing)
        return End(StoreSide(service, "", Filters()), text.strip("/"), text)
    location = parse_location(text)
    if location.local is not None:
        path = location.local.expanduser().absolute()
        return End(LocalSide(LocalFolder(path.parent, writable=writing)), path.name, text)
    folder, name = location.split()
    service = open_store(folder, writing=writing, read_only=not writing)
    return End(StoreSide(service, "", Filters()), name, text)


class _Transfers:
    """Copies (and moves) entries from one end to another, ``jobs`` at once; counts and failures."""

    def __init__(self, jobs: int, move: bool, dry_run: bool) -> None:
        self.jobs, self.move, self.dry_run = jobs, move, dry_run
        self.copied = self.bytes = 0
        self.failures: dict[str, str] = {}
        self._lock = threading.Lock()

    def one(self, source: End, target: End, entry: Entry) -> None:
        verb = "move" if self.move else "copy"
        if self.dry_run:
            echo(f"would {verb} {source.text if not source.key else source.key} -> {target.key or target.text}")
            return
        try:
            _copy(source, target, entry)
            if self.move:
                _remove_if_unchanged(source, entry)
        except (OSError, ValueError) as exc:
            with self._lock:
                self.failures[source.key or source.text] = str(exc)
            return
        with self._lock:
            self.copied += 1
            self.bytes += entry.size
        if verbose():
            click.echo(f"{verb} {source.key} -> {target.key}", err=True)

    def many(self, source: End, target: End) -> None:
        with ThreadPoolExecutor(self.jobs) as pool:
            for _ in pool.map(
                lambda entry: self.one(source.inside(entry.key), target.inside(entry.key), entry), source.entries()
            ):
                pass


def _copy(source: End, target: End, entry: Entry) -> None:
    src, dst = source.side, target.side
    if (
        isinstance(src, StoreSide)
        and isinstance(dst, StoreSide)
        and src.service.store_identity == dst.service.store_identity
    ):
        src.service.copy_object(src.prefix, source.key, dst.prefix, target.key)  # server-side where it can
        return
    with src.open(source.key) as stream:
        dst.write(target.key, stream, entry.size, entry.mtime_ns, ANY)


def _remove_if_unchanged(source: End, entry: Entry) -> None:
    """A move deletes its source only if it is still the version copied (a change made meanwhile is kept)."""
    side = source.side
    if isinstance(side, LocalSide):
        if not side.folder.remove_if_unchanged(source.key, entry.token):
            raise OSError(f"{source.key}: changed during the move; copied, not deleted")
        return
    now = side.service.head_object(side.prefix, source.key)
    if (now.etag or f"size:{now.size}") != entry.token:
        raise OSError(f"{source.key}: changed during the move; copied, not deleted")
    side.service.delete_object(side.prefix, source.key)


def _entry_of(end: End) -> Entry:
    """The single object an end names, as an entry (its size, version and time)."""
    side = end.side
    if isinstance(side, LocalSide):
        st = side.folder.path_of(end.key).stat()
        return Entry(end.key, st.st_size, local_token(st), st.st_mtime_ns)
    info = side.service.head_object(side.prefix, end.key)
    mtime = int(info.last_modified.timestamp() * 1e9) if info.last_modified else None
    return Entry(end.key, info.size, info.etag or f"size:{info.size}", mtime)


def _target_of(source: End, target: End, target_text: str) -> End:
    """``cp a.txt dir/`` (or an existing folder) puts ``a.txt`` inside; otherwise the target is the new name."""
    if target_text.endswith("/") or (target.key and target.is_folder()) or not target.key:
        return target.inside(source.key.rsplit("/", 1)[-1])
    return target


def _transfer(
    source_text: str, target_text: str, store: str | None, recursive: bool, jobs: int, move: bool, dry_run: bool
) -> None:
    transfers = _Transfers(jobs, move, dry_run)
    with handled():
        source = resolve(source_text, store, writing=move)
        target = resolve(target_text, store, writing=True)
        if recursive:
            if not source.is_folder():
                raise CommandError(f"{source_text}: no such folder")
            _refuse_nesting(source, target)
            destination = target.folder()
            if isinstance(destination.side, LocalSide) and not dry_run:
                destination.side.folder.root.mkdir(parents=True, exist_ok=True)
            transfers.many(source.folder(), destination)
        else:
            if not source.exists():
                hint = " (a folder: add -r)" if source.is_folder() else ""
                raise CommandError(f"{source_text}: no such file or object{hint}", code=EXIT_FAILED if not hint else 2)
            transfers.one(source, _target_of(source, target, target_text), _entry_of(source))
    _report(transfers, "moved" if move else "copied")


def _refuse_nesting(source: End, target: End) -> None:
    if isinstance(source.side, LocalSide) and isinstance(target.side, LocalSide):
        a, b = source.side.folder.path_of(source.key), target.side.folder.path_of(target.key)
        if a == b or a in b.parents or b in a.parents:
            raise CommandError(f"{source.text} and {target.text} overlap")
    if (
        isinstance(source.side, StoreSide)
        and isinstance(target.side, StoreSide)
        and source.side.service.store_identity == target.side.service.store_identity
    ):
        mine = join_key(source.side.prefix, source.key) + "/"
        theirs = join_key(target.side.prefix, target.key) + "/"
        if mine.startswith(theirs) or theirs.startswith(mine):
            raise CommandError(f"{source.text} and {target.text} overlap")


def _report(transfers: _Transfers, verb: str) -> None:
    for key, reason in sorted(transfers.failures.items()):
        click.echo(f"objstore: error: {key}: {reason}", err=True)
    if not transfers.dry_run and (verbose() or transfers.failures or transfers.copied != 1):
        click.echo(
            f"{verb} {plural(transfers.copied, 'object')}, {transfers.bytes:,} bytes"
            + (f"; {plural(len(transfers.failures), 'failure')}" if transfers.failures else ""),
            err=True,
        )
    sys.exit(EXIT_FAILED if transfers.failures else EXIT_OK)


def _copy_options(function: Callable[..., None]) -> Callable[..., None]:
    for option in reversed(
        [
            click.option("--store", "-s", help="Keys of both arguments are in this store (URL or remote)."),
            click.option("--recursive", "-r", "-R", is_flag=True, help="Folders, with everything in them."),
            click.option(
                "--jobs", "--transfers", "-j", "jobs", type=click.IntRange(min=1), default=8, show_default=True
            ),
            click.option("--dry-run", "--dryrun", "-n", "dry_run", is_flag=True, help="Say what would be done."),
        ]
    ):
        function = option(function)
    return function


@main.command()
@click.argument("source")
@click.argument("target")
@_copy_options
def cp(source: str, target: str, store: str | None, recursive: bool, jobs: int, dry_run: bool) -> None:
    """Copy a file or object (or, with -r, a folder) between any two locations.

    Locations are local paths, store URLs (s3://bucket/key) or remotes (backup:dir/key); with --store, keys in
    that store. Inside one store the copy is made by the server where it can.
    """
    _transfer(source, target, store, recursive, jobs, move=False, dry_run=dry_run)


@main.command()
@click.argument("source")
@click.argument("target")
@_copy_options
def mv(source: str, target: str, store: str | None, recursive: bool, jobs: int, dry_run: bool) -> None:
    """Move a file or object (or, with -r, a folder): copied, then the source deleted if it did not change."""
    _transfer(source, target, store, recursive, jobs, move=True, dry_run=dry_run)


# --- check -------------------------------------------------------------------------------------------------------


def _digest(end: End, key: str) -> str:
    digest = hashlib.sha256()
    with end.side.open(join_key(end.key, key) if end.key else key) as stream:
        while chunk := stream.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def _known_hash(end: End, key: str) -> str | None:
    """A SHA-256 the side knows without reading the content (a store's recorded checksum), else None."""
    if isinstance(end.side, LocalSide):
        return None
    with contextlib.suppress(OSError, ValueError):
        return end.side.sha256(join_key(end.key, key) if end.key else key)
    return None


def _same(a: End, b: End, key: str, download: bool) -> bool:
    """Equal contents: by the SHA-256 both sides know, else (local files, ``--download``) by reading both."""
    known_a, known_b = _known_hash(a, key), _known_hash(b, key)
    if known_a and known_b:
        return known_a == known_b
    if not download and not (a.is_local or b.is_local):
        return True  # sizes agree and no hash to compare: what rclone check does without --download
    return (known_a or _digest(a, key)) == (known_b or _digest(b, key))


def _compare(a: End, b: End, download: bool, one_way: bool) -> Iterator[tuple[str, str]]:
    """(mark, key) for every key: ``=`` identical, ``*`` different, ``-`` only in A, ``+`` only in B."""
    theirs = {entry.key: entry for entry in b.entries()}
    for entry in a.entries():
        other = theirs.pop(entry.key, None)
        if other is None:
            yield "-", entry.key
        elif other.size != entry.size or not _same(a, b, entry.key, download):
            yield "*", entry.key
        else:
            yield "=", entry.key
    if not one_way:
        for key in sorted(theirs):
            yield "+", key


@main.command()
@click.argument("source")
@click.argument("target")
@click.option("--download", is_flag=True, help="Compare contents by reading both sides where no hash is known.")
@click.option("--one-way", is_flag=True, help="Only check that every source file is on the target.")
@click.option("--combined", is_flag=True, help="Print every key, identical ones too (= same, * differs, - +).")
def check(source: str, target: str, download: bool, one_way: bool, combined: bool) -> None:
    """Compare two folders (local, store or remote) by size and hash; exit 1 if they differ (rclone check).

    Prints one line per difference: '* key' differs, '- key' only in SOURCE, '+ key' only in TARGET.
    """
    counts = {"=": 0, "*": 0, "-": 0, "+": 0}
    with handled():
        a, b = resolve(source, None, writing=False).folder(), resolve(target, None, writing=False).folder()
        if not a.is_folder():
            raise CommandError(f"{source}: no such folder")
        for mark, key in _compare(a, b, download, one_way):
            counts[mark] += 1
            if mark != "=" or combined:
                echo(f"{mark} {key}")
    differences = counts["*"] + counts["-"] + counts["+"]
    summary = (
        f"{plural(counts['='], 'file')} identical, {counts['*']:,} differing, {counts['-']:,} missing on the target"
    )
    click.echo(summary + ("" if one_way else f", {counts['+']:,} missing on the source"), err=True)
    sys.exit(EXIT_FAILED if differences else EXIT_OK)
