"""Benchmark: objstore against the tools users would pick instead, side by side on one local S3 server.

One SeaweedFS server on loopback; objstore, ``aws s3``, s5cmd, rclone and a hand-written boto3 thread pool each
run as a subprocess, in turn (the order rotates every round), several rounds; medians and objstore/peer ratios of
the wall time are reported, with each process's CPU time and peak RSS.

  1. push of 10,000 files of 4 KiB to an empty prefix
  2. no-change re-push of the same tree
  3. re-push after 1% of the files changed (half of them same-size changes); every changed file is checked
  4. pull of the 10,000 files into an empty folder
  5. upload and download of one 1 GiB file, with peak RSS, and the raw single-stream ceiling
  6. listing 100,000 keys
  7. a push of 100,000 small files with peak RSS (memory growth per object, against scenario 1's push)

    make bench                                        # the full run docs/benchmarks.md reports
    .venv/bin/python bench/compare.py --quick         # a small pass of every scenario (checks the harness)
    .venv/bin/python bench/compare.py --scenarios 1,2 --rounds 5

Writes bench/results/compare.json and compare.md; a full run also writes the tables into docs/benchmarks.md and
the plot docs/img/benchmarks.png.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

from contenders import (  # noqa: E402
    BUCKET,
    ROOT,
    Command,
    Objstore,
    RawStream,
    S5cmd,
    Tool,
    install_tools,
    plot_python,
    tool_environment,
    versions,
)

MiB = 1024 * 1024
HOUR_AGO_NS = (time.time_ns() // 10**9 - 3600) * 10**9
RESULTS = ROOT / "bench" / "results"
DOCS = ROOT / "docs" / "benchmarks.md"
PLOT = ROOT / "docs" / "img" / "benchmarks.png"
MARK_START, MARK_END = "<!-- compare:start (written by bench/compare.py) -->", "<!-- compare:end -->"
TITLES = {
    "1": "push 10,000 × 4 KiB to an empty prefix",
    "2": "no-change re-push",
    "3": "re-push after 1% changed",
    "4": "pull 10,000 files into an empty folder",
    "5-up": "upload one 1 GiB file",
    "5-down": "download one 1 GiB file",
    "6": "list 100,000 keys",
    "7": "push 100,000 small files",
}
CHANGE_KINDS = ("size", "same size, new mtime", "same size, same mtime")


@dataclass
class Run:
    """One process: wall time, CPU time (user + system) and peak RSS, as the kernel accounted them."""

    seconds: float
    cpu_seconds: float
    peak_rss_mib: float
    ok: bool
    error: str = ""
    round: int = 0
    notes: dict[str, Any] = field(default_factory=dict)


class Launcher:
    """Runs each measured command through bench/launcher.py, a process small enough that the peak RSS the kernel
    reports for a command is the command's own, not this driver's (Linux carries the peak across exec)."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("launcher.py"))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def measure(self, command: Command, env: dict[str, str], timeout: float) -> Run:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        request = {"argv": command.argv, "env": env, "timeout": timeout}
        request["stdout"] = str(command.stdout) if command.stdout else None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        ok = answer["code"] == 0
        timed_out = " (timed out)" if answer["timed_out"] else ""
        error = "" if ok else f"exit {answer['code']}{timed_out}: {answer['stderr']}"
        return Run(answer["seconds"], answer["cpu"], answer["maxrss_kib"] / 1024, ok, error)

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(30)

    def abort(self) -> None:
        """Stop now, and the command being measured with it (the launcher kills its process group)."""
        self.process.terminate()
        self.process.wait(30)


def make_tree(root: Path, count: int, size: int, seed: int) -> list[str]:
    """``count`` files of ``size`` pseudo-random bytes, 1,000 a folder, all last modified an hour ago (as real data
    is: a file written in the same second as a sync would look changed to tools that compare whole seconds)."""
    generator = random.Random(seed)
    names = []
    for index in range(count):
        relative = f"d{index // 1000:04d}/f{index:07d}.bin"
        path = root / relative
        if index % 1000 == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(generator.randbytes(size))
        os.utime(path, ns=(HOUR_AGO_NS, HOUR_AGO_NS))
        names.append(relative)
    return names


