"""Peer tools (aws CLI) in a virtualenv of their own: their pinned SDK versions never touch objstore's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.harness.servers import ServerUnavailable

CACHE = Path(__file__).resolve().parents[2] / ".cache" / "peers"


def tool_in_venv(venv: Path, requirement: str, executable: str, timeout: float = 600) -> str:
    """``executable`` from a virtualenv of its own at ``venv``, with ``requirement`` installed there on first use."""
    found = venv / "bin" / executable
    done = venv / ".installed"
    if done.exists() and found.exists():
        return str(found)
    steps = (
        [sys.executable, "-m", "venv", "--clear", str(venv)],
        [str(venv / "bin" / "pip"), "install", "-q", requirement],
    )
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, timeout=timeout, check=False)
        if result.returncode != 0:
            raise ServerUnavailable(f"installing {requirement} failed: {result.stderr[-600:]}")
    done.touch()  # only a finished install is trusted next time
    return str(found)


def aws_cli() -> str:
    return tool_in_venv(CACHE, "awscli", "aws")
