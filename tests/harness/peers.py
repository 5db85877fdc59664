"""Peer tools (aws CLI) in a virtualenv of their own: their pinned SDK versions never touch objstore's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.harness.servers import ServerUnavailable

CACHE = Path(__file__).resolve().parents[2] / ".cache" / "peers"


def aws_cli() -> str:
    aws = CACHE / "bin" / "aws"
    done = CACHE / ".installed"
    if done.exists() and aws.exists():
        return str(aws)
    steps = (
        [sys.executable, "-m", "venv", "--clear", str(CACHE)],
        [str(CACHE / "bin" / "pip"), "install", "-q", "awscli"],
    )
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, timeout=600, check=False)
        if result.returncode != 0:
            raise ServerUnavailable(f"installing the aws CLI failed: {result.stderr[-600:]}")
    done.touch()  # only a finished install is trusted next time
    return str(aws)
