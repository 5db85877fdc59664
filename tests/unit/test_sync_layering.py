"""Sync is an application beside the domain: the domain (and the package root) do not load it until it is used."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import objstore
from objstore import ObjectStorageFactory


def loaded_after(statement: str) -> list[str]:
    code = f"import sys\n{statement}\nprint(sorted(m for m in sys.modules if m.startswith('objstore.syncing')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return eval(result.stdout)  # type: ignore[no-any-return]  # noqa: S307 - our own subprocess's list


def test_importing_the_domain_or_the_package_root_loads_no_sync_module() -> None:
    assert loaded_after("import objstore.domain.service") == []
    assert loaded_after("import objstore, objstore.factory") == []
    assert "objstore.syncing.api" in loaded_after("import objstore; objstore.sync")


def test_objstore_sync_is_the_function_whichever_is_imported_first(tmp_path: Path) -> None:
    store = ObjectStorageFactory.ObjectStorageServiceMemory()
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_bytes(b"a")
    store.push(tmp_path / "src", state_dir=tmp_path / "state")  # imports the sync package from inside the domain
    other = ObjectStorageFactory.ObjectStorageServiceMemory()
    report = objstore.sync(store, other, state_dir=tmp_path / "state")
    assert report.ok
    assert other.get_object("", "a.txt") == b"a"
    from objstore import SyncReport, sync
    from objstore.syncing import api

    assert isinstance(report, SyncReport)
    assert sync is api.sync
    assert objstore.sync is api.sync
