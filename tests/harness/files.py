"""Small helpers the tests share: a tree of files written from a dict, and a child process's clean environment."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    """Write ``files`` (keys with ``/``) under ``root``, making folders as needed; returns ``root``."""
    for key, content in files.items():
        path = root.joinpath(*key.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    root.mkdir(parents=True, exist_ok=True)
    return root


def s3_child_env(server: Any, tmp_path: Path) -> dict[str, str]:
    """The environment of a command run against the S3 test server: its keys and endpoint, and nothing from the
    machine's own AWS, objstore or Naas settings (nor its CA bundles)."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "OBJSTORE_", "NAAS_", "MAKE")) and name != "REQUESTS_CA_BUNDLE"
    }
    env.update(
        AWS_ACCESS_KEY_ID=server.access_key_id,
        AWS_SECRET_ACCESS_KEY=server.secret_access_key,
        AWS_ENDPOINT_URL=server.endpoint_url,
        AWS_REGION="us-east-1",
        OBJSTORE_HOME=str(tmp_path / "home"),
        XDG_STATE_HOME=str(tmp_path / "state"),
    )
    return env
