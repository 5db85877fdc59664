"""The habits of aws s3 and rclone users, each row of docs/cli.md's table exercised on the S3 test server, and the
CLI defects found by trying it as a new user would (each test failed before its fix)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.harness.files import s3_child_env, write_tree

OBJSTORE = [sys.executable, "-m", "objstore"]


class Cli:
    """The command with one S3 test server's settings in its environment, and a fresh folder of the bucket."""

    def __init__(self, server: Any, bucket: str, tmp_path: Path) -> None:
        self.server, self.bucket, self.tmp = server, bucket, tmp_path
        self.base = f"cli-{uuid.uuid4().hex[:12]}"
        self.env = s3_child_env(server, tmp_path)
        self.env["OBJSTORE_CONFIG"] = str(tmp_path / "config.toml")

    def url(self, path: str = "") -> str:
        where = f"{self.base}/{path}".rstrip("/")
        return f"s3://{self.bucket}/{where}?hierarchical=true"

    def run(self, *args: str, code: int | None = 0, env: dict[str, str] | None = None, **kw: Any) -> Any:
        result = subprocess.run(
            [*OBJSTORE, *args], capture_output=True, text=True, timeout=120, env={**self.env, **(env or {})}, **kw
        )
        if code is not None and result.returncode != code:
            raise AssertionError(
                f"objstore {' '.join(args)} -> {result.returncode}, not {code}\n{result.stdout}\n{result.stderr}"
            )
        return result

    def keys(self, path: str = "") -> dict[str, bytes]:
        client = self.server.client()
        prefix = f"{self.base}/{path}".rstrip("/") + "/"
        found = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                body = client.get_object(Bucket=self.bucket, Key=item["Key"])["Body"].read()
                found[item["Key"][len(prefix) :]] = body
        return found

    def put(self, key: str, body: bytes) -> None:
        self.server.client().put_object(Bucket=self.bucket, Key=f"{self.base}/{key}", Body=body)

    def folder(self, name: str, files: dict[str, bytes]) -> Path:
        return write_tree(self.tmp / name, files)


@pytest.fixture
def cli(s3_server: Any, s3_bucket: str, tmp_path: Path) -> Cli:
    return Cli(s3_server, s3_bucket, tmp_path)


FILES = {"a.txt": b"alpha", "b/c.txt": b"charlie", "b/d.bin": b"d" * 5000, "e.log": b"echo"}


# --- defects found by trying the CLI ------------------------------------------------------------------------------


def test_a_wrong_secret_is_the_same_error_on_every_command(cli: Cli) -> None:
    data = cli.folder("data", FILES)
    cli.run("push", str(data), cli.url())
    wrong = {"AWS_SECRET_ACCESS_KEY": "not-the-secret-" + uuid.uuid4().hex}
    lines = set()
    for args in (
        ("push", str(data), cli.url()),
        ("cat", cli.url("a.txt")),
        ("ls", cli.url()),
        ("stat", cli.url("a.txt")),
    ):
        result = cli.run("--retries", "0", *args, code=3, env=wrong)
        assert result.stdout == ""
        line = result.stderr.strip().splitlines()[-1]
        assert line.startswith("objstore: error: ")
        assert wrong["AWS_SECRET_ACCESS_KEY"] not in result.stderr
        lines.add(line.split(":", 2)[2].split("[")[0].strip().split(" (")[0])
    assert len(lines) == 1, lines


def test_stat_of_a_missing_object_is_an_error_on_stderr_only(cli: Cli) -> None:
    result = cli.run("stat", cli.url("nothing-here"), code=1)
    assert result.stdout == ""
    assert result.stderr.startswith("objstore: error: ")
    assert "nothing-here" in result.stderr


