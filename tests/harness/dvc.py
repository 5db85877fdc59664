"""DVC in a virtualenv of its own (``.cache/dvc-venv``): its pins (s3fs, aiobotocore, botocore) never touch
objstore's environment."""

from __future__ import annotations

from pathlib import Path

from tests.harness.peers import tool_in_venv

VENV = Path(__file__).resolve().parents[2] / ".cache" / "dvc-venv"


def dvc_cli() -> str:
    """The ``dvc`` executable, installed with its S3 support on first use."""
    return tool_in_venv(VENV, "dvc[s3]", "dvc", timeout=900)
