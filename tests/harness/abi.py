"""naas-abi-core's own object-storage tests, bound to ``objstore.compat.abi``.

The wheel is fetched from the package index (pinned, cached in ``.cache/abi``) and its test modules are loaded
from it as shipped. They import abi's modules by name (``naas_abi_core.services.object_storage.ObjectStoragePort``,
``...adapters.secondary.ObjectStorageSecondaryAdapterFS``); those names are bound to the compat module, so every
class the shipped tests touch is objstore's. Nothing else of naas-abi-core (its engine, its many dependencies) is
installed or imported.
"""

from __future__ import annotations

import subprocess
import sys
import types
import zipfile
from pathlib import Path

from tests.harness.servers import ServerUnavailable

RELEASE = "naas-abi-core==3.1.0"
CACHE = Path(__file__).resolve().parents[2] / ".cache" / "abi"
PACKAGE = "naas_abi_core.services.object_storage"
#: abi's module names whose classes the shipped tests import: all bound to objstore.compat.abi.
BOUND = (
    "ObjectStoragePort",
    "ObjectStorageService",
    "ObjectStorageFactory",
    "adapters.secondary.ObjectStorageSecondaryAdapterFS",
    "adapters.secondary.ObjectStorageSecondaryAdapterS3",
    "adapters.secondary.ObjectStorageSecondaryAdapterNaas",
    "adapters.secondary.ObjectStorageSecondaryAdapterR2",
)
GENERIC_SUITE = "tests/object_storage__secondary_adapter__generic_test.py"


def wheel() -> Path:
    """The pinned naas-abi-core wheel, downloaded once (without its dependencies: only its tests are used)."""
    found = sorted(CACHE.glob("naas_abi_core-*.whl"))
    if found:
        return found[-1]
    CACHE.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", RELEASE, "-d", str(CACHE)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    found = sorted(CACHE.glob("naas_abi_core-*.whl"))
    if result.returncode != 0 or not found:
        raise ServerUnavailable(f"downloading {RELEASE} failed: {result.stderr[-600:]}")
    return found[-1]


def _packages(dotted: str) -> None:
    """Empty packages for ``dotted`` and each package above it (abi's names, with nothing of abi in them)."""
    parts = dotted.split(".")
    for depth in range(1, len(parts) + 1):
        name = ".".join(parts[:depth])
        if name not in sys.modules:
            package = types.ModuleType(name)
            package.__path__ = []
            sys.modules[name] = package


def _bind_names() -> None:
    """abi's module names, each resolving to the compat module."""
    import objstore.compat.abi as compat

    for relative in BOUND:
        name = f"{PACKAGE}.{relative}"
        _packages(name.rpartition(".")[0])
        sys.modules[name] = compat


def shipped_module(path_in_package: str) -> types.ModuleType:
    """A test module of the wheel (``path_in_package`` below abi's object_storage package), loaded as shipped,
    under its own name (the shipped modules import each other by name)."""
    _bind_names()
    member = f"{PACKAGE.replace('.', '/')}/{path_in_package}"
    name = f"{PACKAGE}.{path_in_package.removesuffix('.py').replace('/', '.')}"
    if name in sys.modules:
        return sys.modules[name]
    with zipfile.ZipFile(wheel()) as archive:
        source = archive.read(member).decode()
    _packages(name.rpartition(".")[0])
    module = types.ModuleType(name)
    module.__file__ = f"{wheel()}/{member}"
    sys.modules[name] = module
    exec(compile(source, module.__file__, "exec"), module.__dict__)  # noqa: S102 - the shipped test, read from the wheel
    return module
