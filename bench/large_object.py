"""Benchmark: one large object streamed up and down through the S3 adapter, with peak memory.

Starts a SeaweedFS S3 server on loopback, writes a file of pseudo-random bytes, then, in a fresh child process
(so its peak RSS is the transfer's alone), uploads it with ``put_object_stream`` and downloads it with
``get_object_stream`` into a new file, hashing both. Reports throughput and the child's peak RSS, and checks the
SHA-256 of what came back.

    .venv/bin/python bench/large_object.py [--size-mib 1024] [--out bench/results/large_object.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.harness.seaweedfs import start_weed_mini  # noqa: E402

MiB = 1024 * 1024

CHILD = r"""
import hashlib, json, resource, sys, time
from objstore import ObjectStorageService
from objstore.adapters.s3 import S3Adapter, S3Config

settings = json.loads(sys.argv[1])
source, target = sys.argv[2], sys.argv[3]
store = ObjectStorageService(S3Adapter(S3Config(**settings)))
started = time.perf_counter()
with open(source, "rb") as handle:
    info = store.put_object_stream("bench", "large.bin", handle)
uploaded = time.perf_counter()
digest = hashlib.sha256()
with store.get_object_stream("bench", "large.bin") as stream, open(target, "wb") as out:
    while chunk := stream.read(8 * 1024 * 1024):
        digest.update(chunk)
        out.write(chunk)
downloaded = time.perf_counter()
print(json.dumps({
    "upload_seconds": uploaded - started,
    "download_seconds": downloaded - uploaded,
    "stored_sha256": info.checksum_sha256,
    "downloaded_sha256": digest.hexdigest(),
    "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
}))
"""


def write_source(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    block = os.urandom(MiB)
    with open(path, "wb") as handle:
        for index in range(size // MiB):
            # Each MiB differs, so no layer can deduplicate or compress its way to a better number.
            chunk = hashlib.sha256(index.to_bytes(8, "big")).digest() + block[32:]
            digest.update(chunk)
            handle.write(chunk)
    return digest.hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "large_object.json")
    args = parser.parse_args()
    size = args.size_mib * MiB
    with tempfile.TemporaryDirectory(prefix="objstore-bench-") as scratch:
        folder = Path(scratch)
        server, endpoint = start_weed_mini(folder / "seaweedfs")
        try:
            endpoint.make_bucket("bench")
            source = folder / "source.bin"
            expected = write_source(source, size)
            settings = {
                "bucket": "bench",
                "endpoint_url": endpoint.endpoint_url,
                "access_key_id": endpoint.access_key_id,
                "secret_access_key": endpoint.secret_access_key,
            }
            child = subprocess.run(
                [sys.executable, "-c", CHILD, json.dumps(settings), str(source), str(folder / "copy.bin")],
                capture_output=True,
                text=True,
                check=False,
            )
            if child.returncode != 0:
                print(child.stderr, file=sys.stderr)
                return 1
            result = json.loads(child.stdout)
        finally:
            server.stop()
    peak_mib = result["peak_rss_kib"] / 1024
    report = {
        "size_mib": args.size_mib,
        "upload_mib_per_s": args.size_mib / result["upload_seconds"],
        "download_mib_per_s": args.size_mib / result["download_seconds"],
        "peak_rss_mib": peak_mib,
        "sha256_ok": result["stored_sha256"] == expected == result["downloaded_sha256"],
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "self_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"object size      {args.size_mib} MiB")
    print(f"upload           {report['upload_mib_per_s']:.0f} MiB/s")
    print(f"download         {report['download_mib_per_s']:.0f} MiB/s")
    print(f"peak RSS         {peak_mib:.0f} MiB (target: under 200 MiB)")
    print(f"sha256 verified  {report['sha256_ok']}")
    return 0 if report["sha256_ok"] and peak_mib < 200 else 1


if __name__ == "__main__":
    raise SystemExit(main())
