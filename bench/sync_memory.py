"""Benchmark: does a push's memory grow with the number of files?

Makes two trees of small files (default 20,000 and 200,000), pushes each to a fresh folder store in a child
process of its own, and reports the peak RSS of each push and the growth per object between them.

    .venv/bin/python bench/sync_memory.py [--small 20000] [--large 200000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from objstore import ObjectStorageFactory
store = ObjectStorageFactory.from_url("file://" + sys.argv[2] + "?fsync=false")
started = time.perf_counter()
report = store.push(sys.argv[1], jobs=4, progress=None)
print(json.dumps({"seconds": time.perf_counter() - started, "ok": report.ok, "counts": report.counts,
                  "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def make_tree(root: Path, count: int) -> None:
    for index in range(count):
        folder = root / f"d{index // 1000:04d}"
        if index % 1000 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{index:07d}.txt").write_bytes(b"x" * (index % 64))


def measure(count: int, scratch: Path) -> dict[str, float]:
    tree, store = scratch / f"tree-{count}", scratch / f"store-{count}"
    make_tree(tree, count)
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(tree), str(store)], capture_output=True, text=True, check=True
    )
    data = json.loads(result.stdout)
    return {"objects": count, "seconds": data["seconds"], "peak_rss_mib": data["peak_rss_kib"] / 1024}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=20_000)
    parser.add_argument("--large", type=int, default=200_000)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "sync_memory.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="objstore-sync-bench-") as scratch:
        small = measure(args.small, Path(scratch))
        large = measure(args.large, Path(scratch))
    growth = (large["peak_rss_mib"] - small["peak_rss_mib"]) * 2**20 / (large["objects"] - small["objects"])
    report = {
        "small": small,
        "large": large,
        "growth_bytes_per_object": growth,
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpus": os.cpu_count(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    for item in (small, large):
        print(f"{item['objects']:>9,} objects: push {item['seconds']:6.1f}s, peak RSS {item['peak_rss_mib']:6.1f} MiB")
    print(f"growth: {growth:,.0f} bytes per object")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
