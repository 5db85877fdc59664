"""The factory: URLs, options, the environment, the provider registry and missing extras."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from objstore import ConfigurationError, ObjectStorageFactory, ObjectStorageService
from objstore.adapters.filesystem import FilesystemAdapter
from objstore.adapters.memory import MemoryAdapter
from objstore.factory import ProviderSpec, register_provider


def test_file_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for url, folder in [
        (f"file://{tmp_path}/abs", tmp_path / "abs"),
        ("file://./rel", tmp_path / "rel"),
        ("file://plain", tmp_path / "plain"),
        ("file:short", tmp_path / "short"),
        (str(tmp_path / "bare"), tmp_path / "bare"),
        ("relative/path", tmp_path / "relative" / "path"),
        (f"FILE://{tmp_path}/upper", tmp_path / "upper"),
        (f"file://{tmp_path}/with%20space", tmp_path / "with space"),
    ]:
        store = ObjectStorageFactory.from_url(url)
        assert isinstance(store, ObjectStorageService)
        assert isinstance(store.adapter, FilesystemAdapter)
        assert Path(store.adapter.root) == folder.resolve()


def test_options_from_query_and_arguments(tmp_path: Path) -> None:
    store = ObjectStorageFactory.from_url(f"file://{tmp_path}?fsync=false")
    assert isinstance(store.adapter, FilesystemAdapter)
    assert store.adapter.config.fsync is False
    store = ObjectStorageFactory.from_url(f"file://{tmp_path}?fsync=false", fsync=True)
    assert store.adapter.config.fsync is True  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        "nosuch://bucket",
        "memory://name",
        "file:///tmp/x?colour=blue",
        "file:///tmp/x?fsync=maybe",
        "file:///tmp/x?fsync",
        "file:///tmp/x#frag",
        "file:///tmp/x?=&=",
    ],
)
def test_bad_urls_are_configuration_errors(url: str) -> None:
    with pytest.raises(ConfigurationError):
        ObjectStorageFactory.from_url(url)


def test_unknown_option_names_the_accepted_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="accepted: base_path, create, fsync"):
        ObjectStorageFactory.from_url(f"file://{tmp_path}", colour="blue")


def test_memory_stores_are_private() -> None:
    first = ObjectStorageFactory.from_url("memory://")
    second = ObjectStorageFactory.ObjectStorageServiceMemory()
    assert isinstance(first.adapter, MemoryAdapter)
    first.put_object("", "k", b"x")
    assert not second.exists("", "k")


def test_from_env(tmp_path: Path) -> None:
    store = ObjectStorageFactory.from_env({"OBJSTORE_URL": f"file://{tmp_path}"})
    assert isinstance(store.adapter, FilesystemAdapter)
    with pytest.raises(ConfigurationError, match="OBJSTORE_URL"):
        ObjectStorageFactory.from_env({})


def test_find_storage_walks_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "storage").mkdir()
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    store = ObjectStorageFactory.ObjectStorageServiceFS__find_storage()
    assert Path(store.adapter.root) == (tmp_path / "storage").resolve()  # type: ignore[attr-defined]
    with pytest.raises(ConfigurationError, match="no folder named 'nothing-here'"):
        ObjectStorageFactory.ObjectStorageServiceFS__find_storage("nothing-here")


def test_fs_constructor(tmp_path: Path) -> None:
    store = ObjectStorageFactory.ObjectStorageServiceFS(tmp_path, fsync=False)
    store.put_object("", "k", b"x")
    assert (tmp_path / "k").read_bytes() == b"x"


def test_a_missing_sdk_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "objstore_test_needs_sdk.py").write_text("import objstore_sdk_that_is_not_installed\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    register_provider(
        ProviderSpec(
            "needsdk",
            "objstore_test_needs_sdk:Adapter",
            "objstore_test_needs_sdk:Config",
            "needsdk",
            lambda parts: {},
        )
    )
    with pytest.raises(ConfigurationError, match=r"pip install 'objstore\[needsdk\]'"):
        ObjectStorageFactory.from_url("needsdk://bucket")


@dataclass(frozen=True)
class SecretConfig:
    bucket: str = ""
    password: str = field(default="", repr=False, metadata={"secret": True})


class SecretAdapter(MemoryAdapter):
    def __init__(self, config: SecretConfig) -> None:
        super().__init__()
        self.config = config


def test_secrets_are_refused_in_urls_but_accepted_as_arguments() -> None:
    register_provider(
        ProviderSpec(
            "secretive",
            f"{__name__}:SecretAdapter",
            f"{__name__}:SecretConfig",
            None,
            lambda parts: {"bucket": parts.netloc},
        )
    )
    with pytest.raises(ConfigurationError, match="password is a secret"):
        ObjectStorageFactory.from_url("secretive://b?password=hunter2")
    store = ObjectStorageFactory.from_url("secretive://b", password="hunter2")
    assert "hunter2" not in repr(store.adapter.config)  # type: ignore[attr-defined]
