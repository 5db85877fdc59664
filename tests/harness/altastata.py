"""A JVM py4j gateway speaking the Altastata gateway API, compiled and started by the test session."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.harness.servers import ManagedServer, ServerUnavailable, free_port, port_open

SOURCES = Path(__file__).resolve().parent / "altastata_gateway"


def py4j_jar() -> Path:
    jars = sorted((Path(sys.prefix) / "share" / "py4j").glob("py4j*.jar"))
    if not jars:
        raise ServerUnavailable("the py4j jar is missing: pip install py4j (it ships share/py4j/py4j<version>.jar)")
    return jars[-1]


def build_gateway(build_dir: Path) -> Path:
    javac = shutil.which("javac")
    if javac is None:
        raise ServerUnavailable("javac not found: apt-get install openjdk-17-jdk-headless (make test does)")
    build_dir.mkdir(parents=True, exist_ok=True)
    sources = sorted(str(path) for path in SOURCES.rglob("*.java"))
    result = subprocess.run(
        [javac, "-encoding", "UTF-8", "-cp", str(py4j_jar()), "-d", str(build_dir), *sources],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise ServerUnavailable(f"compiling the Altastata test gateway failed:\n{result.stderr[-2000:]}")
    return build_dir


def start_gateway(workdir: Path) -> tuple[ManagedServer, int]:
    """Compile and start the gateway on a free loopback port; returns it and its port."""
    classes = build_gateway(workdir / "classes")
    java = shutil.which("java")
    if java is None:
        raise ServerUnavailable("java not found")
    port = free_port()
    data = workdir / "data"
    data.mkdir(exist_ok=True)
    classpath = f"{classes}:{py4j_jar()}"
    server = ManagedServer(
        "altastata-gateway",
        [java, "-Xmx256m", "-cp", classpath, "objstore.testgateway.Main", str(port), str(data)],
        log_dir=workdir,
        ready=lambda: port_open(port),
    )
    return server.start(), port


def make_account(folder: Path, user: str, password: str) -> Path:
    """An account directory as the gateway expects one (account.properties, an encrypted key file)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "account.properties").write_text(f"myuser={user}\npassword={password}\naccounttype=test\n")
    (folder / "private_key_encrypted").write_text(
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\ntest\n-----END ENCRYPTED PRIVATE KEY-----\n"
    )
    return folder
