"""The service: validation before the adapter, and no error escaping the hierarchy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from objstore import InvalidKey, ObjectStorageError, ObjectStorageService
from objstore.adapters.memory import MemoryAdapter
from objstore.domain.models import ListOptions, ObjectInfo, WriteOptions
from objstore.ports.storage import Readable

pytest_plugins = ["objstore.testing.fixtures"]


class ExplodingAdapter(MemoryAdapter):
    """An adapter with a bug: it lets a raw exception out."""

    name = "exploding"

    def head_object(self, prefix: str, key: str) -> ObjectInfo:
        raise RuntimeError("adapter bug")

    def scan_objects(self, prefix: str, options: ListOptions) -> Iterator[ObjectInfo]:
        yield ObjectInfo(key="first")
        raise KeyError("listing bug")


class RecordingAdapter(MemoryAdapter):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def write_object(self, prefix: str, key: str, stream: Readable, options: WriteOptions) -> ObjectInfo:
        self.calls.append(f"put {prefix!r} {key!r}")
        return super().write_object(prefix, key, stream, options)


def test_raw_adapter_exceptions_become_storage_errors_with_the_cause() -> None:
    store = ObjectStorageService(ExplodingAdapter())
    with pytest.raises(ObjectStorageError) as caught:
        store.head_object("p", "k")
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert (caught.value.operation, caught.value.adapter, caught.value.key) == ("head_object", "exploding", "p/k")
    iterator = store.iter_objects("")
    assert next(iterator).key == "first"
    with pytest.raises(ObjectStorageError):
        next(iterator)


def test_rejected_keys_never_reach_the_adapter() -> None:
    adapter = RecordingAdapter()
    store = ObjectStorageService(adapter)
    with pytest.raises(InvalidKey):
        store.put_object("p", "../x", b"x")
    store.put_object("/p/", "ok", b"x")
    assert adapter.calls == ["put 'p' 'ok'"]


def test_the_service_needs_an_adapter() -> None:
    with pytest.raises(TypeError):
        ObjectStorageService(object())  # type: ignore[arg-type]


def test_range_arguments_are_checked() -> None:
    store = ObjectStorageService(MemoryAdapter())
    store.put_object("", "k", b"abc")
    with pytest.raises(TypeError):
        store.get_object_stream("", "k", start="1")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        list(store.iter_objects("", page_size=0))


def test_memory_store_fixture_is_fresh_per_test(memory_store: ObjectStorageService) -> None:
    assert memory_store.list_objects("") == []
    memory_store.put_object("", "only-here", b"x")


def test_memory_store_fixture_is_fresh_again(memory_store: ObjectStorageService) -> None:
    assert not memory_store.exists("", "only-here")


def test_repr_is_informative_and_stable() -> None:
    adapter = MemoryAdapter()
    before = repr(ObjectStorageService(adapter))
    assert before.startswith("ObjectStorageService(MemoryAdapter(id=0x")
    adapter.put_object("", "k", b"x")
    assert repr(ObjectStorageService(adapter)) == before
    assert repr(MemoryAdapter()) != repr(adapter)
