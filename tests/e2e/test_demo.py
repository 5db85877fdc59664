"""`make demo`'s script runs end to end and checks itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_round_trip(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py"), str(tmp_path / "store")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAILED" not in result.stdout
    assert "Demo finished" in result.stdout
    assert (tmp_path / "store" / "archive" / "q1.csv").read_bytes().startswith(b"month,value")


def test_sync_demo_push_change_pull_and_diff() -> None:
    result = subprocess.run(
        ["bash", str(ROOT / "examples" / "sync_demo.sh")], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "identical: demo-storage/ and demo-restored/" in result.stdout
