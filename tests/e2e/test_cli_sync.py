"""The objstore command line end to end: push and pull of a tree with every awkward case, on a folder store and
on the S3 test server; exit codes; safety refusals; no credential on any process's command line."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
import unicodedata
import uuid
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
OBJSTORE = [sys.executable, "-m", "objstore"]


def run(*args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*OBJSTORE, *args], capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})}
    )
    if check and result.returncode != 0:
        raise AssertionError(f"objstore {' '.join(args)} -> {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def awkward_tree(root: Path) -> None:
    """Empty files, NFC and NFD names, spaces, a deep tree, links (followed, broken, looping)."""
    (root / "deep" / "a" / "b" / "c" / "d" / "e").mkdir(parents=True)
    (root / "deep" / "a" / "b" / "c" / "d" / "e" / "leaf.txt").write_text("deep")
    (root / "empty.bin").write_bytes(b"")
    (root / unicodedata.normalize("NFC", "caf\u00e9.txt")).write_text("nfc")
    (root / unicodedata.normalize("NFD", "r\u00e9sum\u00e9.txt")).write_text("nfd")
    (root / "with space" / "and more").mkdir(parents=True)
    (root / "with space" / "and more" / "file name.txt").write_text("spaces")
    (root / "data.bin").write_bytes(os.urandom(300_000))
    (root / "link-to-data.bin").symlink_to(root / "data.bin")
    (root / "broken-link").symlink_to(root / "nowhere")
    (root / "deep" / "loop").symlink_to(root / "deep", target_is_directory=True)


def tree(root: Path) -> dict[str, bytes]:
    found = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if relative.startswith(".objstore") or "loop" in relative.split("/") or not path.is_file():
            continue
        found[relative] = path.read_bytes()
    return found


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    return {"OBJSTORE_HOME": str(tmp_path / "home"), "OBJSTORE_URL": ""}


def test_push_then_pull_gives_an_identical_tree(tmp_path: Path, home: dict[str, str]) -> None:
    source = tmp_path / "storage"
    source.mkdir()
    awkward_tree(source)
    pushed = run("push", str(source), env=home)
    assert "broken symbolic link" in pushed.stderr
    assert "symbolic link loop" in pushed.stderr
    restored = tmp_path / "restored"
    run("pull", str(restored), env=home)
    expected = {key: value for key, value in tree(source).items() if key != "broken-link"}
    assert tree(restored) == expected
    assert (restored / "link-to-data.bin").read_bytes() == (source / "data.bin").read_bytes()


def test_a_second_push_changes_nothing_and_a_same_size_edit_is_sent(tmp_path: Path, home: dict[str, str]) -> None:
    source = tmp_path / "storage"
    source.mkdir()
    (source / "notes.txt").write_text("version one")
    run("push", str(source), env=home)
    again = run("push", str(source), "--json", env=home)
    assert '"skip": 1' in again.stdout
    stat = (source / "notes.txt").stat()
    (source / "notes.txt").write_text("VERSION ONE")  # same size
    os.utime(source / "notes.txt", ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime too
    edited = run("push", str(source), "--json", env=home)
    assert '"upload": 1' in edited.stdout
    assert run("cat", "notes.txt", env=home).stdout == "VERSION ONE"


def test_a_file_replaced_by_a_folder_of_the_same_name(tmp_path: Path, home: dict[str, str]) -> None:
    source = tmp_path / "storage"
    source.mkdir()
    (source / "thing").write_text("a file")
    run("push", str(source), env=home)
    restored = tmp_path / "restored"
    run("pull", str(restored), env=home)
    (source / "thing").unlink()
    (source / "thing").mkdir()
    (source / "thing" / "inside.txt").write_text("now a folder")
    run("push", str(source), env=home)
    run("pull", str(restored), env=home)
    assert (restored / "thing" / "inside.txt").read_text() == "now a folder"


def test_dry_run_changes_nothing(tmp_path: Path, home: dict[str, str]) -> None:
    source = tmp_path / "storage"
    source.mkdir()
    (source / "a.txt").write_text("a")
    result = run("push", str(source), "--dry-run", env=home)
    assert "upload" in result.stdout
    assert run("ls", "-r", env=home).stdout == ""


def test_deletes_are_refused_above_the_limit_and_from_an_empty_source(tmp_path: Path, home: dict[str, str]) -> None:
    source = tmp_path / "storage"
    source.mkdir()
    for index in range(10):
        (source / f"f{index}").write_text(str(index))
    run("push", str(source), env=home)
    for index in range(8):
        (source / f"f{index}").unlink()
    refused = run("push", str(source), env=home, check=False)
    assert refused.returncode == 1
    assert "exceed --max-delete" in refused.stderr
    assert len(run("ls", env=home).stdout.split()) == 10
    for index in range(8, 10):
        (source / f"f{index}").unlink()
    empty = run("push", str(source), "--max-delete", "100%", env=home, check=False)
    assert empty.returncode == 1
    assert "the source is empty" in empty.stderr
    run("push", str(source), "--force", env=home)
    assert run("ls", env=home).stdout == ""


def test_remote_changes_since_the_last_push_are_not_overwritten(tmp_path: Path, home: dict[str, str]) -> None:
    source = tmp_path / "storage"
    source.mkdir()
    (source / "shared.txt").write_text("mine")
    run("push", str(source), env=home)
    other = tmp_path / "other.txt"
    other.write_text("someone else's edit")
    run("put", str(other), "shared.txt", env=home)
    (source / "shared.txt").write_text("my later edit")
    result = run("push", str(source), env=home, check=False)
    assert result.returncode == 1
    assert "conflict: shared.txt" in result.stderr
    assert run("cat", "shared.txt", env=home).stdout == "someone else's edit"


def test_usage_and_configuration_errors_exit_2(tmp_path: Path, home: dict[str, str]) -> None:
    assert run("ls", "--store", "nosuch://x", env=home, check=False).returncode == 2
    assert run("ls", "--store", "s3://bucket?secret_access_key=x", env=home, check=False).returncode == 2
    missing = run("stat", "missing.txt", env=home, check=False)
    assert missing.returncode == 1
    assert missing.stdout == ""  # the error is one line on stderr, never JSON on stdout
    assert missing.stderr.startswith("objstore: error: ")


def test_the_other_commands(tmp_path: Path, home: dict[str, str]) -> None:
    payload = tmp_path / "payload.txt"
    payload.write_text("payload")
    run("put", str(payload), "dir/p.txt", env=home)
    assert run("cat", "dir/p.txt", env=home).stdout == "payload"
    assert '"size": 7' in run("stat", "dir/p.txt", env=home).stdout
    store = f"file://{home['OBJSTORE_HOME']}/store"
    run("cp", "-s", store, "dir/p.txt", "dir/q.txt", env=home)  # keys in a store; plain paths are local files
    assert run("ls", "dir", env=home).stdout.split() == ["dir/p.txt", "dir/q.txt"]
    assert "would delete dir/p.txt" in run("purge", "--older-than", "0s", "--dry-run", env=home).stdout
    run("rm", "dir/q.txt", env=home)
    assert run("ls", "-r", env=home).stdout.split() == ["dir/p.txt"]
    assert run("share", "dir/p.txt", env=home, check=False).returncode == 2  # a folder store has no links


def test_push_and_pull_through_s3_with_no_credential_on_any_command_line(
    s3_server: Any, s3_bucket: str, tmp_path: Path
) -> None:
    source = tmp_path / "storage"
    source.mkdir()
    awkward_tree(source)
    env = {
        "AWS_ACCESS_KEY_ID": s3_server.access_key_id,
        "AWS_SECRET_ACCESS_KEY": s3_server.secret_access_key,
        "AWS_ENDPOINT_URL": s3_server.endpoint_url,
        "OBJSTORE_URL": f"s3://{s3_bucket}/cli-{uuid.uuid4().hex}?hierarchical=true",
        "OBJSTORE_HOME": str(tmp_path / "home"),
    }
    seen: list[str] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    with contextlib.suppress(OSError):  # a process that ended meanwhile
                        command = Path(f"/proc/{pid}/cmdline").read_bytes()
                        seen.append(command.replace(b"\0", b" ").decode("utf-8", "replace"))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        run("push", str(source), env=env)
        restored = tmp_path / "restored"
        run("pull", str(restored), env=env)
    finally:
        stop.set()
        watcher.join()
    assert any("objstore" in line and "push" in line for line in seen), "the watcher saw the push"
    for line in seen:
        assert s3_server.secret_access_key not in line
        assert s3_server.access_key_id not in line
    expected = {key: value for key, value in tree(source).items() if key != "broken-link"}
    assert tree(restored) == expected


@pytest.fixture(params=["gcs", "azure", "naas", "altastata"])
def store_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """How a user points the command at each store: a URL (non-secret options) and environment credentials."""
    name = uuid.uuid4().hex[:10]
    env = {"OBJSTORE_HOME": str(tmp_path / "home")}
    if request.param == "gcs":
        endpoint = request.getfixturevalue("gcs_server")
        bucket = request.getfixturevalue("gcs_bucket")
        env["OBJSTORE_URL"] = f"gs://{bucket}/cli-{name}?endpoint={endpoint}"
    elif request.param == "azure":
        env["AZURE_STORAGE_CONNECTION_STRING"] = request.getfixturevalue("azurite")
        env["OBJSTORE_URL"] = f"az://{request.getfixturevalue('azure_container')}/cli-{name}"
    elif request.param == "naas":
        from tests.conftest import NAAS_API_KEY

        service = request.getfixturevalue("naas_service")
        env["NAAS_API_KEY"] = NAAS_API_KEY
        env["OBJSTORE_URL"] = (
            f"naas://workspace-1/cli-{name}?api_url={service.url}&endpoint_url={service.s3.endpoint_url}&hierarchical=true"
        )
    else:
        from tests.conftest import ALTASTATA_PASSWORD

        env["ALTAS_ACCOUNT_DIR_PATH"] = request.getfixturevalue("altastata_account")
        env["ALTAS_PASSWORD"] = ALTASTATA_PASSWORD
        env["ALTAS_PORT"] = str(request.getfixturevalue("altastata_gateway"))
        env["OBJSTORE_URL"] = f"altastata://cli-{name}?mode=py4j"
    return env


def test_push_and_pull_on_every_other_store(store_env: dict[str, str], tmp_path: Path) -> None:
    source = tmp_path / "storage"
    source.mkdir()
    awkward_tree(source)
    run("push", str(source), env=store_env)
    assert '"skip"' in run("push", str(source), "--json", env=store_env).stdout
    (source / "empty.bin").write_bytes(b"now with content")
    (source / "with space" / "and more" / "file name.txt").unlink()
    changed = run("push", str(source), "--json", env=store_env).stdout
    assert '"upload": 1' in changed
    assert '"delete": 1' in changed
    restored = tmp_path / "restored"
    run("pull", str(restored), env=store_env)
    expected = {key: value for key, value in tree(source).items() if key != "broken-link"}
    assert tree(restored) == expected


def test_the_aws_cli_agrees_the_store_equals_the_folder(s3_server: Any, s3_bucket: str, tmp_path: Path) -> None:
    from tests.harness.peers import aws_cli
    from tests.harness.servers import ServerUnavailable, server_unavailable

    try:
        aws = aws_cli()
    except ServerUnavailable as exc:
        server_unavailable("aws cli", str(exc))
    source = tmp_path / "storage"
    (source / "deep" / "a" / "b").mkdir(parents=True)
    (source / "deep" / "a" / "b" / "leaf.txt").write_text("leaf")
    (source / "empty.bin").write_bytes(b"")
    (source / "with space.txt").write_text("spaces")
    (source / unicodedata.normalize("NFD", "r\u00e9sum\u00e9.txt")).write_text("nfd")
    (source / "big.bin").write_bytes(os.urandom(20 * 1024 * 1024 + 7))  # a multipart object
    # aws compares local mtimes with S3's whole-second LastModified: a file written in the same second as the push
    # looks newer to it. Files a minute old, as real data is, keep that artefact out of the comparison.
    minute_ago = time.time_ns() - 60 * 10**9
    for path in source.rglob("*"):
        os.utime(path, ns=(minute_ago, minute_ago))
    prefix = f"aws-check-{uuid.uuid4().hex}"
    credentials = {
        "AWS_ACCESS_KEY_ID": s3_server.access_key_id,
        "AWS_SECRET_ACCESS_KEY": s3_server.secret_access_key,
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    env = {**credentials, "AWS_ENDPOINT_URL": s3_server.endpoint_url, "OBJSTORE_HOME": str(tmp_path / "home")}
    run("push", str(source), f"s3://{s3_bucket}/{prefix}?hierarchical=true", env=env)
    check = subprocess.run(
        [
            aws,
            "s3",
            "sync",
            str(source),
            f"s3://{s3_bucket}/{prefix}",
            "--dryrun",
            "--delete",  # nothing excluded: objstore's state lives outside the folder, so aws sees only data
            "--endpoint-url",
            s3_server.endpoint_url,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **credentials},
        check=False,
    )
    assert check.returncode == 0, check.stderr
    assert check.stdout.strip() == "", f"aws s3 sync would still do:\n{check.stdout}"


def test_ordered_filters_and_delete_excluded(tmp_path: Path, home: dict[str, str]) -> None:
    source = tmp_path / "storage"
    (source / "logs").mkdir(parents=True)
    (source / "logs" / "keep.log").write_text("k")
    (source / "logs" / "drop.log").write_text("d")
    (source / "data.csv").write_text("c")
    (source / "tmp.tmp").write_text("t")
    run("push", str(source), env=home)
    rules = ["--filter", "+ logs/keep.log", "--filter", "- *.log", "--filter", "- *.tmp"]
    run("push", str(source), *rules, env=home)
    assert run("ls", "-r", env=home).stdout.split() == ["data.csv", "logs/drop.log", "logs/keep.log", "tmp.tmp"]
    run("push", str(source), *rules, "--delete-excluded", env=home)
    assert run("ls", "-r", env=home).stdout.split() == ["data.csv", "logs/keep.log"]
    bad = run("push", str(source), "--filter", "maybe *.log", env=home, check=False)
    assert bad.returncode == 2


def test_two_way_sync_between_two_folder_stores(tmp_path: Path, home: dict[str, str]) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "from-a.txt").write_text("a1")
    (a / "both.txt").write_text("same")
    run("sync", str(a), str(b), "--two-way", env=home)
    assert (b / "from-a.txt").read_text() == "a1"
    (b / "from-b.txt").write_text("b1")
    (a / "from-a.txt").write_text("a2")
    (b / "both.txt").write_text("changed on b")
    (a / "both.txt").write_text("changed on a")
    result = run("sync", str(a), str(b), "--two-way", "--json", env=home, check=False)
    assert result.returncode == 1  # the key changed on both sides is reported
    assert '"both.txt"' in result.stdout
    assert (a / "from-b.txt").read_text() == "b1"
    assert (b / "from-a.txt").read_text() == "a2"
    newer = run("sync", str(a), str(b), "--two-way", "--conflict", "newer", env=home)
    assert newer.returncode == 0
    assert (a / "both.txt").read_text() == (b / "both.txt").read_text() == "changed on a"


def test_a_killed_push_rerun_finishes_without_redoing_what_was_done(tmp_path: Path, home: dict[str, str]) -> None:
    source = tmp_path / "storage"
    source.mkdir()
    for index in range(1500):
        (source / f"f{index:04d}.txt").write_text(f"file {index}\n" * 20)
    process = subprocess.Popen(
        [*OBJSTORE, "push", str(source), "--jobs", "1", "--quiet"],
        env={**os.environ, **home},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    store = Path(home["OBJSTORE_HOME"]) / "store"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(store.glob("f*.txt"))) < 400:
        time.sleep(0.05)
    process.kill()  # SIGKILL: no chance to tidy up
    process.wait()
    done_before = len(list(store.glob("f*.txt")))
    assert 0 < done_before < 1500, done_before
    rerun = run("push", str(source), "--json", env=home)
    import json

    report = json.loads(rerun.stdout)
    uploaded = report["counts"].get("upload", 0)
    assert uploaded <= 1500 - done_before + 1  # at most the one in flight is sent again
    assert report["ok"]
    files = sorted(source.glob("f*.txt"))
    assert sorted(p.name for p in store.glob("f*.txt")) == [p.name for p in files]
    for path in files:
        assert (store / path.name).read_bytes() == path.read_bytes()
    assert list((store / ".objstore" / "tmp").iterdir()) == []  # the killed writer's temporary file is gone


def test_a_link_that_breaks_does_not_delete_its_remote_copy(tmp_path: Path, home: dict[str, str]) -> None:
    """An unmounted disk behind a link must not look like a deleted file."""
    disk = tmp_path / "usb"
    disk.mkdir()
    (disk / "big.iso").write_bytes(b"iso image")
    source = tmp_path / "storage"
    source.mkdir()
    (source / "big.iso").symlink_to(disk / "big.iso")
    (source / "notes.txt").write_text("n")
    run("push", str(source), env=home)
    (disk / "big.iso").unlink()  # the disk went away
    result = run("push", str(source), env=home, check=False)
    assert result.returncode == 1
    assert "big.iso: could not be read" in result.stderr
    assert run("cat", "big.iso", env=home).stdout == "iso image"


def test_pushing_a_folder_that_does_not_exist_is_a_usage_error(tmp_path: Path, home: dict[str, str]) -> None:
    result = run("push", str(tmp_path / "typo"), "--force", env=home, check=False)
    assert result.returncode == 2
    assert "does not exist" in result.stderr

    missing = run("sync", str(tmp_path / "typo"), str(tmp_path / "dest"), "--force", env=home, check=False)
    assert missing.returncode == 2
    assert not (tmp_path / "typo").exists()


def _keep_both_twice(a: str, b: str, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """A keep-both two-way sync, then the same again as JSON (what the second run found to do)."""
    first = run("sync", a, b, "--two-way", "--conflict", "keep-both", env=env)
    again = run("sync", a, b, "--two-way", "--conflict", "keep-both", "--json", env=env)
    return first, json.loads(again.stdout)


def test_keep_both_keeps_both_versions_on_both_folders_in_one_run(tmp_path: Path, home: dict[str, str]) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "doc.txt").write_text("v1")
    (a / "notes").write_text("v1")
    run("sync", str(a), str(b), "--two-way", env=home)
    for name in ("doc.txt", "notes"):
        (a / name).write_text("edited on a")
        (b / name).write_text("edited on b, longer")
    first, again = _keep_both_twice(str(a), str(b), home)
    on_a = tree(a)
    assert on_a == tree(b)
    assert on_a["doc.txt"] == on_a["notes"] == b"edited on a"
    aside = sorted(key for key in on_a if ".conflict-" in key)
    assert len(aside) == 2
    assert aside[0].startswith("doc.conflict-")
    assert aside[1].startswith("notes.conflict-")
    assert {on_a[key] for key in aside} == {b"edited on b, longer"}
    assert set(again["counts"]) <= {"skip"}, again
    assert again["bytes"] == 0
    # The summary names the stores as the user wrote them, and counts in plain words.
    assert f"{a.resolve().as_uri()} -> {b.resolve().as_uri()}: " in first.stderr
    assert "Adapter(" not in first.stderr
    assert "copys" not in first.stderr
    assert "2 copies A->B" in first.stderr


def test_keep_both_between_a_folder_and_s3(s3_server: Any, s3_bucket: str, tmp_path: Path) -> None:
    from objstore import ObjectStorageService
    from objstore.adapters.s3 import S3Adapter, S3Config

    prefix = f"keep-both-{uuid.uuid4().hex}"
    url = f"s3://{s3_bucket}/{prefix}"
    env = {
        "AWS_ACCESS_KEY_ID": s3_server.access_key_id,
        "AWS_SECRET_ACCESS_KEY": s3_server.secret_access_key,
        "AWS_ENDPOINT_URL": s3_server.endpoint_url,
        "OBJSTORE_URL": "",
        "OBJSTORE_HOME": str(tmp_path / "home"),
    }
    bucket = ObjectStorageService(
        S3Adapter(
            S3Config(
                bucket=s3_bucket,
                base_prefix=prefix,
                endpoint_url=s3_server.endpoint_url,
                access_key_id=s3_server.access_key_id,
                secret_access_key=s3_server.secret_access_key,
                region_name="us-east-1",
            )
        )
    )
    folder = tmp_path / "a"
    folder.mkdir()
    (folder / "dir").mkdir()
    (folder / "dir" / "report.md").write_text("v1")
    run("sync", str(folder), url, "--two-way", env=env)
    (folder / "dir" / "report.md").write_text("edited in the folder")
    bucket.put_object("", "dir/report.md", b"edited in the bucket, longer")
    first, again = _keep_both_twice(str(folder), url, env)
    in_bucket = {info.key: bucket.get_object("", info.key) for info in bucket.iter_objects("")}
    assert in_bucket == tree(folder)
    assert in_bucket["dir/report.md"] == b"edited in the folder"
    aside = [key for key in in_bucket if key.startswith("dir/report.conflict-") and key.endswith(".md")]
    assert len(aside) == 1
    assert in_bucket[aside[0]] == b"edited in the bucket, longer"
    assert set(again["counts"]) <= {"skip"}, again
    assert again["bytes"] == 0
    assert f"-> {url} at {s3_server.endpoint_url.rstrip('/')}: " in first.stderr
    assert s3_server.secret_access_key not in first.stderr + first.stdout
