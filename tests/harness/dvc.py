"""DVC in a virtualenv of its own (``.cache/dvc-venv``): its pins (s3fs, aiobotocore, botocore) never touch
objstore's environment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.harness.servers import ServerUnavailable

VENV = Path(__file__).resolve().parents[2] / ".cache" / "dvc-venv"


def dvc_cli() -> str:
    """The ``dvc`` executable, installed with its S3 support on first use."""
    dvc = VENV / "bin" / "dvc"
    done = VENV / ".installed"
    if done.exists() and dvc.exists():
        return str(dvc)
    steps = (
        [sys.executable, "-m", "venv", "--clear", str(VENV)],
        [str(VENV / "bin" / "pip"), "install", "-q", "dvc[s3]"],
    )
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, timeout=900, check=False)
        if result.returncode != 0:
            raise ServerUnavailable(f"installing DVC failed: {result.stderr[-600:]}")
    done.touch()  # only a finished install is trusted next time
    return str(dvc)
