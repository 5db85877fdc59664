"""Draw the objstore/peer time ratios of a compare.py run as a PNG (run by the bench venv's Python: matplotlib).

.cache/bench/bin/python bench/plot.py bench/results/compare.json docs/img/benchmarks.png
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter, LogLocator

COLOURS = {"aws": "#d62728", "s5cmd": "#1f77b4", "rclone": "#2ca02c", "boto3": "#9467bd", "raw": "#7f7f7f"}
# The targets, as ratios of objstore's time to the peer's (5: throughput >= 0.9 of raw, so time <= 1/0.9).
TARGETS = {("1", "aws"): 0.5, ("1", "s5cmd"): 1.0, ("1", "rclone"): 1.0, ("3", "rclone"): 1.0}
TARGETS.update({("2", peer): 1.0 for peer in ("aws", "s5cmd", "rclone", "boto3")})
TARGETS.update({("5-up", "raw"): 1 / 0.9, ("5-down", "raw"): 1 / 0.9})


def main() -> int:
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    report: dict[str, Any] = json.loads(source.read_text())
    summary, labels, settings = report["summary"], report["labels"], report["settings"]
    files, keys, size = settings["files"], settings["list_keys"], settings["large_mib"]
    large = f"{size // 1024} GiB" if size % 1024 == 0 else f"{size} MiB"
    scenarios = [
        ("1", f"1. push {files:,} files"),
        ("2", "2. no-change re-push"),
        ("3", "3. re-push, 1% changed"),
        ("4", f"4. pull {files:,} files"),
        ("5-up", f"5. upload {large}"),
        ("5-down", f"5. download {large}"),
        ("6", f"6. list {keys:,} keys"),
    ]
    peers = [name for name in COLOURS if name in labels]
    rows = [(key, title) for key, title in scenarios if key in summary]
    height = 0.8 / len(peers)
    figure, axes = plt.subplots(figsize=(10, 1.6 + 0.75 * len(rows)), dpi=120)
    drawn: set[str] = set()
    ratios = []
    for position, (key, _title) in enumerate(rows):
        for offset, peer in enumerate(peers):
            ratio = summary[key].get(peer, {}).get("ratio")
            if ratio is None:
                continue
            ratios.append(ratio)
            y = position + (offset - (len(peers) - 1) / 2) * height
            # Bars grow from 1 (a tie): to the left objstore is faster, to the right slower.
            label = labels[peer] if peer not in drawn else None
            axes.barh(y, ratio - 1, height=height * 0.9, left=1, color=COLOURS[peer], label=label)
            drawn.add(peer)
            right = ratio >= 1
            axes.text(
                ratio * (1.04 if right else 1 / 1.04),
                y,
                f"{ratio:.2f}",
                va="center",
                ha="left" if right else "right",
                fontsize=7,
            )
            limit = TARGETS.get((key, peer))
            if limit is not None:
                axes.plot([limit, limit], [y - height / 2, y + height / 2], color="black", linewidth=2)
    axes.axvline(1.0, color="black", linewidth=0.8, linestyle="--")
    axes.set_xscale("log")
    low, high = min([*ratios, 0.5]), max([*ratios, 2.0])
    axes.set_xlim(low / 1.6, high * 1.6)
    axes.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axes.xaxis.set_minor_locator(LogLocator(base=10, subs=()))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _position: f"{value:g}"))
    axes.set_yticks(range(len(rows)), [title for _key, title in rows])
    axes.invert_yaxis()
    axes.set_xlabel("objstore median time / peer median time (log scale; left of 1: objstore is faster)")
    axes.set_title(
        f"objstore against the alternatives, same SeaweedFS server, same run ({report['when']})\n"
        f"{report['machine']['summary']}; black ticks: the targets",
        fontsize=9,
    )
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=len(peers), fontsize=8, frameon=False)
    axes.grid(axis="x", which="both", alpha=0.3)
    figure.tight_layout()
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
