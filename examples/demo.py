"""objstore demo: the main job end to end on the embedded default store, a local folder.

Run with ``make demo``. It writes only below ``demo-store/`` (or the folder given as the first argument) and
prints what it does, step by step, checking every result.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import sys
import time
from pathlib import Path

from objstore import ObjectAlreadyExists, ObjectNotFound, ObjectStorageFactory, PreconditionFailed

MiB = 1024 * 1024


def step(text: str) -> None:
    print(f"\n== {text}")


def check(condition: bool, what: str) -> None:
    if not condition:
        print(f"   FAILED: {what}")
        sys.exit(1)
    print(f"   ok: {what}")


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "demo-store").resolve()
    shutil.rmtree(root, ignore_errors=True)

    step(f"open the default store: a local folder at {root}")
    store = ObjectStorageFactory.from_url(f"file://{root}")
    print(f"   {store!r}")

    step("put a few objects, with a content type and user metadata")
    files = {
        "reports/2026/summary.json": b'{"total": 42}\n',
        "reports/2026/q1.csv": b"month,value\njan,1\nfeb,2\nmar,3\n",
        "images/logo.svg": b"<svg xmlns='http://www.w3.org/2000/svg'/>\n",
        "README.txt": b"objstore demo\n",
    }
    for key, content in files.items():
        store.put_object("", key, content, metadata={"source": "demo"})
        print(f"   put {key:<28} {len(content):>4} bytes")

    step("list the root and a folder (immediate children, sub-prefixes end in '/')")
    print(f"   list_objects('/')        -> {store.list_objects('/')}")
    print(f"   list_objects('reports')  -> {store.list_objects('reports')}")
    check(store.list_objects("/") == ["README.txt", "images/", "reports/"], "root listing")

    step("read everything back and compare")
    for key, content in files.items():
        check(store.get_object("", key) == content, f"get {key}")
    info = store.head_object("reports/2026", "summary.json")
    print(f"   head summary.json -> size={info.size} type={info.content_type} metadata={dict(info.metadata)}")
    check(info.checksum_sha256 == hashlib.sha256(files["reports/2026/summary.json"]).hexdigest(), "sha256 kept")

    step("stream a 64 MiB object in and out in bounded memory, then a ranged read")
    payload = os.urandom(MiB)
    started = time.perf_counter()

    class Repeat(io.RawIOBase):
        left = 64

        def readable(self) -> bool:
            return True

        def read(self, n: int = -1) -> bytes:
            if self.left == 0:
                return b""
            self.left -= 1
            return payload

    big = store.put_object_stream("data", "big.bin", Repeat())
    digest = hashlib.sha256()
    with store.get_object_stream("data", "big.bin") as stream:
        while chunk := stream.read(MiB):
            digest.update(chunk)
    elapsed = time.perf_counter() - started
    check(big.size == 64 * MiB and digest.hexdigest() == big.checksum_sha256, f"64 MiB round trip in {elapsed:.2f}s")
    with store.get_object_stream("data", "big.bin", start=MiB - 4, end=MiB + 4) as stream:
        check(stream.read() == payload[-4:] + payload[:4], "bytes [1 MiB - 4, 1 MiB + 4) across a chunk boundary")

    step("conditional writes: create-only and optimistic update")
    store.put_object("locks", "job.lock", b"worker-1", if_none_match="*")
    try:
        store.put_object("locks", "job.lock", b"worker-2", if_none_match="*")
    except ObjectAlreadyExists as error:
        print(f"   second create-only put refused: {error}")
    etag = store.head_object("locks", "job.lock").etag
    store.put_object("locks", "job.lock", b"worker-1 renewed", if_match=etag)
    try:
        store.put_object("locks", "job.lock", b"stale writer", if_match=etag)
    except PreconditionFailed as error:
        print(f"   stale update refused: {error}")
    check(store.get_object("locks", "job.lock") == b"worker-1 renewed", "lock holds the renewed value")

    step("copy, then delete in a batch")
    store.copy_object("reports/2026", "q1.csv", "archive", "q1.csv")
    result = store.delete_objects("reports/2026", ["summary.json", "q1.csv", "never-existed"])
    print(f"   deleted={list(result.deleted)} errors={dict(result.errors)}")
    check(result.ok and store.list_objects("reports") == [], "reports/ is gone, nothing failed")
    check(store.get_object("archive", "q1.csv") == files["reports/2026/q1.csv"], "the copy survived")
    try:
        store.get_object("reports/2026", "summary.json")
    except ObjectNotFound as error:
        print(f"   typed error: {type(error).__name__} (also a FileNotFoundError): {error}")

    step("every object now in the store")
    for entry in store.iter_objects(""):
        print(f"   {entry.key:<24} {entry.size:>10,} bytes")
    print(f"\nDemo finished: the store is the folder {root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
