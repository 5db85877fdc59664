"""Hostile input for the CLI and the factory: each mistake gets one line that says what to fix, exit code 2 (usage
or configuration) or 1 (the operation failed), and changes nothing: not the local folder, not the store.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from objstore import ConfigurationError, ObjectStorageFactory

OBJSTORE = [sys.executable, "-m", "objstore"]
AWS_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL")
NO_AWS = {
    "AWS_CONFIG_FILE": "/nonexistent",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without any AWS credentials, plus ``extra``."""
    env = {name: value for name, value in os.environ.items() if name not in AWS_VARIABLES}
    return {**env, **NO_AWS, **extra}


def snapshot(*roots: Path) -> dict[str, str]:
    """Every file under the roots (objstore's own state folder included) with its SHA-256."""
    found = {}
    for root in roots:
        if root.exists():
            for path in sorted(root.rglob("*")):
                if path.is_file():
                    found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Any]:
    """A folder that was pushed to the default store, and the environment that points at it."""
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.txt").write_text("keep me")
    (folder / "sub").mkdir()
    (folder / "sub" / "b.bin").write_bytes(os.urandom(100_000))
    env = clean_environment(OBJSTORE_HOME=str(tmp_path / "home"), OBJSTORE_URL="")
    subprocess.run([*OBJSTORE, "push", str(folder), "-q"], env=env, check=True, timeout=120)
    return {"folder": folder, "env": env, "home": tmp_path / "home", "tmp": tmp_path}


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The one line of the error (a retry announced as it happened is a notice on a line of its own, not part
    of the error: at most one such line without -v)."""
    notices = [line for line in result.stderr.splitlines() if line.startswith("objstore: retry ")]
    assert len(notices) <= 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip() and line not in notices]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("objstore: error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


CASES: list[tuple[str, list[str], dict[str, str], int, str]] = [
    ("no bucket", ["ls", "-s", "s3://"], {}, 2, "needs a bucket"),
    ("unknown URL option", ["ls", "-s", "s3://bucket?colour=blue"], {}, 2, "unknown option.*colour"),
    ("unknown scheme", ["ls", "-s", "ftp://host/x"], {}, 2, "unknown store URL scheme"),
    ("secret in the URL", ["ls", "-s", "s3://AKIAX:hunter2@bucket"], {}, 2, "credentials cannot be given"),
    ("malformed option value", ["ls", "-s", "s3://bucket?retry=maybe"], {}, 2, "not a valid bool"),
    ("fragment", ["ls", "-s", "file:///tmp/x#part"], {}, 2, "fragment"),
    ("bad fault spec", ["--faults", "explode=1", "ls"], {}, 2, "faults"),
    ("negative retries", ["--retries", "-1", "ls"], {}, 2, "retries"),
    ("bad max-delete", ["push", "{folder}", "--max-delete", "lots"], {}, 2, "max.delete"),
    ("Naas without its key", ["ls", "-s", "naas://workspace/storage"], {"NAAS_API_KEY": ""}, 2, "NAAS_API_KEY"),
    ("Azure without an account", ["ls", "-s", "az://container"], {"AZURE_STORAGE_CONNECTION_STRING": ""}, 2, "Azure"),
    ("a folder that does not exist", ["push", "{tmp}/no-such-folder"], {}, 2, "does not exist"),
    ("a hostile key", ["put", "{folder}/a.txt", "../escape.txt"], {}, 2, "key"),
    ("a missing object", ["cat", "no-such-key"], {}, 1, "no such object"),
    ("a bad duration", ["purge", "--older-than", "soon"], {}, 2, "duration"),
]


@pytest.mark.parametrize(("case", "args", "extra_env", "code", "says"), CASES, ids=[case[0] for case in CASES])
def test_the_cli_refuses_hostile_input_in_one_line_and_changes_nothing(
    world: dict[str, Any], case: str, args: list[str], extra_env: dict[str, str], code: int, says: str
) -> None:
    before = snapshot(world["folder"], world["home"])
    argv = [arg.format(folder=world["folder"], tmp=world["tmp"]) for arg in args]
    result = subprocess.run(
        [*OBJSTORE, *argv], capture_output=True, text=True, timeout=120, env={**world["env"], **extra_env}, check=False
    )
    assert result.returncode == code, (result.returncode, result.stderr)
    line = one_line_error(result)
    assert re.search(says, line, re.IGNORECASE), line
    assert snapshot(world["folder"], world["home"]) == before


def s3_case_env(world: dict[str, Any], s3_server: Any, url: str, **overrides: str) -> dict[str, str]:
    env = {
        **world["env"],
        "AWS_ACCESS_KEY_ID": s3_server.access_key_id,
        "AWS_SECRET_ACCESS_KEY": s3_server.secret_access_key,
        "AWS_ENDPOINT_URL": s3_server.endpoint_url,
        "OBJSTORE_URL": url,
    }
    env.update(overrides)
    return {name: value for name, value in env.items() if value != "" or name not in AWS_VARIABLES}


@pytest.mark.parametrize(
    ("case", "overrides", "bucket", "code", "says"),
    [
        ("no credentials anywhere", {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}, "real", 2, "credentials"),
        # exit 3: the credentials were refused (docs/cli.md's exit codes); missing ones are configuration (2)
        ("wrong credentials", {"AWS_SECRET_ACCESS_KEY": "not-the-secret"}, "real", 3, "authentication failed.*secret"),
        ("a bucket that does not exist", {}, "missing", 2, "bucket does not exist"),
        ("a dead server", {"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}, "real", 1, "connect|network"),
    ],
    ids=["no-credentials", "wrong-credentials", "missing-bucket", "dead-server"],
)
def test_s3_mistakes_are_one_line_errors_that_change_nothing(
    world: dict[str, Any],
    s3_server: Any,
    s3_bucket: str,
    case: str,
    overrides: dict[str, str],
    bucket: str,
    code: int,
    says: str,
) -> None:
    name = s3_bucket if bucket == "real" else f"no-such-bucket-{uuid.uuid4().hex[:8]}"
    url = f"s3://{name}/hostile-{uuid.uuid4().hex}?hierarchical=true"
    env = s3_case_env(world, s3_server, url, **overrides)
    before = snapshot(world["folder"])
    for command in (["push", str(world["folder"])], ["pull", str(world["folder"])], ["ls"]):
        result = subprocess.run(
            [*OBJSTORE, "--retries", "1", *command], capture_output=True, text=True, timeout=180, env=env, check=False
        )
        assert result.returncode == code, (case, command, result.returncode, result.stderr)
        line = one_line_error(result)
        assert re.search(says, line, re.IGNORECASE), (case, line)
    assert snapshot(world["folder"]) == before
    if bucket == "real":
        listing = s3_server.client().list_objects_v2(Bucket=s3_bucket, Prefix=url.split("/", 3)[3].split("?")[0])
        assert listing.get("KeyCount", 0) == 0  # nothing was written


def in_private_mount(script: str, mountpoint: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a shell script in a mount namespace of its own (root can mount there; others map themselves to root)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.fail("util-linux's unshare is needed for the read-only and full-disk cases")
    flags = ["--mount"] if os.geteuid() == 0 else ["--mount", "--map-root-user"]
    return subprocess.run(
        [unshare, *flags, "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "MOUNTPOINT": str(mountpoint)},
        check=False,
    )


@pytest.mark.parametrize(
    ("case", "mount", "says"),
    [
        (
            "a read-only target folder",
            'mount -t tmpfs -o size=4m tmpfs "$MOUNTPOINT" && echo kept > "$MOUNTPOINT/old.txt"'
            ' && mount -o remount,ro "$MOUNTPOINT"',
            "writable",
        ),
        (
            "a full disk",
            'mount -t tmpfs -o size=64k tmpfs "$MOUNTPOINT" && echo kept > "$MOUNTPOINT/old.txt"'
            ' && head -c 40000 /dev/zero > "$MOUNTPOINT/filler"',
            "space",
        ),
    ],
    ids=["read-only", "full-disk"],
)
def test_a_pull_into_a_folder_it_cannot_write_fails_in_one_line_and_leaves_it_as_it_was(
    world: dict[str, Any], case: str, mount: str, says: str
) -> None:
    target = world["tmp"] / "target"
    target.mkdir()
    objstore = " ".join(OBJSTORE)
    script = (
        f"{mount} || exit 99\n"
        'before=$(ls -laR "$MOUNTPOINT" | md5sum)\n'
        f'{objstore} pull "$MOUNTPOINT"; code=$?\n'
        'after=$(ls -laR "$MOUNTPOINT" | md5sum)\n'
        '[ "$before" = "$after" ] || { echo \'the folder changed\' >&2; exit 98; }\n'
        "exit $code\n"
    )
    result = in_private_mount(script, target, world["env"])
    assert result.returncode != 99, f"could not set up {case}: {result.stderr}"
    assert result.returncode == 1, (result.returncode, result.stderr)
    line = one_line_error(result)
    assert re.search(says, line, re.IGNORECASE), line


@pytest.mark.parametrize(
    ("url", "options", "says"),
    [
        ("", {}, "empty"),
        ("   ", {}, "empty"),
        ("s3://", {}, "needs a bucket"),
        ("gs://", {}, "needs a bucket"),
        ("az://", {}, "needs a container"),
        ("s3://b?x", {}, "malformed|unknown option"),
        ("s3://b?a=1&&", {}, "malformed|unknown option"),
        ("memory://somewhere", {}, "takes no location"),
        ("nope://x", {}, "unknown store URL scheme"),
        ("s3://key:hunter2@b", {}, "credentials cannot be given"),
        ("s3://b?secret_access_key=hunter2", {}, "secret"),
        ("file:///tmp/x", {"colour": "blue"}, "unknown option"),
        ("file:///tmp/x", {"retry_attempts": 0}, "retry_attempts"),
        ("file:///tmp/x", {"concurrency": 0}, "concurrency"),
        ("file:///tmp/x", {"faults": 42}, "faults"),
        ("file:///tmp/x", {"faults": "transient=2"}, "faults"),
        ("file:///tmp/x?fsync=perhaps", {}, "not a valid bool"),
    ],
)
def test_the_factory_refuses_hostile_input_with_a_configuration_error(
    url: str, options: dict[str, Any], says: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigurationError, match=f"(?i){says}") as caught:
        ObjectStorageFactory.from_url(url.replace("/tmp/x", str(tmp_path / "x")), **options)
    assert "\n" not in str(caught.value)
    assert "hunter2" not in str(caught.value)
    assert not (tmp_path / "x").exists()  # nothing was created