def _read_a_little_then_close(cli: Cli, *args: str) -> tuple[bytes, str, int]:
    """Run the command, read its first line, then close the pipe as `| head -1` does."""
    process = subprocess.Popen([*OBJSTORE, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli.env)
    assert process.stdout is not None
    assert process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()
    err = process.stderr.read().decode()
    return first, err, process.wait(timeout=60)


@pytest.mark.parametrize("command", ["ls", "cat"])
def test_a_reader_that_leaves_stops_the_command_quietly(cli: Cli, command: str) -> None:
    # More output than a pipe's buffer holds (64 KiB), so the command is still writing when the reader leaves.
    if command == "ls":
        write_tree(cli.tmp / "store" / "many", {f"{index:05d}": b"x" for index in range(4000)})
        args: tuple[str, ...] = ("ls", "-l", "-r", f"file://{cli.tmp / 'store'}/many")
    else:
        cli.put("big", b"line\n" * 400_000)
        args = ("cat", cli.url("big"))
    first, err, code = _read_a_little_then_close(cli, *args)
    assert code == 141, err
    assert first.decode().split()[-1] in ("00000", "line")  # ls: keys relative to the folder named
    for noise in ("Broken pipe", "Errno", "Traceback"):
        assert noise not in err, err


def test_local_paths_that_are_wrong_are_usage_errors_in_words(cli: Cli, tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    pulled = cli.run("pull", cli.url(), str(a_file), code=2)
    assert "not a folder" in pulled.stderr
    assert "Errno" not in pulled.stderr
    put = cli.run("put", str(tmp_path / "missing.txt"), cli.url("k"), code=2)
    assert "missing.txt" in put.stderr
    assert "no such file" in put.stderr.lower()
    assert "Errno" not in put.stderr
    pushed = cli.run("push", str(tmp_path / "missing-folder"), cli.url(), code=2)
    assert "the folder does not exist" in pushed.stderr


def test_rm_of_a_folder_without_r_is_refused_and_deletes_nothing(cli: Cli) -> None:
    cli.put("dir/one", b"1")
    result = cli.run("rm", "dir", "-s", cli.url(), code=2)
    assert "rm -r" in result.stderr
    assert cli.keys() == {"dir/one": b"1"}
    missing = cli.run("rm", "nothing", "-s", cli.url(), code=1)
    assert "no such object" in missing.stderr
    cli.run("rm", "-f", "nothing", "-s", cli.url())


def test_a_push_into_its_own_source_or_into_memory_is_refused(cli: Cli, tmp_path: Path) -> None:
    data = cli.folder("data", FILES)
    inside = cli.run("push", str(data), f"file://{data}/backup", code=2)
    assert "overlap" in inside.stderr
    assert not (data / "backup").exists()
    around = cli.run("pull", f"file://{tmp_path}", str(data / "copy"), code=2)
    assert "overlap" in around.stderr
    nested = cli.run("sync", str(data), str(data / "inner"), code=2)
    assert "overlap" in nested.stderr
    assert not (data / "inner").exists()
    memory = cli.run("push", str(data), "memory://", code=2)
    assert "memory://" in memory.stderr
    assert "lost" in memory.stderr


def test_faults_on_the_local_default_store_are_ridden_through(cli: Cli) -> None:
    data = cli.folder("data", FILES)
    result = cli.run("--faults", "transient=0.3,seed=3", "push", str(data), env={"OBJSTORE_URL": ""})
    assert "faults injected" in result.stderr
    restored = cli.tmp / "restored"
    cli.run("pull", str(restored), env={"OBJSTORE_URL": ""})
    assert (restored / "b" / "c.txt").read_bytes() == b"charlie"


def test_the_unknown_option_message_offers_no_secret_option(cli: Cli) -> None:
    result = cli.run("ls", f"s3://{cli.bucket}/x?colour=blue", code=2)
    assert "colour" in result.stderr
    assert "accepted:" in result.stderr
    accepted = result.stderr.split("accepted:", 1)[1]
    assert "secret_access_key" not in accepted
    assert "session_token" not in accepted
    assert "endpoint_url" in accepted


def test_a_dead_endpoint_says_so_at_the_first_retry(cli: Cli) -> None:
    from tests.harness.servers import free_port

    dead = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    started = time.monotonic()
    process = subprocess.Popen(
        [*OBJSTORE, "--retry-deadline", "8", "ls", cli.url()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**cli.env, **dead},
    )
    assert process.stderr is not None
    first = process.stderr.readline()
    said_at = time.monotonic() - started
    rest = process.stderr.read()
    assert process.wait(timeout=60) == 1
    assert first.startswith("objstore: retry 1/"), first
    assert "-v" in first
    assert said_at < 6, f"the first line came after {said_at:.1f} s"
    assert rest.strip().splitlines()[-1].startswith("objstore: error: ")


def test_verbose_shows_every_retry_as_it_happens(cli: Cli) -> None:
    data = cli.folder("data", {f"f{i}": b"x" for i in range(20)})
    result = cli.run("-v", "--faults", "transient=0.3,seed=5", "push", str(data), cli.url())
    retries = [line for line in result.stderr.splitlines() if line.startswith("objstore: retry ")]
    assert len(retries) >= 2
    assert all(" in " in line and " s: " in line for line in retries)


def test_dry_run_plans_and_summaries_use_the_users_words(cli: Cli) -> None:
    cli.put("p/one.txt", b"1")
    cli.put("p/two.txt", b"2")
    plan = cli.run("pull", "--dry-run", cli.url("p"), str(cli.tmp / "out"))
    lines = [line for line in plan.stdout.splitlines() if "one.txt" in line or "two.txt" in line]
    assert len(lines) == 2, plan.stdout
    assert all(line.startswith("download") for line in lines), plan.stdout
    assert "upload" not in plan.stdout
    copied = cli.run("sync", cli.url("p"), cli.url("q"))
    assert "2 copies" in copied.stderr
    assert "copys" not in copied.stderr
    assert "S3Adapter(" not in copied.stderr
    assert "s3://" in copied.stderr


def test_progress_forced_off_a_terminal_ends_with_the_exact_totals(cli: Cli) -> None:
    data = cli.folder("data", {f"f{i:02d}": b"y" * 1000 for i in range(22)})
    result = cli.run("push", "-P", str(data), cli.url())
    status = [line for line in result.stderr.splitlines() if line.startswith("pushing:")]
    assert status, result.stderr
    assert status[-1].startswith("pushing: 22 files, 0.0 of 0.0 MiB") or "22 files" in status[-1]
    assert "1 files" not in result.stderr


# --- the habits: flags --------------------------------------------------------------------------------------------


def test_dryrun_spellings_change_nothing(cli: Cli) -> None:
    data = cli.folder("data", FILES)
    for flag in ("--dryrun", "-n", "--dry-run"):
        result = cli.run("push", flag, str(data), cli.url())
        assert "a.txt" in result.stdout
    assert cli.keys() == {}


def test_push_accepts_delete_and_refuses_a_contradiction(cli: Cli) -> None:
    data = cli.folder("data", FILES)
    cli.put("stale.txt", b"old")
    cli.run("push", "--delete", "--force", str(data), cli.url())
    assert set(cli.keys()) == set(FILES)
    cli.run("push", "--delete", "--no-delete", str(data), cli.url(), code=2)


def test_size_only_ignore_existing_and_update(cli: Cli) -> None:
    data = cli.folder("data", {"same-size.txt": b"aaaa", "new.txt": b"n"})
    cli.put("same-size.txt", b"bbbb")
    cli.run("push", "--size-only", "--force", "--no-delete", str(data), cli.url())
    assert cli.keys()["same-size.txt"] == b"bbbb"  # the same size: left alone
    cli.put("new.txt", b"other")
    cli.run("push", "--ignore-existing", "--no-delete", str(data), cli.url())
    assert cli.keys()["new.txt"] == b"other"
    old = time.time() - 86400
    os.utime(data / "new.txt", (old, old))
    cli.run("push", "--update", "--force", "--no-delete", str(data), cli.url())
    assert cli.keys()["new.txt"] == b"other"  # newer on the store: kept


def test_filter_files_and_size_and_age_limits(cli: Cli, tmp_path: Path) -> None:
    data = cli.folder("data", {"keep.txt": b"k", "skip.tmp": b"s", "big.bin": b"b" * 4096, "list/x": b"x"})
    (tmp_path / "excludes").write_text("# temporary files\n*.tmp\n")
    cli.run("push", "--exclude-from", str(tmp_path / "excludes"), "--max-size", "1k", str(data), cli.url("one"))
    assert set(cli.keys("one")) == {"keep.txt", "list/x"}
    (tmp_path / "files").write_text("keep.txt\nbig.bin\n")
    cli.run("push", "--files-from", str(tmp_path / "files"), "--min-size", "2k", str(data), cli.url("two"))
    assert set(cli.keys("two")) == {"big.bin"}
    (tmp_path / "includes").write_text("*.txt\n")
    cli.run("push", "--include-from", str(tmp_path / "includes"), str(data), cli.url("three"))
    assert set(cli.keys("three")) == {"keep.txt"}
    old = time.time() - 3 * 86400
    os.utime(data / "keep.txt", (old, old))
    cli.run("push", "--min-age", "1d", str(data), cli.url("four"))
    assert set(cli.keys("four")) == {"keep.txt"}
    cli.run("push", "--max-age", "1d", str(data), cli.url("five"))
    assert "keep.txt" not in cli.keys("five")
    assert "skip.tmp" in cli.keys("five")


def test_transfers_checkers_and_bwlimit(cli: Cli) -> None:
    data = cli.folder("data", {f"f{i}": os.urandom(64 * 1024) for i in range(4)})
    started = time.monotonic()
    cli.run("push", "--transfers", "2", "--checkers", "4", "--bwlimit", "256k", str(data), cli.url())
    took = time.monotonic() - started
    assert len(cli.keys()) == 4
    assert took >= 0.5, f"256 KiB at 256 KiB/s took {took:.2f} s"


def test_backup_dir_and_suffix_keep_what_is_replaced_or_deleted(cli: Cli) -> None:
    cli.put("data/a.txt", b"old a")
    cli.put("data/gone.txt", b"old gone")
    data = cli.folder("data", {"a.txt": b"new a"})
    cli.run("push", "--force", "--backup-dir", cli.url("backup"), str(data), cli.url("data"))
    assert cli.keys("data") == {"a.txt": b"new a"}
    assert cli.keys("backup") == {"a.txt": b"old a", "gone.txt": b"old gone"}
    (data / "a.txt").write_bytes(b"newer a")
    cli.run("push", "--force", "--suffix", ".bak", str(data), cli.url("data"))
    assert cli.keys("data") == {"a.txt": b"newer a", "a.txt.bak": b"new a"}


# --- the habits: commands -----------------------------------------------------------------------------------------


def test_cp_between_any_two_locations(cli: Cli, tmp_path: Path) -> None:
    local = tmp_path / "file.txt"
    local.write_bytes(b"content")
    cli.run("cp", str(local), cli.url("up/file.txt"))
    cli.run("cp", str(local), cli.url("up/") + "")
    cli.run("cp", cli.url("up/file.txt"), cli.url("copied.txt"))
    cli.run("cp", cli.url("copied.txt"), str(tmp_path / "down.txt"))
    assert (tmp_path / "down.txt").read_bytes() == b"content"
    tree_ = cli.folder("tree", FILES)
    cli.run("cp", "-r", str(tree_), cli.url("tree"))
    assert cli.keys("tree") == FILES
    cli.run("cp", "-r", cli.url("tree"), str(tmp_path / "tree-copy"))
    assert (tmp_path / "tree-copy" / "b" / "d.bin").read_bytes() == FILES["b/d.bin"]
    folder = cli.run("cp", cli.url("tree"), str(tmp_path / "x"), code=2)
    assert "-r" in folder.stderr


def test_mv_copies_then_deletes_the_source(cli: Cli, tmp_path: Path) -> None:
    local = tmp_path / "m.txt"
    local.write_bytes(b"move me")
    cli.run("mv", str(local), cli.url("moved.txt"))
    assert not local.exists()
    assert cli.keys() == {"moved.txt": b"move me"}
    cli.run("mv", cli.url("moved.txt"), cli.url("again/moved.txt"))
    assert cli.keys() == {"again/moved.txt": b"move me"}
    cli.run("mv", "-r", cli.url("again"), str(tmp_path / "back"))
    assert (tmp_path / "back" / "moved.txt").read_bytes() == b"move me"
    assert cli.keys() == {}


def test_rm_r_with_the_delete_guards(cli: Cli) -> None:
    for index in range(5):
        cli.put(f"d/{index}", b"x")
    cli.put("keep", b"k")
    dry = cli.run("rm", "-r", "-n", cli.url("d"))
    assert dry.stdout.count("would delete") == 5
    assert len(cli.keys()) == 6
    cli.run("rm", "-r", "--max-delete", "3", cli.url("d"), code=2)
    assert len(cli.keys()) == 6
    cli.run("rm", "-r", cli.url("d"))
    assert cli.keys() == {"keep": b"k"}
    cli.run("rm", "-r", "-s", cli.url(), "", code=2)  # the whole store needs --force


def test_du_size_ls_and_tree(cli: Cli) -> None:
    for key, body in FILES.items():
        cli.put(key, body)
    assert cli.run("du", cli.url()).stdout.strip() == f"4 objects, {sum(map(len, FILES.values())):,} bytes"
    assert json.loads(cli.run("size", "--json", cli.url()).stdout)["objects"] == 4
    long = cli.run("ls", "-l", cli.url()).stdout
    assert "PRE" in long
    assert "a.txt" in long
    assert '"' not in long
    human = cli.run("ls", "-l", "-h", "-r", cli.url()).stdout
    assert "4.9 KiB" in human
    rows = [json.loads(line) for line in cli.run("ls", "--json", "-r", cli.url()).stdout.splitlines()]
    assert {row["key"].rsplit("/", 1)[-1] for row in rows} == {"a.txt", "c.txt", "d.bin", "e.log"}
    assert all(row["etag"] and row["last_modified"] for row in rows)
    drawn = cli.run("tree", cli.url()).stdout
    assert "b/" in drawn
    assert "    c.txt" in drawn
    assert "1 folder, 4 files" in drawn


def test_cat_offset_and_count(cli: Cli) -> None:
    cli.put("digits", b"0123456789")
    assert cli.run("cat", "--offset", "3", "--count", "4", cli.url("digits")).stdout == "3456"
    assert cli.run("cat", "--offset", "8", cli.url("digits")).stdout == "89"


def test_check_compares_by_size_and_hash(cli: Cli) -> None:
    data = cli.folder("data", FILES)
    cli.run("push", str(data), cli.url())
    cli.run("check", str(data), cli.url())
    cli.put("b/c.txt", b"CHARLIE")  # same size, other content
    cli.put("extra", b"e")
    (data / "e.log").unlink()
    result = cli.run("check", str(data), cli.url(), code=1)
    assert set(result.stdout.splitlines()) == {"* b/c.txt", "+ extra", "+ e.log"}


def test_mb_and_rb(cli: Cli) -> None:
    bucket = f"mb-{uuid.uuid4().hex[:10]}"
    cli.run("mb", f"s3://{bucket}")
    cli.run("put", "-", f"s3://{bucket}/k", input="x")
    cli.run("rb", f"s3://{bucket}", code=1)  # not empty
    cli.run("rm", f"s3://{bucket}/k")
    cli.run("rb", f"s3://{bucket}")
    cli.run("ls", f"s3://{bucket}", code=2)  # gone: the bucket does not exist


def test_named_remotes(cli: Cli) -> None:
    cli.run("remote", "add", "backup", f"s3://{cli.bucket}/{cli.base}", "-o", "hierarchical=true")
    assert "backup:" in cli.run("remote", "list").stdout
    shown = cli.run("remote", "show", "backup").stdout
    assert "hierarchical = true" in shown
    data = cli.folder("data", FILES)
    cli.run("push", str(data), "backup:")
    assert cli.keys() == FILES
    assert cli.run("cat", "backup:b/c.txt").stdout == "charlie"
    cli.run("push", str(data), "backup:sub/dir")
    assert cli.keys("sub/dir") == FILES
    secret = cli.run("remote", "add", "bad", f"s3://{cli.bucket}", "-o", "secret_access_key=abc", code=2)
    assert "secret" in secret.stderr
    assert "abc" not in (cli.tmp / "config.toml").read_text()
    unknown = cli.run("push", str(data), "nosuch:", code=2)
    assert "no remote named 'nosuch'" in unknown.stderr
    cli.run("remote", "remove", "backup")
    assert cli.run("remote", "list").stdout == ""


def test_version_and_exit_codes(cli: Cli) -> None:
    assert cli.run("--version").stdout.startswith("objstore")
    cli.run("push", "--no-such-flag", code=2)
    cli.run("cat", cli.url("missing"), code=1)


def test_checksum_filter_delete_excluded_and_max_delete(cli: Cli) -> None:
    data = cli.folder("data", {"a.txt": b"aaaa", "b.log": b"bbbb", "c.txt": b"cccc"})
    cli.run("push", str(data), cli.url())
    cli.put("a.txt", b"AAAA")  # the same size, changed behind the sync's back
    plan = cli.run("push", "-c", "-n", "--force", str(data), cli.url())
    assert "a.txt" in plan.stdout  # a content change is seen by its hash
    cli.run("push", "--filter", "- *.log", "--delete-excluded", "--force", str(data), cli.url())
    assert set(cli.keys()) == {"a.txt", "c.txt"}
    for name in ("a.txt", "c.txt"):
        (data / name).unlink()
    refused = cli.run("push", "--max-delete", "1", str(data), cli.url(), code=1)
    assert "deletes refused" in refused.stderr
    assert set(cli.keys()) == {"a.txt", "b.log", "c.txt"}  # b.log sent; the two deletes refused


def test_share_gives_a_link_that_works(cli: Cli) -> None:
    import urllib.request

    cli.put("shared.txt", b"for you")
    link = cli.run("share", "--expires", "10m", cli.url("shared.txt")).stdout.strip()
    with urllib.request.urlopen(link, timeout=30) as response:  # noqa: S310 (the test server's link)
        assert response.read() == b"for you"


def test_two_way_sync_between_a_folder_and_the_store(cli: Cli) -> None:
    data = cli.folder("data", {"mine.txt": b"mine"})
    cli.put("theirs.txt", b"theirs")
    cli.run("sync", "--two-way", str(data), cli.url())
    assert (data / "theirs.txt").read_bytes() == b"theirs"
    assert cli.keys() == {"mine.txt": b"mine", "theirs.txt": b"theirs"}


def test_a_broken_config_file_or_a_bad_remote_is_one_line_and_changes_nothing(cli: Cli) -> None:
    config = cli.tmp / "config.toml"
    config.write_text("[remotes.backup\nurl = ")  # not TOML
    broken = cli.run("remote", "list", code=2)
    assert broken.stderr.startswith("objstore: error: ")
    assert "not valid TOML" in broken.stderr
    assert len(broken.stderr.splitlines()) == 1
    config.write_text('[remotes.backup]\nendpoint_url = "http://x"\n')  # no url
    assert "needs a url" in cli.run("push", str(cli.folder("d", FILES)), "backup:", code=2).stderr
    config.unlink()
    cli.run("remote", "add", "one", cli.url())
    taken = cli.run("remote", "add", "one", cli.url("other"), code=2)
    assert "exists" in taken.stderr
    assert "other" not in config.read_text()  # the name collision changed nothing
    cli.run("remote", "add", "bad name", cli.url(), code=2)
    cli.run("remote", "add", "two", "not-a-url", code=2)
    assert cli.keys() == {}
