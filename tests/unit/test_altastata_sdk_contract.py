"""Contract with the real `altastata` package: every call objstore makes exists with a compatible signature.

The SDK client is driven against a stand-in whose every method first binds its arguments to the installed
package's own signature, so an upstream rename or a removed keyword fails here, not for users.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import altastata
import pytest
from altastata import AltaStataFunctions

from objstore import ConfigurationError, ObjectStorageService
from objstore.adapters import altastata as adapter_module
from objstore.adapters.altastata import SDK_CALLS, AltastataAdapter, AltastataConfig, SdkAltastataClient


def real_signature(name: str) -> inspect.Signature:
    member = inspect.getattr_static(AltaStataFunctions, name)
    function = member.__func__ if isinstance(member, classmethod | staticmethod) else member
    signature = inspect.signature(function)
    parameters = list(signature.parameters.values())
    if parameters and parameters[0].name in ("self", "cls"):
        signature = signature.replace(parameters=parameters[1:])
    return signature


@pytest.mark.parametrize("name", sorted(SDK_CALLS))
def test_every_call_objstore_makes_binds_to_the_installed_signature(name: str) -> None:
    positional, keywords = SDK_CALLS[name]
    signature = real_signature(name)
    signature.bind(*(f"<{p}>" for p in positional), **{k: f"<{k}>" for k in keywords})
    for parameter_name in positional:
        assert parameter_name in signature.parameters, f"{name} has no parameter {parameter_name!r}"


def test_the_installed_package_is_the_current_generation() -> None:
    assert int(altastata.__version__.split(".")[0]) >= 1


class SignatureCheckingFunctions:
    """Stands in for AltaStataFunctions: checks each call against the real signature, keeps files in a dict."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.calls: list[str] = []

    def _check(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        assert name in SDK_CALLS, f"objstore calls {name}, which SDK_CALLS does not declare"
        real_signature(name).bind(*args, **kwargs)
        self.calls.append(name)

    def create_file(self, *args: Any, **kwargs: Any) -> dict[str, str]:
        self._check("create_file", args, kwargs)
        self.files[args[0]] = bytes(args[1])
        return {"operation_state": "DONE"}

    def append_buffer_to_file(self, *args: Any, **kwargs: Any) -> bool:
        self._check("append_buffer_to_file", args, kwargs)
        self.files[args[0]] += bytes(args[1])
        return True

    def get_input_stream(self, *args: Any, **kwargs: Any) -> Iterator[bytes]:
        self._check("get_input_stream", args, kwargs)
        content = self.files[args[0]][kwargs["start_position"] :]
        size = kwargs["chunk_size"]
        return iter([content[i : i + size] for i in range(0, len(content), size)])

    def list_cloud_files_versions(self, *args: Any, **kwargs: Any) -> list[list[str]]:
        self._check("list_cloud_files_versions", args, kwargs)
        return [[f"{path}\u2739bob_1736101234567"] for path in self.files if path.startswith(args[0])]

    def delete_files_by_paths(self, *args: Any, **kwargs: Any) -> list[dict[str, str]]:
        self._check("delete_files_by_paths", args, kwargs)
        for path in args[0]:
            self.files.pop(path, None)
        return []

    def get_file_attribute(self, *args: Any, **kwargs: Any) -> str | None:
        self._check("get_file_attribute", args, kwargs)
        content = self.files.get(args[0])
        return None if content is None else str(len(content))

    def copy_file(self, *args: Any, **kwargs: Any) -> dict[str, str]:
        self._check("copy_file", args, kwargs)
        self.files[args[1]] = self.files[args[0]]
        return {"operation_state": "DONE"}

    def shutdown(self, *args: Any, **kwargs: Any) -> None:
        self._check("shutdown", args, kwargs)


def test_the_sdk_client_drives_the_real_api_shape(tmp_path: Any) -> None:
    functions = SignatureCheckingFunctions()
    config = AltastataConfig(account_dir_path=str(tmp_path), password="pw", chunk_size=1024).resolved({})
    store = ObjectStorageService(AltastataAdapter(config, client=SdkAltastataClient(config, functions)))
    store.put_object("docs", "small.txt", b"hello")
    store.put_object_stream("docs", "big.bin", __import__("io").BytesIO(b"z" * 5000))
    assert store.get_object("docs", "big.bin") == b"z" * 5000
    with store.get_object_stream("docs", "small.txt", 1, 4) as stream:
        assert stream.read() == b"ell"
    assert store.list_objects("docs") == ["docs/big.bin", "docs/small.txt"]
    store.copy_object("docs", "small.txt", "docs", "copy.txt")
    store.delete_object("docs", "small.txt")
    assert store.delete_objects("docs", ["copy.txt", "absent"]).ok
    store.close()
    assert set(functions.calls) == set(SDK_CALLS) - {"from_account_dir", "from_credentials"}


def test_the_sdk_mode_logs_in_with_the_factories_objstore_declares(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    seen: dict[str, Any] = {}

    def from_account_dir(*args: Any, **kwargs: Any) -> SignatureCheckingFunctions:
        real_signature("from_account_dir").bind(*args, **kwargs)
        seen["account"] = (args, kwargs)
        return SignatureCheckingFunctions()

    monkeypatch.setattr(AltaStataFunctions, "from_account_dir", from_account_dir)
    monkeypatch.setattr(adapter_module, "_java_version", lambda: 17)
    config = AltastataConfig(account_dir_path=str(tmp_path), password="pw", mode="sdk").resolved({})
    AltastataAdapter(config).close()
    assert seen["account"][1] == {"password": "pw"}


@pytest.mark.parametrize(("version", "match"), [(None, "no java was found"), (11, "this java is 11")])
def test_java_missing_or_too_old_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, version: int | None, match: str
) -> None:
    monkeypatch.setattr(adapter_module, "_java_version", lambda: version)
    config = AltastataConfig(account_dir_path=str(tmp_path), password="pw", mode="sdk").resolved({})
    with pytest.raises(ConfigurationError, match=match):
        AltastataAdapter(config)


def test_the_java_version_parser_reads_both_styles(monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    for banner, expected in [('openjdk version "17.0.15" 2025-04-15', 17), ('java version "1.8.0_392"', 8)]:

        def fake_run(*args: Any, banner: str = banner, **kwargs: Any) -> subprocess.CompletedProcess[str]:
            return subprocess.CompletedProcess(args, 0, stdout="", stderr=banner)

        monkeypatch.setattr(subprocess, "run", fake_run)
        assert adapter_module._java_version() == expected