@dataclass(frozen=True)
class Change:
    relative: str
    kind: str
    content: bytes


def plan_changes(names: list[str], size: int, fraction: float, seed: int) -> list[Change]:
    """1% of the files: half get a new size, a quarter new bytes of the same size (a normal edit: new mtime), a
    quarter new bytes of the same size with the old mtime put back (as ``cp -p``, ``rsync -t`` or ``tar x`` do)."""
    generator = random.Random(seed)
    chosen = sorted(generator.sample(names, max(4, round(len(names) * fraction))))
    quarter = len(chosen) // 4
    changes = []
    for position, relative in enumerate(chosen):
        kind = CHANGE_KINDS[0] if position < 2 * quarter else CHANGE_KINDS[1 if position < 3 * quarter else 2]
        changes.append(Change(relative, kind, generator.randbytes(size + 1024 if kind == CHANGE_KINDS[0] else size)))
    return changes


def apply_changes(tree: Path, changes: list[Change]) -> None:
    for change in changes:
        path = tree / change.relative
        before = path.stat()
        path.write_bytes(change.content)
        if change.kind == CHANGE_KINDS[2]:
            os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def rotated(items: list[Tool], by: int) -> list[Tool]:
    by %= len(items)
    return items[by:] + items[:by]


def median_or_none(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


class Bench:
    def __init__(
        self, args: argparse.Namespace, scratch: Path, endpoint: Any, tools: list[Tool], launcher: Launcher
    ) -> None:
        self.args = args
        self.launcher = launcher
        self.scratch = scratch
        self.endpoint = endpoint
        self.s3 = endpoint.client()
        self.env = tool_environment(endpoint.endpoint_url, endpoint.access_key_id, endpoint.secret_access_key, scratch)
        self.tools = tools
        self.runs: dict[str, dict[str, list[Run]]] = {}
        self.extra: dict[str, Any] = {}

    # --- bookkeeping -------------------------------------------------------------------------------------------

    def run(self, scenario: str, tool: Tool, command: Command, round_: int, timeout: float | None = None) -> Run:
        result = self.launcher.measure(command, self.env, timeout or self.args.timeout)
        result.round = round_
        self.runs.setdefault(scenario, {}).setdefault(tool.name, []).append(result)
        state = "ok" if result.ok else f"FAILED {result.error[:300]}"
        print(
            f"  [{scenario:>6} r{round_}] {tool.label:<18} {result.seconds:8.2f} s  cpu {result.cpu_seconds:7.1f} s  "
            f"rss {result.peak_rss_mib:7.1f} MiB  {state}",
            flush=True,
        )
        return result

    def count_keys(self, prefix: str) -> int:
        total = 0
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix.rstrip("/") + "/"):
            total += len(page.get("Contents", []))
        return total

    def read_object(self, key: str) -> bytes | None:
        try:
            return bytes(self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        except self.s3.exceptions.NoSuchKey:
            return None

    # --- scenarios 1 to 4: a tree pushed, pushed again unchanged, pushed after changes, pulled back ---------------

    def sync_scenarios(self, selected: set[str]) -> None:
        args = self.args
        tools = [tool for tool in self.tools if not isinstance(tool, RawStream)]
        master = self.scratch / "tree-master"
        print(f"making {args.files:,} files of {args.file_size:,} bytes", flush=True)
        names = make_tree(master, args.files, args.file_size, seed=1)
        changes = plan_changes(names, args.file_size, 0.01, seed=2)
        self.extra["3"] = {
            "changed": {kind: sum(change.kind == kind for change in changes) for kind in CHANGE_KINDS},
            "missed": {},
        }
        for round_ in range(args.rounds):
            order = rotated(tools, round_)
            work = self.scratch / f"sync-r{round_}"
            for tool in order:
                shutil.copytree(master, work / tool.name / "tree", copy_function=shutil.copy2)  # mtimes kept
            prefix = {tool.name: f"s1/{tool.name}-r{round_}" for tool in order}
            for tool in order:  # 1. push to an empty prefix
                result = self.run("1", tool, tool.push(work / tool.name / "tree", prefix[tool.name]), round_)
                stored = self.count_keys(prefix[tool.name])
                result.notes["objects"] = stored
                if stored != args.files:
                    result.ok, result.error = False, f"{stored} objects stored, {args.files} expected"
            if "2" in selected:
                for tool in order:  # 2. the same tree again
                    self.run("2", tool, tool.push(work / tool.name / "tree", prefix[tool.name]), round_)
            if "3" in selected:
                for tool in order:
                    apply_changes(work / tool.name / "tree", changes)
                for tool in order:  # 3. after 1% changed
                    result = self.run("3", tool, tool.push(work / tool.name / "tree", prefix[tool.name]), round_)
                    missed = {kind: 0 for kind in CHANGE_KINDS}
                    for change in changes:
                        if self.read_object(f"{prefix[tool.name]}/{change.relative}") != change.content:
                            missed[change.kind] += 1
                    result.notes["missed"] = missed
                    self.extra["3"]["missed"].setdefault(tool.name, []).append(missed)
            if "4" in selected:
                for tool in order:  # 4. pull into an empty folder
                    target = work / tool.name / "pulled"
                    target.mkdir()
                    result = self.run("4", tool, tool.pull(prefix[tool.name], target), round_)
                    result.notes.update(compare_trees(work / tool.name / "tree", target))
                    if result.notes["files"] != args.files:
                        result.ok = False
                        result.error = f"{result.notes['files']} files pulled, {args.files} expected"
            shutil.rmtree(work)

    # --- scenario 5: one large object up and down, and the single-stream ceiling -------------------------------

    def large_object(self) -> None:
        args = self.args
        source = self.scratch / "large.bin"
        print(f"making a {args.large_mib} MiB file", flush=True)
        expected = write_large(source, args.large_mib * MiB)
        for round_ in range(args.large_rounds):
            for tool in rotated([*self.tools, RawStream()], round_):
                key = f"s5/{tool.name}-r{round_}/large.bin"
                up = self.run("5-up", tool, tool.put(source, key), round_)
                copy = self.scratch / "large-copy.bin"
                down = self.run("5-down", tool, tool.get(key, copy), round_)
                if up.ok and down.ok:
                    size = copy.stat().st_size if copy.exists() else -1
                    intact = size == args.large_mib * MiB and (round_ > 0 or sha256_of(copy) == expected)
                    down.notes["intact"] = intact
                    if not intact:
                        down.ok, down.error = False, "the downloaded file differs from the source"
                copy.unlink(missing_ok=True)
                self.s3.delete_object(Bucket=BUCKET, Key=key)

    # --- scenario 7: a push of many small files, peak RSS; scenario 6: listing many keys ----------------------

    def many_files(self) -> str | None:
        """Scenario 7; returns the prefix it filled when every object arrived (scenario 6 can list it)."""
        args = self.args
        tree = self.scratch / "tree-many"
        print(f"making {args.many_files:,} files of {args.file_size:,} bytes", flush=True)
        make_tree(tree, args.many_files, args.file_size, seed=3)
        # objstore last, on the tree itself (its state folder would be sent by the others); peers on copies
        wanted = [tool for tool in self.tools if tool.name in args.many_peers and tool.name != "objstore"]
        wanted += [tool for tool in self.tools if tool.name == "objstore"]
        filled = None
        for tool in wanted:
            prefix = f"s7/{tool.name}"
            copy = tree if tool.name == "objstore" else self.scratch / f"tree-many-{tool.name}"
            if copy != tree:
                shutil.copytree(tree, copy, copy_function=shutil.copy2)
            result = self.run("7", tool, tool.push(copy, prefix), 0, timeout=args.timeout * 3)
            stored = self.count_keys(prefix)
            result.notes["objects"] = stored
            if stored != args.many_files:
                result.ok, result.error = False, f"{stored} objects stored, {args.many_files} expected"
            elif filled is None:
                filled = prefix
            shutil.rmtree(copy)
        return filled

    def listing(self, prefix: str | None) -> None:
        args = self.args
        if prefix is None:  # nothing from scenario 7 to list: fill a prefix with the fastest uploader, untimed
            prefix, tree = "s6/keys", self.scratch / "tree-list"
            print(f"uploading {args.list_keys:,} keys to list (not timed)", flush=True)
            make_tree(tree, args.list_keys, 16, seed=4)
            uploader = next((tool for tool in self.tools if isinstance(tool, S5cmd)), None)
            uploader = uploader or next(tool for tool in self.tools if tool.name == "boto3")
            setup = self.launcher.measure(uploader.push(tree, prefix), self.env, args.timeout * 3)
            shutil.rmtree(tree)
            if not setup.ok:
                raise RuntimeError(f"could not upload the keys to list: {setup.error}")
        expected = self.count_keys(prefix)
        self.extra["6"] = {"keys": expected}
        for round_ in range(args.list_rounds):
            for tool in rotated([tool for tool in self.tools if not isinstance(tool, RawStream)], round_):
                out = self.scratch / f"ls-{tool.name}.txt"
                result = self.run("6", tool, tool.ls(prefix, out), round_)
                lines = sum(1 for line in out.read_bytes().splitlines() if line.strip()) if out.exists() else 0
                result.notes["lines"] = lines
                if result.ok and lines != expected:
                    result.ok, result.error = False, f"{lines} lines listed, {expected} keys expected"
                out.unlink(missing_ok=True)


def compare_trees(source: Path, copy: Path) -> dict[str, int]:
    files = identical = 0
    for path in copy.rglob("*"):
        relative = path.relative_to(copy)
        if relative.parts[0] == ".objstore" or not path.is_file():
            continue
        files += 1
        original = source / relative
        identical += original.is_file() and original.read_bytes() == path.read_bytes()
    return {"files": files, "identical": identical}


def write_large(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    block = os.urandom(MiB)
    with open(path, "wb") as handle:
        for index in range(size // MiB):
            chunk = hashlib.sha256(index.to_bytes(8, "big")).digest() + block[32:]  # no two MiB alike
            digest.update(chunk)
            handle.write(chunk)
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(MiB):
            digest.update(chunk)
    return digest.hexdigest()


# --- summary, targets, tables -------------------------------------------------------------------------------


def summarise(runs: dict[str, dict[str, list[Run]]]) -> dict[str, dict[str, dict[str, Any]]]:
    summary: dict[str, dict[str, dict[str, Any]]] = {}
    for scenario, by_tool in runs.items():
        rows = summary.setdefault(scenario, {})
        for tool, results in by_tool.items():
            good = [result for result in results if result.ok]
            rows[tool] = {
                "median_seconds": median_or_none([result.seconds for result in good]),
                "median_cpu_seconds": median_or_none([result.cpu_seconds for result in good]),
                "max_peak_rss_mib": max((result.peak_rss_mib for result in good), default=None),
                "runs": len(results),
                "failed": len(results) - len(good),
                "errors": sorted({result.error[:300] for result in results if not result.ok}),
            }
        mine = rows.get("objstore", {}).get("median_seconds")
        for row in rows.values():
            theirs = row["median_seconds"]
            row["ratio"] = mine / theirs if mine and theirs else None
    return summary


def evaluate_targets(summary: dict[str, Any], extra: dict[str, Any], args: argparse.Namespace) -> list[dict[str, Any]]:
    targets: list[dict[str, Any]] = []

    def ratio(scenario: str, peer: str) -> float | None:
        return summary.get(scenario, {}).get(peer, {}).get("ratio")

    ran = {key.split("-")[0] for key in summary}

    def add(scenario: str, what: str, target: str, measured: float | None, met: bool | None, text: str) -> None:
        if scenario.split("-")[0] not in ran:
            return
        targets.append(
            {"scenario": scenario, "what": what, "target": target, "measured": measured, "met": met, "text": text}
        )

    for peer, limit in (("rclone", 1.0), ("s5cmd", 1.0), ("aws", 0.5)):
        value = ratio("1", peer)
        met = None if value is None else value <= limit
        add("1", f"push time vs {peer}", f"≤ {limit}", value, met, fmt_ratio(value))
    for peer in ("aws", "s5cmd", "rclone", "boto3"):
        value = ratio("2", peer)
        add(
            "2",
            f"no-change re-push vs {peer}",
            "≤ 1.0",
            value,
            None if value is None else value <= 1.0,
            fmt_ratio(value),
        )
    missed = extra.get("3", {}).get("missed", {}).get("objstore")
    if missed is not None:
        total = sum(sum(item.values()) for item in missed)
        add("3", "objstore uploads every changed file", "0 missed", total, total == 0, f"{total} missed")
    value = ratio("3", "rclone")
    add("3", "re-push time vs rclone", "≤ 1.0", value, None if value is None else value <= 1.0, fmt_ratio(value))
    for direction in ("up", "down"):
        rows = summary.get(f"5-{direction}", {})
        mine, raw = rows.get("objstore", {}).get("median_seconds"), rows.get("raw", {}).get("median_seconds")
        fraction = raw / mine if mine and raw else None
        met = None if fraction is None else fraction >= 0.9
        add(
            f"5-{direction}",
            f"{direction}load throughput / raw single stream",
            "≥ 0.9",
            fraction,
            met,
            fmt_ratio(fraction),
        )
    peak = max(
        (summary.get(f"5-{d}", {}).get("objstore", {}).get("max_peak_rss_mib") or 0 for d in ("up", "down")),
        default=0,
    )
    if peak:
        add("5", "objstore peak RSS, 1 GiB up or down", "< 200 MiB", peak, peak < 200, f"{peak:.0f} MiB")
    growth = extra.get("7", {}).get("growth_bytes_per_object")
    if growth is not None:
        add("7", "objstore peak RSS growth per object", "< 300 B", growth, growth < 300, f"{growth:,.0f} B")
    return targets


def fmt_seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"


def fmt_ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def markdown(report: dict[str, Any]) -> str:
    summary, extra, labels = report["summary"], report["extra"], report["labels"]
    peers = [name for name in labels if name not in ("objstore", "raw")]
    lines = [
        f"Run of {report['when']} on {report['machine']['summary']}; {report['settings']['rounds']} rounds of "
        f"scenarios 1–4, {report['settings']['large_rounds']} of scenario 5, {report['settings']['list_rounds']} of "
        f"scenario 6, one of scenario 7 (the order of the tools rotates every round); the whole "
        f"run took {report['total_seconds'] / 60:.1f} min. Load average when it started (before any work of its own; "
        f"above about 0.5, something else was running): {report['load']['start'][0]:.2f}; when it ended: "
        f"{report['load']['end'][0]:.2f}.",
        "",
        "Median wall time; in brackets objstore's time divided by the peer's (below 1: objstore is faster).",
        "",
        "| scenario | objstore | " + " | ".join(labels[name] for name in peers) + " |",
        "|---|---" + "|---" * len(peers) + "|",
    ]
    for scenario in ("1", "2", "3", "4", "6"):
        rows = summary.get(scenario)
        if not rows:
            continue
        cells = [fmt_seconds(rows.get("objstore", {}).get("median_seconds"))]
        for name in peers:
            row = rows.get(name)
            if not row or row["median_seconds"] is None:
                cells.append("failed" if row else "—")
            else:
                cells.append(f"{fmt_seconds(row['median_seconds'])} ({fmt_ratio(row['ratio'])})")
        lines.append(f"| {scenario}. {TITLES[scenario]} | " + " | ".join(cells) + " |")
    lines += ["", "CPU time (user + system, median) and peak RSS (largest) of each tool's process:", ""]
    lines += ["| scenario | " + " | ".join(labels[name] for name in ["objstore", *peers]) + " |"]
    lines += ["|---" + "|---" * (len(peers) + 1) + "|"]
    for scenario in ("1", "2", "3", "4", "6"):
        rows = summary.get(scenario)
        if not rows:
            continue
        cells = []
        for name in ["objstore", *peers]:
            row = rows.get(name)
            if not row or row["median_cpu_seconds"] is None:
                cells.append("—")
            else:
                cells.append(f"{row['median_cpu_seconds']:.1f} s, {row['max_peak_rss_mib']:.0f} MiB")
        lines.append(f"| {scenario} | " + " | ".join(cells) + " |")
    if "3" in extra and extra["3"]["missed"]:
        changed = extra["3"]["changed"]
        lines += [
            "",
            "Scenario 3, changed files that did not reach the store (each round checked, worst round shown):",
            "",
        ]
        lines += ["| changed files | " + " | ".join(labels[name] for name in extra["3"]["missed"]) + " |"]
        lines += ["|---" + "|---" * len(extra["3"]["missed"]) + "|"]
        for kind in CHANGE_KINDS:
            cells = [f"{max(item[kind] for item in rounds)} missed" for rounds in extra["3"]["missed"].values()]
            lines.append(f"| {changed[kind]} {kind} | " + " | ".join(cells) + " |")
    if "5-up" in summary:
        lines += [
            "",
            f"Scenario 5, one {report['settings']['large_mib']:,} MiB file (median throughput; peak RSS):",
            "",
        ]
        lines += ["| tool | upload | download | peak RSS up / down | vs raw single stream (up / down) |"]
        lines += ["|---|---|---|---|---|"]
        size = report["settings"]["large_mib"]
        raw = {d: summary.get(f"5-{d}", {}).get("raw", {}).get("median_seconds") for d in ("up", "down")}
        for name in ["objstore", *peers, "raw"]:
            up, down = summary["5-up"].get(name), summary.get("5-down", {}).get(name)
            if not up:
                continue
            cells = []
            for row in (up, down):
                seconds = row and row["median_seconds"]
                cells.append(f"{size / seconds:.0f} MiB/s ({seconds:.1f} s)" if seconds else "failed")
            rss = " / ".join(
                f"{row['max_peak_rss_mib']:.0f} MiB" if row and row["max_peak_rss_mib"] else "—" for row in (up, down)
            )
            fractions = []
            for direction, row in (("up", up), ("down", down)):
                seconds = row and row["median_seconds"]
                fractions.append(f"{raw[direction] / seconds:.2f}" if seconds and raw[direction] else "—")
            lines.append(f"| {labels[name]} | {cells[0]} | {cells[1]} | {rss} | {' / '.join(fractions)} |")
    if "7" in summary:
        many = report["settings"]["many_files"]
        lines += ["", f"Scenario 7, a push of {many:,} files of {report['settings']['file_size']:,} bytes:", ""]
        lines += [
            "| tool | time | files/s | peak RSS | growth per object vs the 10,000-file push |",
            "|---|---|---|---|---|",
        ]
        for name, row in summary["7"].items():
            seconds = row["median_seconds"]
            growth = extra.get("7", {}).get("growth", {}).get(name)
            lines.append(
                f"| {labels[name]} | {fmt_seconds(seconds)} | {many / seconds:,.0f} | "
                f"{row['max_peak_rss_mib']:.0f} MiB | {'—' if growth is None else f'{growth:,.0f} B'} |"
                if seconds
                else f"| {labels[name]} | failed | | | |"
            )
    if report["targets"]:
        lines += ["", "Targets (same run):", "", "| scenario | target | measured | met |", "|---|---|---|---|"]
        for target in report["targets"]:
            met = {True: "yes", False: "**no**", None: "not measured"}[target["met"]]
            lines.append(f"| {target['scenario']} | {target['what']} {target['target']} | {target['text']} | {met} |")
    if report["missing"]:
        lines += ["", "Not measured (could not be installed from PyPI here):", ""]
        lines += [f"- {name}: {reason}" for name, reason in report["missing"].items()]
    failures = [
        f"- scenario {scenario}, {labels.get(name, name)}: {row['failed']} of {row['runs']} runs failed: "
        + "; ".join(row["errors"])[:400]
        for scenario, rows in summary.items()
        for name, row in rows.items()
        if row["failed"]
    ]
    if failures:
        lines += ["", "Failed runs (left out of the medians):", "", *failures]
    return "\n".join(lines) + "\n"


def machine() -> dict[str, Any]:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        memory_kib = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        memory_kib = 0
    cores = os.cpu_count() or 0
    memory = memory_kib / 1024 / 1024
    return {
        "cpu": model,
        "cores": cores,
        "memory_gib": round(memory, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "summary": f"{cores} cores ({model}), {memory:.0f} GiB, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}",
    }


def update_docs(table: str) -> bool:
    """Put the tables between the markers in docs/benchmarks.md; False when the markers are not there."""
    text = DOCS.read_text()
    start, end = text.find(MARK_START), text.find(MARK_END)
    if start < 0 or end < start:
        return False
    DOCS.write_text(text[: start + len(MARK_START)] + "\n" + table + text[end:])
    return True


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", default="1,2,3,4,5,6,7", help="comma-separated, e.g. 1,2,5")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of scenarios 1-4")
    parser.add_argument("--list-rounds", type=int, default=3, help="rounds of scenario 6")
    parser.add_argument("--large-rounds", type=int, default=2, help="rounds of scenario 5")
    parser.add_argument("--files", type=int, default=10_000, help="files in scenarios 1-4")
    parser.add_argument("--file-size", type=int, default=4096)
    parser.add_argument("--large-mib", type=int, default=1024, help="the large file of scenario 5")
    parser.add_argument("--list-keys", type=int, default=100_000, help="keys listed in scenario 6")
    parser.add_argument("--many-files", type=int, default=100_000, help="files pushed in scenario 7")
    parser.add_argument(
        "--many-peers", default="", help="peers that also run scenario 7 (e.g. s5cmd,rclone; slow: off by default)"
    )
    parser.add_argument("--timeout", type=float, default=1200, help="seconds one run may take (x3 for 100,000 files)")
    parser.add_argument("--quick", action="store_true", help="small sizes, one round: checks that everything works")
    parser.add_argument("--workdir", type=Path, help="where the scratch folder goes (default: the system's temp)")
    parser.add_argument("--out", type=Path, default=RESULTS / "compare.json")
    parser.add_argument(
        "--redraw", action="store_true", help="measure nothing: rewrite the tables and the plot from --out"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.list_rounds, args.large_rounds, args.files = 1, 1, 1, min(args.files, 500)
        args.large_mib, args.list_keys, args.many_files = min(args.large_mib, 64), min(args.list_keys, 2000), 2000
        if args.out == RESULTS / "compare.json":
            args.out = RESULTS / "compare-quick.json"
    args.scenarios = {item.strip() for item in args.scenarios.split(",") if item.strip()}
    args.many_peers = {item.strip() for item in args.many_peers.split(",") if item.strip()}
    return args


def _terminated(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.redraw:
        publish(json.loads(args.out.read_text()), args.out)
        return 0
    started = time.perf_counter()
    load_start = os.getloadavg()
    launcher = Launcher()  # started while this process is still small
    from tests.harness.seaweedfs import start_weed_mini  # the test suite's server, reused as it is

    scratch = Path(tempfile.mkdtemp(prefix="objstore-compare-", dir=args.workdir))
    server = None
    # A terminated run (a CI timeout, `kill`) unwinds like Ctrl-C: the server and the tool being measured stop too.
    signal.signal(signal.SIGTERM, _terminated)
    try:
        server, endpoint = start_weed_mini(scratch / "seaweedfs")
        endpoint.make_bucket(BUCKET)
        endpoint.client().put_object(Bucket=BUCKET, Key="warm-up", Body=b"x")  # the first PUT allocates a volume
        print("installing the peers (once; kept in .cache/)", flush=True)
        tools, missing = install_tools(endpoint.endpoint_url)
        for name, reason in missing.items():
            print(f"  {name} is not available: {reason}", flush=True)
        bench = Bench(args, scratch, endpoint, tools, launcher)
        print(f"  objstore compiled: {Objstore.compile(bench.env)}", flush=True)
        found_versions = versions(tools, bench.env, endpoint.weed)
        print("  " + "; ".join(found_versions.values()), flush=True)
        if args.scenarios & {"1", "2", "3", "4"}:
            print("scenarios 1-4", flush=True)
            bench.sync_scenarios(args.scenarios)
        if "5" in args.scenarios:
            print("scenario 5", flush=True)
            bench.large_object()
        filled = None
        if "7" in args.scenarios:
            print("scenario 7", flush=True)
            filled = bench.many_files()
            if args.many_files != args.list_keys:
                filled = None
        if "6" in args.scenarios:
            print("scenario 6", flush=True)
            bench.listing(filled)
    except BaseException:
        launcher.abort()
        raise
    else:
        launcher.close()
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(scratch, ignore_errors=True)

    summary = summarise(bench.runs)
    extra = bench.extra
    if "7" in summary:
        small = summary.get("1", {})
        extra["7"] = {"growth": {}}
        for name, row in summary["7"].items():
            base = small.get(name, {}).get("max_peak_rss_mib")
            if row["max_peak_rss_mib"] and base:
                growth = (row["max_peak_rss_mib"] - base) * MiB / (args.many_files - args.files)
                extra["7"]["growth"][name] = growth
        extra["7"]["growth_bytes_per_object"] = extra["7"]["growth"].get("objstore")
    labels = {tool.name: tool.label for tool in [*tools, RawStream()]}
    report = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
        "versions": found_versions,
        "missing": missing,
        "labels": labels,
        "commands": {tool.name: tool.how for tool in [*tools, RawStream()]},
        "settings": {
            key: sorted(value) if isinstance(value, set) else str(value) if isinstance(value, Path) else value
            for key, value in vars(args).items()
        },
        "load": {"start": load_start, "end": os.getloadavg()},
        "total_seconds": time.perf_counter() - started,
        "summary": summary,
        "extra": extra,
        "runs": {
            scenario: {name: [asdict(run) for run in rows] for name, rows in by.items()}
            for scenario, by in bench.runs.items()
        },
    }
    report["targets"] = evaluate_targets(summary, extra, args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    publish(report, args.out)
    print(f"results: {args.out}; the whole run took {report['total_seconds'] / 60:.1f} min")
    return 0


def publish(report: dict[str, Any], out: Path) -> None:
    """Write the tables (compare.md, and docs/benchmarks.md after a full run) and draw the plot."""
    table = markdown(report)
    out.with_suffix(".md").write_text(table)
    print("\n" + table)
    settings = report["settings"]
    full = not settings["quick"] and set(settings["scenarios"]) == set("1234567")
    plot = PLOT if full else out.with_suffix(".png")
    python = plot_python()
    if python:
        drawn = subprocess.run([python, str(ROOT / "bench" / "plot.py"), str(out), str(plot)], check=False)
        print(f"plot: {plot}" if drawn.returncode == 0 else "the plot could not be drawn", flush=True)
    else:
        print("matplotlib could not be installed: no plot", flush=True)
    if full:
        print("docs/benchmarks.md updated" if update_docs(table) else "docs/benchmarks.md has no markers: not updated")


if __name__ == "__main__":
    raise SystemExit(main())
