"""The conformance suite against a store written only against the four calls of the original design.

``SeedDictStore`` implements ``get_object``, ``put_object``, ``delete_object`` and ``list_objects`` over a dict
and nothing else: :class:`objstore.ports.storage.SeedAdapter` derives heads, ranges, streams and listings from
them. The suite holds it to what its capabilities declare (tests needing more skip, naming the capability).
"""

from __future__ import annotations

import hashlib
import io
import threading

import pytest

from objstore.domain.errors import ObjectNotFound
from objstore.domain.keys import join_key, prefix_of
from objstore.domain.models import ListOptions, WriteOptions
from objstore.ports.storage import IObjectStorageAdapter, SeedAdapter
from objstore.testing.conformance import ObjectStoreConformance


class SeedDictStore(SeedAdapter):
    """A dict of full keys to bytes, reached only through the four seed calls."""

    name = "seed-dict"

    @property
    def location(self) -> str:
        return f"seed-dict://{id(self):x}"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._objects: dict[str, bytes] = {}

    def get_object(self, prefix: str, key: str) -> bytes:
        full = join_key(prefix, key)
        with self._lock:
            try:
                return self._objects[full]
            except KeyError:
                raise ObjectNotFound("no such object", key=full) from None

    def put_object(self, prefix: str, key: str, content: bytes) -> None:  # type: ignore[override]
        full = join_key(prefix, key)
        with self._lock:
            self._objects[full] = bytes(content)

    def delete_object(self, prefix: str, key: str) -> None:
        full = join_key(prefix, key)
        with self._lock:
            if self._objects.pop(full, None) is None:
                raise ObjectNotFound("no such object", key=full)

    def list_objects(self, prefix: str) -> list[str]:
        start = prefix_of(prefix)
        children: set[str] = set()
        with self._lock:
            for full in self._objects:
                if not full.startswith(start):
                    continue
                rest = full[len(start) :]
                children.add(start + rest.split("/", 1)[0] + "/" if "/" in rest else full)
        return sorted(children)


def test_the_seed_store_defines_only_the_four_seed_calls() -> None:
    own = {name for name in vars(SeedDictStore) if not name.startswith("_") and callable(vars(SeedDictStore)[name])}
    assert own == {"get_object", "put_object", "delete_object", "list_objects"}


def test_content_written_elsewhere_has_no_time_and_lists_as_it_heads() -> None:
    store = SeedDictStore()
    store.write_object("d", "mine", io.BytesIO(b"mine"), WriteOptions())
    store._objects["d/theirs"] = b"written by another process"  # the four calls know no times
    mine, theirs = store.head_object("d", "mine"), store.head_object("d", "theirs")
    assert mine.last_modified is not None
    assert theirs.last_modified is None
    assert (theirs.size, theirs.etag) == (
        26,
        hashlib.md5(b"written by another process", usedforsecurity=False).hexdigest(),
    )
    assert list(store.scan_objects("d", ListOptions())) == [mine, theirs]
    store._objects["d/mine"] = b"rewritten elsewhere"  # a time kept for other content is not given for this one
    assert store.head_object("d", "mine").last_modified is None


class TestSeedAdapterConformance(ObjectStoreConformance):
    @pytest.fixture
    def adapter(self) -> IObjectStorageAdapter:
        return SeedDictStore()
