"""The fault campaign: push and pull through injected faults over the real S3 server, retries that run out, and
processes killed with SIGKILL at random points. Nothing may be lost, corrupted or left half-written.

Each run writes its figures (operations, faults injected, retries, objects lost) to
``.cache/reliability/<test>.json``; docs/reliability.md reports them.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from objstore import ObjectStorageFactory, ObjectStorageService

ROOT = Path(__file__).resolve().parents[2]
FIGURES = ROOT / ".cache" / "reliability"
OBJSTORE = [sys.executable, "-m", "objstore"]
FILES = 2000


def objstore(*args: str, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*OBJSTORE, *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **env}, check=False
    )


def record(name: str, figures: dict[str, Any]) -> None:
    FIGURES.mkdir(parents=True, exist_ok=True)
    (FIGURES / f"{name}.json").write_text(json.dumps(figures, indent=2, sort_keys=True))


def make_tree(root: Path, count: int, seed: int) -> dict[str, bytes]:
    """``count`` files in nested folders, mostly small, a few of several MiB (multipart on S3)."""
    rng = random.Random(seed)
    files = {}
    for index in range(count):
        key = f"d{index % 17:02d}/s{index % 5}/f{index:05d}.bin"
        size = rng.choice((0, 1, 100, 4096, 20_000)) if index % 400 else 6 * 1024 * 1024 + index
        files[key] = rng.randbytes(size)
    for key, content in files.items():
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return files


def folder_digests(root: Path) -> dict[str, str]:
    """The folder's files by key, leaving out objstore's own: a download in progress is written beside its target
    as ``.objstore-tmp-<pid>-*`` (one a kill -9 left is removed by the next run, which the tests check)."""
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in root.rglob("*")
        if path.is_file() and not any(part.startswith(".objstore") for part in path.relative_to(root).parts)
    }


def store_digests(store: ObjectStorageService) -> dict[str, str]:
    found = {}
    for info in store.iter_objects(""):
        with store.get_object_stream("", info.key) as stream:
            digest = hashlib.sha256()
            while chunk := stream.read(1024 * 1024):
                digest.update(chunk)
        found[info.key] = digest.hexdigest()
    return found


@pytest.fixture
def s3_env(s3_server: Any, s3_bucket: str, tmp_path: Path) -> dict[str, str]:
    """How an operator points the CLI at the S3 server: a URL and environment credentials."""
    return {
        "AWS_ACCESS_KEY_ID": s3_server.access_key_id,
        "AWS_SECRET_ACCESS_KEY": s3_server.secret_access_key,
        "AWS_ENDPOINT_URL": s3_server.endpoint_url,
        "OBJSTORE_URL": f"s3://{s3_bucket}/campaign-{uuid.uuid4().hex}?hierarchical=true",
        "OBJSTORE_HOME": str(tmp_path / "home"),
    }


def plain_store(env: dict[str, str]) -> ObjectStorageService:
    """The same store without faults, to check what really is there."""
    return ObjectStorageFactory.from_url(
        env["OBJSTORE_URL"],
        endpoint_url=env["AWS_ENDPOINT_URL"],
        access_key_id=env["AWS_ACCESS_KEY_ID"],
        secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


MODERATE = "transient=0.10,throttle=0.02,cut=0.01,cut_after=2048,seed={seed}"


def test_push_and_pull_of_2000_files_through_faults_lose_nothing(s3_env: dict[str, str], tmp_path: Path) -> None:
    source = tmp_path / "source"
    files = make_tree(source, FILES, seed=1)
    pushed = objstore("--faults", MODERATE.format(seed=11), "push", str(source), "--json", env=s3_env)
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    push_report = json.loads(pushed.stdout)
    store = plain_store(s3_env)
    expected = {key: hashlib.sha256(content).hexdigest() for key, content in files.items()}
    assert store_digests(store) == expected  # every object, byte for byte (sha256)
    assert push_report["retries"] > 0
    assert push_report["layers"]["faults_injected"] > 0

    restored = tmp_path / "restored"
    pulled = objstore("--faults", MODERATE.format(seed=12), "pull", str(restored), "--json", env=s3_env)
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    pull_report = json.loads(pulled.stdout)
    assert folder_digests(restored) == expected
    assert pull_report["retries"] > 0
    assert not list(restored.rglob(".objstore*"))  # no temporary file left behind, no state in the folder

    # The human summary names the retries too.
    again = objstore("--faults", MODERATE.format(seed=13), "push", str(source), env=s3_env)
    assert again.returncode == 0
    assert " retries" in again.stderr
    record(
        "moderate_faults",
        {
            "files": FILES,
            "bytes": sum(len(content) for content in files.values()),
            "push": {key: push_report[key] for key in ("counts", "retries", "layers", "seconds")},
            "pull": {key: pull_report[key] for key in ("counts", "retries", "layers", "seconds")},
            "objects_lost": len(set(expected) - set(store_digests(store))),
        },
    )


DENSE = "transient=0.45,throttle=0.15,cut=0.05,cut_after=1024,seed={seed}"


def test_when_retries_run_out_the_failures_are_named_and_nothing_is_lost(
    s3_env: dict[str, str], tmp_path: Path
) -> None:
    source = tmp_path / "source"
    files = make_tree(source, 600, seed=2)
    assert objstore("push", str(source), env=s3_env).returncode == 0
    store = plain_store(s3_env)
    before = store_digests(store)
    # Change a third, add some, delete some: then push through faults too dense for two retries.
    rng = random.Random(3)
    changed = rng.sample(sorted(files), 200)
    for key in changed:
        (source / key).write_bytes(b"changed " + rng.randbytes(rng.randint(0, 5000)))
    for index in range(100):
        (source / "new" / f"n{index}.bin").parent.mkdir(exist_ok=True)
        (source / "new" / f"n{index}.bin").write_bytes(rng.randbytes(300))
    removed = [key for key in sorted(files) if key not in changed][:50]
    for key in removed:
        (source / key).unlink()
    now = folder_digests(source)

    dense = objstore("--retries", "2", "--faults", DENSE.format(seed=21), "push", str(source), "--json", env=s3_env)
    assert dense.returncode == 1, dense.stdout + dense.stderr
    report = json.loads(dense.stdout)
    assert report["failures"], "faults this dense must defeat some transfers"
    after = store_digests(store)
    # Every object is either what it was or what the folder has now: none half-written, none corrupted.
    for key, digest in after.items():
        assert digest in (before.get(key), now.get(key)), key
    # What was not transferred is exactly what the report names as failed.
    missing_or_stale = {key for key, digest in now.items() if after.get(key) != digest}
    assert missing_or_stale <= set(report["failures"]) | {"(listing)"}
    assert set(report["failures"]) - {"(listing)"} <= set(now)
    # A failed push deletes nothing: the files removed locally are all still in the store.
    assert all(key in after for key in removed)
    assert report["counts"].get("delete", 0) == 0
    human = objstore("--retries", "2", "--faults", DENSE.format(seed=22), "push", str(source), env=s3_env)
    assert human.returncode == 1
    assert "FAILED: " in human.stderr

    rerun = objstore("push", str(source), "--json", env=s3_env)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert store_digests(store) == now

    # A pull that runs out of retries leaves whole files only, and a clean rerun completes.
    restored = tmp_path / "restored"
    pull = objstore("--retries", "1", "--faults", DENSE.format(seed=23), "pull", str(restored), "--json", env=s3_env)
    assert pull.returncode == 1
    pull_report = json.loads(pull.stdout)
    got = folder_digests(restored)
    for key, digest in got.items():
        assert digest == now[key], key
    assert set(now) - set(got) <= set(pull_report["failures"])
    assert objstore("pull", str(restored), env=s3_env).returncode == 0
    assert folder_digests(restored) == now
    record(
        "dense_faults",
        {
            "objects": len(now),
            "push_failures_named": len(report["failures"]),
            "push_layers": report["layers"],
            "pull_failures_named": len(pull_report["failures"]),
            "pull_layers": pull_report["layers"],
            "objects_lost_or_corrupted": 0,
        },
    )


def kill_at_random_points(
    args: list[str], env: dict[str, str], points: int, seed: int, check: Any, *, latest: float = 2.5
) -> list[float]:
    """Run the command ``points`` times, each killed with SIGKILL after a random delay, checking after each."""
    rng = random.Random(seed)
    delays = []
    for _ in range(points):
        delay = rng.uniform(0.3, latest)
        process = subprocess.Popen(
            [*OBJSTORE, *args],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        process.kill()
        process.wait()
        delays.append(round(delay, 2))
        check()
    return delays


def test_kill_9_of_push_and_pull_at_random_points(s3_env: dict[str, str], tmp_path: Path) -> None:
    source = tmp_path / "source"
    files = make_tree(source, 800, seed=4)
    expected = {key: hashlib.sha256(content).hexdigest() for key, content in files.items()}
    store = plain_store(s3_env)

    def store_has_no_partial_object() -> None:
        for key, digest in store_digests(store).items():
            assert digest == expected[key], f"a partial or wrong object is visible: {key}"

    push_kills = kill_at_random_points(
        ["push", str(source), "--jobs", "4", "--quiet"], s3_env, 5, seed=41, check=store_has_no_partial_object
    )
    assert objstore("push", str(source), env=s3_env).returncode == 0
    assert store_digests(store) == expected

    restored = tmp_path / "restored"

    def folder_has_no_partial_file() -> None:
        for key, digest in folder_digests(restored).items() if restored.exists() else ():
            assert digest == expected[key], f"a partial or wrong file is visible: {key}"

    pull_kills = kill_at_random_points(
        ["pull", str(restored), "--jobs", "4", "--quiet"], s3_env, 5, seed=42, check=folder_has_no_partial_file
    )
    assert objstore("pull", str(restored), env=s3_env).returncode == 0
    assert folder_digests(restored) == expected
    assert list(restored.rglob(".objstore*")) == []  # no killed writer's temporary file, no state in the data
    record("kill_9_s3", {"push_kill_delays_s": push_kills, "pull_kill_delays_s": pull_kills, "objects_lost": 0})


def test_kill_9_of_a_push_into_a_folder_store_never_leaves_a_temporary_file(tmp_path: Path) -> None:
    source = tmp_path / "source"
    files = make_tree(source, 1200, seed=5)
    expected = {key: hashlib.sha256(content).hexdigest() for key, content in files.items()}
    env = {"OBJSTORE_HOME": str(tmp_path / "home"), "OBJSTORE_URL": ""}
    store_root = tmp_path / "home" / "store"

    def no_partial_object() -> None:
        for key, digest in folder_digests(store_root).items() if store_root.exists() else ():
            assert digest == expected[key], f"a partial object is visible: {key}"

    delays = kill_at_random_points(
        ["push", str(source), "--jobs", "4", "--quiet"], env, 5, seed=51, check=no_partial_object, latest=2.0
    )
    assert objstore("push", str(source), env=env).returncode == 0
    assert folder_digests(store_root) == expected
    temporary = [p for p in (store_root / ".objstore" / "tmp").rglob("*") if p.is_file()]
    assert temporary == [], "the filesystem adapter left temporary files"
    record("kill_9_folder_store", {"push_kill_delays_s": delays, "objects_lost": 0})
