"""Azurite (Azure Blob Storage emulator) on loopback, installed from the npm registry on first use."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.harness.servers import ManagedServer, ServerUnavailable, free_port, port_open

AZURITE_VERSION = "3.35.0"  # runs on Node 20
CACHE = Path(__file__).resolve().parents[2] / ".cache" / "azurite"
# Azurite's well-known development account: public, documented, accepted only by the emulator.
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def azurite_binary() -> str:
    binary = CACHE / "node_modules" / ".bin" / "azurite-blob"
    if binary.exists():
        return str(binary)
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise ServerUnavailable("Azurite needs Node.js and npm (apt-get install nodejs npm)")
    CACHE.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            npm,
            "install",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            "--prefix",
            str(CACHE),
            f"azurite@{AZURITE_VERSION}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0 or not binary.exists():
        raise ServerUnavailable(f"npm install azurite@{AZURITE_VERSION} failed: {result.stderr[-800:]}")
    return str(binary)


def connection_string(endpoint: str) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
        f"BlobEndpoint={endpoint}/{ACCOUNT};"
    )


def start_azurite(workdir: Path) -> tuple[ManagedServer, str]:
    """azurite-blob in memory; returns the server and its blob endpoint (without the account)."""
    port = free_port()
    server = ManagedServer(
        "azurite",
        [
            azurite_binary(),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--skipApiVersionCheck",
            "--disableTelemetry",
            "--inMemoryPersistence",
            "--silent",
        ],
        log_dir=workdir,
        cwd=workdir,
        ready=lambda: port_open(port),
    )
    return server.start(), f"http://127.0.0.1:{port}"
