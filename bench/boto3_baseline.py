"""The hand-written boto3 baseline: what a user writes in an afternoon instead of adopting a sync tool.

A ``ThreadPoolExecutor`` of 8 workers over one boto3 client, with boto3's defaults (credentials and endpoint from
the environment). ``push`` mirrors a folder the way ``aws s3 sync --delete`` decides: upload when the key is new,
the size differs or the local mtime is newer than the object's ``LastModified``; delete keys the folder lacks.
``pull`` downloads every key the folder lacks or has at another size. Large files go through boto3's transfer
manager (``upload_file`` / ``download_file``), the documented way.

    python bench/boto3_baseline.py push FOLDER BUCKET PREFIX
    python bench/boto3_baseline.py pull BUCKET PREFIX FOLDER
    python bench/boto3_baseline.py put FILE BUCKET KEY
    python bench/boto3_baseline.py get BUCKET KEY FILE
    python bench/boto3_baseline.py ls BUCKET PREFIX
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3

WORKERS = 8


def client() -> Any:
    return boto3.session.Session().client("s3")


def listing(s3: Any, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Contents", [])


def local_files(folder: Path) -> Iterator[tuple[str, os.stat_result]]:
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            yield os.path.relpath(path, folder).replace(os.sep, "/"), os.stat(path)


def run_all(work: Callable[[Any], None], items: Iterable[Any]) -> None:
    with ThreadPoolExecutor(WORKERS) as pool:
        for future in [pool.submit(work, item) for item in items]:
            future.result()  # the first failure fails the run


def push(folder: Path, bucket: str, prefix: str) -> None:
    s3 = client()
    base = prefix.rstrip("/") + "/"
    remote = {item["Key"][len(base) :]: item for item in listing(s3, bucket, base)}
    changed = []
    for relative, stat in local_files(folder):
        seen = remote.pop(relative, None)
        if seen is None or seen["Size"] != stat.st_size or stat.st_mtime > seen["LastModified"].timestamp():
            changed.append(relative)

    def upload(relative: str) -> None:
        with open(folder / relative, "rb") as body:
            s3.put_object(Bucket=bucket, Key=base + relative, Body=body)

    run_all(upload, changed)
    extra = [base + relative for relative in remote]
    for start in range(0, len(extra), 1000):
        batch = [{"Key": key} for key in extra[start : start + 1000]]
        s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})


def pull(bucket: str, prefix: str, folder: Path) -> None:
    s3 = client()
    base = prefix.rstrip("/") + "/"
    wanted = []
    for item in listing(s3, bucket, base):
        target = folder / item["Key"][len(base) :]
        if not target.exists() or target.stat().st_size != item["Size"]:
            wanted.append((item["Key"], target))

    def download(job: tuple[str, Path]) -> None:
        key, target = job
        target.parent.mkdir(parents=True, exist_ok=True)
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        with open(target, "wb") as out:
            for chunk in body.iter_chunks(1024 * 1024):
                out.write(chunk)

    run_all(download, wanted)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("push", "pull", "put", "get", "ls"))
    parser.add_argument("args", nargs="+")
    options = parser.parse_args()
    command, args = options.command, options.args
    if command == "push":
        push(Path(args[0]), args[1], args[2])
    elif command == "pull":
        pull(args[0], args[1], Path(args[2]))
    elif command == "put":
        client().upload_file(args[0], args[1], args[2])
    elif command == "get":
        client().download_file(args[0], args[1], args[2])
    else:
        out = sys.stdout
        for item in listing(client(), args[0], args[1].rstrip("/") + "/"):
            out.write(f"{item['Size']} {item['Key']}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
