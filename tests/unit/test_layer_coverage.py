"""Every call passes through every layer: each layer implements every primitive of the port itself.

The first test enumerates the port's primitives and every layer in ``objstore.adapters.layers`` and fails when a
layer inherits a primitive from :class:`ForwardingAdapter` (which forwards it untouched). The others check at run
time, over a memory store, the calls that used to slip past the layers: ``exists``, ``list_objects`` and
``presign_url``.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import pkgutil
import threading
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, suppress
from typing import Any

import pytest

import objstore.adapters.layers as layers_package
from objstore.adapters.layers import (
    ConcurrencyLimitedAdapter,
    FaultInjectingAdapter,
    FaultSpec,
    LoggingAdapter,
    RetryingAdapter,
)
from objstore.adapters.memory import MemoryAdapter
from objstore.domain.errors import NotSupported
from objstore.domain.models import DeleteResult, ListOptions, ObjectInfo, OpenedObject, ReadOptions, WriteOptions
from objstore.ports.storage import (
    CONVENIENCES,
    PRIMITIVES,
    ForwardingAdapter,
    IObjectStorageAdapter,
    LayerAdapter,
    Readable,
)


def _layers() -> list[type[LayerAdapter]]:
    """Every LayerAdapter subclass defined in a module of ``objstore.adapters.layers``."""
    found: dict[str, type[LayerAdapter]] = {}
    for module_info in pkgutil.iter_modules(layers_package.__path__):
        module = importlib.import_module(f"{layers_package.__name__}.{module_info.name}")
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, LayerAdapter) and value is not LayerAdapter and value.__module__ == module.__name__:
                found[value.__qualname__] = value
    return sorted(found.values(), key=lambda cls: cls.__name__)


def _missing_primitives(cls: type) -> list[str]:
    """The primitives a layer does not define in its own class body (so inherits, forwarded untouched)."""
    return [name for name in PRIMITIVES if name not in vars(cls)]


def test_the_port_names_the_primitives_and_the_derived_calls() -> None:
    assert set(PRIMITIVES) == {
        "head_object",
        "open_object",
        "write_object",
        "delete_object",
        "scan_objects",
        "copy_object",
        "delete_objects",
        "presign_url",
    }
    assert not set(PRIMITIVES) & set(CONVENIENCES)
    for name in (*PRIMITIVES, *CONVENIENCES):
        assert callable(getattr(IObjectStorageAdapter, name)), name


def test_the_four_layers_are_found() -> None:
    names = {cls.__name__ for cls in _layers()}
    assert {"ConcurrencyLimitedAdapter", "FaultInjectingAdapter", "LoggingAdapter", "RetryingAdapter"} <= names


@pytest.mark.parametrize("layer", _layers(), ids=lambda cls: cls.__name__)
def test_every_layer_defines_every_primitive_itself(layer: type[LayerAdapter]) -> None:
    assert _missing_primitives(layer) == [], f"{layer.__name__} inherits these from ForwardingAdapter"
    for name in CONVENIENCES:
        assert name not in vars(layer), f"{layer.__name__} redefines the derived call {name}"


def test_the_check_catches_a_layer_that_inherits_a_primitive() -> None:
    class Forgetful(LayerAdapter):
        def head_object(self, prefix: str, key: str) -> ObjectInfo:
            return self.inner.head_object(prefix, key)

    assert "presign_url" in _missing_primitives(Forgetful)
    assert "head_object" not in _missing_primitives(Forgetful)
    assert _missing_primitives(ForwardingAdapter) == []  # defined there: the check looks at the class itself


def test_a_layer_cannot_define_a_derived_call() -> None:
    with pytest.raises(TypeError, match="exists"):

        class Skipping(LayerAdapter):
            def exists(self, prefix: str, key: str) -> bool:
                return True


# --- at run time, over a memory store ---------------------------------------------------------------------------


def test_logging_logs_exists_list_objects_and_presign(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="objstore.operations")
    memory = MemoryAdapter()
    memory.put_object("docs", "a.txt", b"abc")
    store = LoggingAdapter(memory)
    assert store.exists("docs", "a.txt")
    assert not store.exists("docs", "missing")
    assert store.list_objects("docs") == ["docs/a.txt"]
    with pytest.raises(NotSupported):
        store.presign_url("docs", "a.txt")
    ops = [(record.objstore["op"], record.objstore["outcome"]) for record in caplog.records]  # type: ignore[attr-defined]
    assert ops == [
        ("head_object", "ok"),
        ("head_object", "ObjectNotFound"),
        ("scan_objects", "ok (1 entries)"),
        ("presign_url", "NotSupported"),
    ]
    assert "X-Amz" not in caplog.text


class _SlotProbe(ForwardingAdapter):
    """Records, at each primitive, whether the concurrency limit above it had its slot taken."""

    def __init__(self, inner: IObjectStorageAdapter) -> None:
        super().__init__(inner)
        self.limit: ConcurrencyLimitedAdapter | None = None
        self.seen: dict[str, bool] = {}

    def _note(self, name: str) -> None:
        assert self.limit is not None
        free = self.limit._slots.acquire(blocking=False)
        if free:
            self.limit._slots.release()
        self.seen[name] = not free

    def head_object(self, prefix: str, key: str) -> ObjectInfo:
        self._note("head_object")
        return self.inner.head_object(prefix, key)

    def scan_objects(self, prefix: str, options: ListOptions) -> Iterator[ObjectInfo]:
        self._note("scan_objects")
        for info in self.inner.scan_objects(prefix, options):
            self._note("scan_objects (a step)")
            yield info

    def presign_url(self, prefix: str, key: str, *, expires_in: int = 3600, method: str = "GET") -> str:
        self._note("presign_url")
        return self.inner.presign_url(prefix, key, expires_in=expires_in, method=method)


def test_the_concurrency_limit_holds_a_slot_for_list_objects_and_presign() -> None:
    memory = MemoryAdapter()
    memory.put_object("", "a", b"1")
    memory.put_object("", "b", b"2")
    probe = _SlotProbe(memory)
    limited = ConcurrencyLimitedAdapter(probe, 1)
    probe.limit = limited
    assert limited.exists("", "a")
    assert limited.list_objects("") == ["a", "b"]
    with pytest.raises(NotSupported):
        limited.presign_url("", "a")
    assert probe.seen == {
        "head_object": True,
        "scan_objects": True,
        "scan_objects (a step)": True,
        "presign_url": True,
    }


def test_with_its_one_slot_taken_list_objects_and_presign_wait() -> None:
    memory = MemoryAdapter()
    memory.put_object("", "a", b"1")
    limited = ConcurrencyLimitedAdapter(memory, 1)
    done: list[str] = []

    def call(name: str) -> None:
        if name == "list_objects":
            limited.list_objects("")
        else:
            with suppress(NotSupported):
                limited.presign_url("", "a")
        done.append(name)

    limited._slots.acquire()  # the one slot is held (as by a read still open)
    threads = [threading.Thread(target=call, args=(name,)) for name in ("list_objects", "presign_url")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(0.2)
    assert done == []  # both wait for the slot
    limited._slots.release()
    for thread in threads:
        thread.join(5)
    assert sorted(done) == ["list_objects", "presign_url"]


class _Probe(ForwardingAdapter):
    """Between two layers: records each primitive that passes."""

    def __init__(self, inner: IObjectStorageAdapter, calls: list[str]) -> None:
        super().__init__(inner)
        self.calls = calls

    def head_object(self, prefix: str, key: str) -> ObjectInfo:
        self.calls.append("head_object")
        return self.inner.head_object(prefix, key)

    def open_object(self, prefix: str, key: str, options: ReadOptions) -> AbstractContextManager[OpenedObject]:
        self.calls.append("open_object")
        return self.inner.open_object(prefix, key, options)

    def write_object(self, prefix: str, key: str, stream: Readable, options: WriteOptions) -> ObjectInfo:
        self.calls.append("write_object")
        return self.inner.write_object(prefix, key, stream, options)

    def delete_object(self, prefix: str, key: str) -> None:
        self.calls.append("delete_object")
        self.inner.delete_object(prefix, key)

    def scan_objects(self, prefix: str, options: ListOptions) -> Iterator[ObjectInfo]:
        self.calls.append("scan_objects")
        return self.inner.scan_objects(prefix, options)

    def copy_object(self, src_prefix: str, src_key: str, dst_prefix: str, dst_key: str) -> None:
        self.calls.append("copy_object")
        self.inner.copy_object(src_prefix, src_key, dst_prefix, dst_key)

    def delete_objects(self, prefix: str, keys: Iterable[str]) -> DeleteResult:
        self.calls.append("delete_objects")
        return self.inner.delete_objects(prefix, keys)

    def presign_url(self, prefix: str, key: str, *, expires_in: int = 3600, method: str = "GET") -> str:
        self.calls.append("presign_url")
        return self.inner.presign_url(prefix, key, expires_in=expires_in, method=method)


DERIVED: list[tuple[str, str, Any]] = [
    ("exists", "head_object", lambda s: s.exists("", "k")),
    ("list_objects", "scan_objects", lambda s: s.list_objects("")),
    ("iter_objects", "scan_objects", lambda s: list(s.iter_objects(""))),
    ("get_object", "open_object", lambda s: s.get_object("", "k")),
    ("get_object_stream", "open_object", lambda s: _read_range(s)),
    ("put_object", "write_object", lambda s: s.put_object("", "k2", b"v")),
    ("put_object_stream", "write_object", lambda s: s.put_object_stream("", "k3", _Bytes(b"v"))),
]


def _read_range(store: IObjectStorageAdapter) -> bytes:
    with store.get_object_stream("", "k", 1, 3) as stream:
        data = stream.read()
    assert data == b"al"
    return data


class _Bytes:
    """A source with only ``read``."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def read(self, size: int = -1) -> bytes:
        data, self._data = (self._data, b"") if size < 0 else (self._data[:size], self._data[size:])
        return data


@pytest.mark.parametrize(("call", "primitive", "run"), DERIVED, ids=[row[0] for row in DERIVED])
def test_derived_calls_on_a_stack_reach_the_store_through_every_layer(
    call: str, primitive: str, run: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="objstore.operations")
    memory = MemoryAdapter()
    memory.put_object("", "k", b"value")
    seen: dict[str, list[str]] = {name: [] for name in ("retry", "faults", "concurrency", "store")}
    below_concurrency = _Probe(memory, seen["store"])
    concurrency = ConcurrencyLimitedAdapter(below_concurrency, 2)
    faults = FaultInjectingAdapter(_Probe(concurrency, seen["concurrency"]), FaultSpec())
    retry = RetryingAdapter(_Probe(faults, seen["faults"]), sleep=lambda _: None)
    stack = LoggingAdapter(_Probe(retry, seen["retry"]))
    run(stack)
    for layer, calls in seen.items():
        assert calls == [primitive], (layer, calls)
    assert [record.objstore["op"] for record in caplog.records] == [primitive]  # type: ignore[attr-defined]
    assert faults.stats.calls == 1
