"""The conformance suite: the contract every adapter passes.

Use it for your own adapter by subclassing :class:`ObjectStoreConformance` in a test module and providing one
fixture, ``adapter``, that returns a fresh adapter whose root is empty (a new folder, a random base prefix)::

    import pytest
    from objstore.testing import ObjectStoreConformance

    class TestMyStore(ObjectStoreConformance):
        @pytest.fixture
        def adapter(self, tmp_path):
            return MyAdapter(root=tmp_path)

Tests that need a capability the store does not declare are skipped, visibly, naming the capability.
"""

from __future__ import annotations

import hashlib
import io
import random
import threading
import time
import tracemalloc
import unicodedata
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from objstore.domain.errors import (
    InvalidKey,
    InvalidMetadata,
    NotSupported,
    ObjectAlreadyExists,
    ObjectNotFound,
    ObjectStorageError,
    PreconditionFailed,
)
from objstore.domain.models import Capabilities, DeleteResult, ObjectInfo, ReadOptions
from objstore.domain.service import ObjectStorageService
from objstore.ports.storage import IObjectStorageAdapter
from objstore.testing.hostile import BACKSLASH_KEYS, HOSTILE_KEYS, HOSTILE_PREFIXES

__all__ = ["ObjectStoreConformance", "PatternStream", "ShortReadStream", "require", "require_absent"]

MiB = 1024 * 1024
LARGE_OBJECT_BYTES = 256 * MiB
HEAP_BUDGET_BYTES = 32 * MiB


def require(store: ObjectStorageService, capability: str) -> None:
    """Skip the calling test, naming the capability, if the store does not declare it."""
    if not getattr(store.capabilities, capability):
        pytest.skip(f"capability {capability} not supported by the {store.adapter.name} store")


def require_absent(store: ObjectStorageService, capability: str) -> None:
    """Skip the calling test, naming the capability, if the store declares it (a test of its absence)."""
    if getattr(store.capabilities, capability):
        pytest.skip(f"capability {capability} is declared by the {store.adapter.name} store")


class PatternStream:
    """A readable stream of ``size`` pseudo-random bytes, made on the fly (bounded memory), with its SHA-256."""

    def __init__(self, size: int, seed: int = 0, chunk: int = MiB) -> None:
        self._left = size
        self._random = random.Random(seed)
        self._chunk = chunk
        self.sha256 = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        take = self._left if n is None or n < 0 else min(n, self._left)
        take = min(take, self._chunk)
        data = self._random.randbytes(take)
        self._left -= take
        self.sha256.update(data)
        return data


class ShortReadStream:
    """A non-seekable stream that returns fewer bytes than asked for, as sockets and pipes do."""

    def __init__(self, data: bytes, most: int = 7777) -> None:
        self._data = memoryview(data)
        self._pos = 0
        self._most = most

    def read(self, n: int = -1) -> bytes:
        take = self._most if n is None or n < 0 else min(n, self._most)
        chunk = bytes(self._data[self._pos : self._pos + take])
        self._pos += len(chunk)
        return chunk


def _measure_heap(operation: Callable[[], Any]) -> int:
    """Peak Python heap during ``operation`` above both what was held before and what is held after."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        operation()
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - max(before, after)


class ObjectStoreConformance:
    """The contract. Provide an ``adapter`` fixture returning a fresh adapter with an empty root."""

    @pytest.fixture
    def store(self, adapter: IObjectStorageAdapter) -> Iterator[ObjectStorageService]:
        service = ObjectStorageService(adapter)
        yield service
        leftovers = [info.key for info in service.iter_objects("")]
        if leftovers:
            result = service.delete_objects("", leftovers)
            assert result.ok, f"cleanup failed: {dict(result.errors)}"
        service.close()

    # --- round trips ----------------------------------------------------------------------------------------

    def test_the_location_names_the_store_as_a_url_without_secrets(self, store: ObjectStorageService) -> None:
        """What summaries and messages show for the store: a URL-like form, never a repr or a credential."""
        location = store.location
        assert "://" in location, location
        assert "Adapter(" not in location
        for secret in ("secret", "password", "token=", "AccountKey", "sig=", "@"):
            assert secret not in location, location
        assert location == store.adapter.location  # through every layer

    def test_put_then_get_returns_the_same_bytes(self, store: ObjectStorageService) -> None:
        store.put_object("docs", "a.txt", b"hello world")
        assert store.get_object("docs", "a.txt") == b"hello world"

    def test_get_returns_bytes(self, store: ObjectStorageService) -> None:
        store.put_object("", "k", bytearray(b"abc"))
        assert type(store.get_object("", "k")) is bytes

    def test_put_accepts_bytearray_and_memoryview(self, store: ObjectStorageService) -> None:
        store.put_object("p", "ba", bytearray(b"one"))
        store.put_object("p", "mv", memoryview(b"xxtwoxx")[2:5])
        assert store.get_object("p", "ba") == b"one"
        assert store.get_object("p", "mv") == b"two"

    def test_put_rejects_str_content(self, store: ObjectStorageService) -> None:
        with pytest.raises(TypeError):
            store.put_object("p", "k", "text")  # type: ignore[arg-type]
        assert not store.exists("p", "k")

    def test_put_overwrites(self, store: ObjectStorageService) -> None:
        store.put_object("p", "k", b"first version")
        store.put_object("p", "k", b"second")
        assert store.get_object("p", "k") == b"second"
        assert store.head_object("p", "k").size == 6

    def test_empty_object(self, store: ObjectStorageService) -> None:
        store.put_object("p", "empty", b"")
        assert store.get_object("p", "empty") == b""
        info = store.head_object("p", "empty")
        assert info.size == 0
        assert store.list_objects("p") == ["p/empty"]

    def test_binary_content_with_every_byte_value(self, store: ObjectStorageService) -> None:
        content = bytes(range(256)) * 64
        store.put_object("", "bin", content)
        assert store.get_object("", "bin") == content

    @pytest.mark.parametrize(
        "key",
        [
            "caf\u00e9.txt",
            "\u65e5\u672c\u8a9e/\u30d5\u30a1\u30a4\u30eb.txt",
            "emoji \U0001f600.bin",
            "\u0645\u0631\u062d\u0628\u0627.txt",
            "a b/c d.txt",
            "weird !$&'()*+,;=@[]{}~%^`#.txt",
            "q?x=1&y=2",
            "colon:2026-01-01T00:00:00Z.log",
            "...dots.../x",
            "-dash/_under/.hidden",
        ],
    )
    def test_unicode_and_unusual_keys_round_trip(self, store: ObjectStorageService, key: str) -> None:
        store.put_object("u", key, key.encode("utf-8"))
        assert store.get_object("u", key) == key.encode("utf-8")
        assert [info.key for info in store.iter_objects("u")] == [f"u/{key}"]

    @pytest.mark.parametrize("key", BACKSLASH_KEYS)
    def test_a_backslash_is_an_ordinary_key_character(self, store: ObjectStorageService, key: str) -> None:
        """Objects tools on Windows wrote (``reports\\2026.csv``) can be read, listed, copied and deleted; a store
        that would turn the backslash into ``/`` refuses such keys rather than write another name."""
        if not store.capabilities.backslash_in_keys:
            with pytest.raises(InvalidKey):
                store.put_object("bs", key, b"backslash")
            assert store.list_objects("") == []
            return
        store.put_object("bs", key, b"backslash")
        assert store.get_object("bs", key) == b"backslash"
        assert [info.key for info in store.iter_objects("bs")] == [f"bs/{key}"]
        assert store.list_objects("bs") == [f"bs/{key}"]
        store.copy_object("bs", key, "bs2", key)
        assert store.get_object("bs2", key) == b"backslash"
        assert store.delete_objects("bs2", [key]).ok
        store.delete_object("bs", key)
        assert not store.exists("bs", key)
        assert store.list_objects("") == []

    def test_nfc_and_nfd_keys_are_kept_exactly(self, store: ObjectStorageService) -> None:
        nfd = unicodedata.normalize("NFD", "r\u00e9sum\u00e9.txt")
        store.put_object("n", nfd, b"nfd")
        assert [info.key for info in store.iter_objects("n")] == [f"n/{nfd}"]
        assert store.get_object("n", nfd) == b"nfd"

    def test_keys_are_case_sensitive(self, store: ObjectStorageService) -> None:
        store.put_object("c", "File.txt", b"upper")
        store.put_object("c", "file.txt", b"lower")
        assert store.get_object("c", "File.txt") == b"upper"
        assert store.get_object("c", "file.txt") == b"lower"

    def test_longest_valid_key(self, store: ObjectStorageService) -> None:
        limit = store.capabilities.max_key_bytes
        part = "s" * min(100, store.capabilities.max_segment_bytes or 100)
        key = "/".join([part] * (limit // 101 - 1))
        key = key + "/" + "t" * (limit - len(key) - 1)
        assert len(key.encode()) == limit
        store.put_object("", key, b"long")
        assert store.get_object("", key) == b"long"
        with pytest.raises(InvalidKey):
            store.put_object("", key + "u", b"too long")
        assert [info.key for info in store.iter_objects("")] == [key]

    def test_nested_prefixes(self, store: ObjectStorageService) -> None:
        store.put_object("a/b/c", "d/e.txt", b"deep")
        assert store.get_object("a", "b/c/d/e.txt") == b"deep"
        assert store.get_object("", "a/b/c/d/e.txt") == b"deep"
        assert store.get_object("a/b/c/d", "e.txt") == b"deep"

    def test_prefix_slashes_are_ignored(self, store: ObjectStorageService) -> None:
        store.put_object("/docs/", "a.txt", b"x")
        assert store.get_object("docs", "a.txt") == b"x"
        assert store.get_object("docs/", "a.txt") == b"x"
        assert store.get_object("/docs", "a.txt") == b"x"
        assert store.list_objects("/docs/") == ["docs/a.txt"]

    def test_root_prefix_spellings(self, store: ObjectStorageService) -> None:
        store.put_object("", "top.txt", b"1")
        assert store.get_object("/", "top.txt") == b"1"
        assert store.get_object("", "top.txt") == b"1"
        assert store.list_objects("/") == store.list_objects("") == ["top.txt"]

    # --- missing objects ------------------------------------------------------------------------------------

    def test_get_missing_raises_object_not_found(self, store: ObjectStorageService) -> None:
        with pytest.raises(ObjectNotFound) as caught:
            store.get_object("p", "missing")
        assert isinstance(caught.value, FileNotFoundError)
        assert isinstance(caught.value, ObjectStorageError)

    def test_not_found_error_carries_context(self, store: ObjectStorageService) -> None:
        with pytest.raises(ObjectNotFound) as caught:
            store.get_object("p", "missing")
        error = caught.value
        assert error.operation == "get_object"
        assert error.adapter == store.adapter.name
        assert error.key == "p/missing"
        assert error.retryable is False
        assert "p/missing" in str(error)

    def test_head_missing_raises_object_not_found(self, store: ObjectStorageService) -> None:
        with pytest.raises(ObjectNotFound):
            store.head_object("p", "missing")

    def test_delete_missing_raises_object_not_found(self, store: ObjectStorageService) -> None:
        with pytest.raises(ObjectNotFound):
            store.delete_object("p", "missing")

    def test_a_prefix_is_not_an_object(self, store: ObjectStorageService) -> None:
        store.put_object("dir", "child", b"x")
        with pytest.raises(ObjectNotFound):
            store.get_object("", "dir")
        with pytest.raises(ObjectNotFound):
            store.head_object("", "dir")
        assert not store.exists("", "dir")

    def test_get_below_an_object_raises_not_found(self, store: ObjectStorageService) -> None:
        store.put_object("", "file", b"x")
        with pytest.raises(ObjectNotFound):
            store.get_object("file", "below")

    def test_exists(self, store: ObjectStorageService) -> None:
        assert store.exists("p", "k") is False
        store.put_object("p", "k", b"x")
        assert store.exists("p", "k") is True

    # --- delete ---------------------------------------------------------------------------------------------

    def test_delete_then_get_raises_not_found(self, store: ObjectStorageService) -> None:
        store.put_object("p", "k", b"x")
        store.delete_object("p", "k")
        with pytest.raises(ObjectNotFound):
            store.get_object("p", "k")

    def test_delete_removes_only_that_object(self, store: ObjectStorageService) -> None:
        store.put_object("p", "k", b"x")
        store.put_object("p", "k2", b"y")
        store.put_object("p", "k/child", b"z") if store.capabilities.key_and_prefix_coexist else None
        store.delete_object("p", "k")
        assert store.get_object("p", "k2") == b"y"

    def test_delete_of_last_object_removes_the_prefix_from_listings(self, store: ObjectStorageService) -> None:
        store.put_object("a/b/c", "only.txt", b"x")
        store.put_object("", "keep.txt", b"y")
        store.delete_object("a/b/c", "only.txt")
        assert store.list_objects("") == ["keep.txt"]
        assert store.list_objects("a") == []

    # --- listing --------------------------------------------------------------------------------------------

    def test_list_objects_immediate_children_and_subprefixes(self, store: ObjectStorageService) -> None:
        for key in ("a.txt", "b.txt", "sub/c.txt", "sub/deeper/d.txt", "other/e.txt"):
            store.put_object("docs", key, b"x")
        store.put_object("", "outside.txt", b"x")
        assert store.list_objects("docs") == ["docs/a.txt", "docs/b.txt", "docs/other/", "docs/sub/"]
        assert store.list_objects("docs/sub") == ["docs/sub/c.txt", "docs/sub/deeper/"]

    def test_list_objects_root(self, store: ObjectStorageService) -> None:
        store.put_object("", "z.txt", b"x")
        store.put_object("docs", "a.txt", b"x")
        assert store.list_objects("/") == ["docs/", "z.txt"]

    def test_list_objects_absent_prefix_is_empty(self, store: ObjectStorageService) -> None:
        assert store.list_objects("never/created") == []
        assert list(store.iter_objects("never/created")) == []

    def test_list_objects_on_an_empty_store(self, store: ObjectStorageService) -> None:
        assert store.list_objects("") == []
        assert list(store.iter_objects()) == []

    def test_list_objects_of_an_object_name_is_empty(self, store: ObjectStorageService) -> None:
        store.put_object("", "plain.txt", b"x")
        assert store.list_objects("plain.txt") == []

    def test_prefix_is_a_folder_not_a_string_prefix(self, store: ObjectStorageService) -> None:
        store.put_object("ab", "x", b"1")
        store.put_object("a", "y", b"2")
        store.put_object("", "abc", b"3")
        assert store.list_objects("a") == ["a/y"]
        assert [info.key for info in store.iter_objects("a")] == ["a/y"]

    def test_list_objects_is_sorted(self, store: ObjectStorageService) -> None:
        names = ["b", "a", "C", "a-b", "a_b", "a0", "\u00e9", "z", "A"]
        for name in names:
            store.put_object("s", name, b"x")
        assert store.list_objects("s") == [f"s/{name}" for name in sorted(names)]

    def test_recursive_listing_is_in_code_point_order(self, store: ObjectStorageService) -> None:
        keys = (
            ["a-c", "a/b", "a.d", "a0", "b", "a/b-c/d", "a/b/c"]
            if store.capabilities.key_and_prefix_coexist
            else [
                "a-c",
                "a/b",
                "a.d",
                "a0",
                "b",
                "a/c/d",
                "a/c-e",
            ]
        )
        for key in keys:
            store.put_object("", key, b"x")
        assert [info.key for info in store.iter_objects("")] == sorted(keys)

    def test_iter_objects_recursive_returns_object_info(self, store: ObjectStorageService) -> None:
        store.put_object("r", "one", b"1")
        store.put_object("r", "sub/two", b"22")
        infos = list(store.iter_objects("r"))
        assert [(info.key, info.size, info.is_prefix) for info in infos] == [
            ("r/one", 1, False),
            ("r/sub/two", 2, False),
        ]
        assert all(isinstance(info, ObjectInfo) and info.etag for info in infos)

    def test_iter_objects_non_recursive_includes_prefix_entries(self, store: ObjectStorageService) -> None:
        store.put_object("r", "one", b"1")
        store.put_object("r", "sub/two", b"22")
        infos = list(store.iter_objects("r", recursive=False))
        assert [(info.key, info.is_prefix) for info in infos] == [("r/one", False), ("r/sub/", True)]

    def test_iter_objects_is_lazy(self, store: ObjectStorageService) -> None:
        store.put_object("", "x", b"1")
        iterator = store.iter_objects("")
        assert isinstance(iterator, Iterator)
        assert next(iterator).key == "x"

    def test_listing_pages_give_every_key_once(self, store: ObjectStorageService) -> None:
        keys = [f"k{index:03d}" for index in range(53)]
        for key in keys:
            store.put_object("pages", key, b"x")
        listed = [info.key for info in store.iter_objects("pages", page_size=7)]
        assert listed == [f"pages/{key}" for key in keys]
        listed_flat = store.list_objects("pages")
        assert listed_flat == [f"pages/{key}" for key in keys]

    def test_listing_many_keys(self, store: ObjectStorageService) -> None:
        keys = sorted(f"many/{index:05d}" for index in range(1234))
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda key: store.put_object("", key, b""), keys))
        assert [info.key for info in store.iter_objects("many")] == keys
        assert len(store.list_objects("many")) == 1234

    def test_listing_reports_sizes_and_recent_times(self, store: ObjectStorageService) -> None:
        before = datetime.now(timezone.utc) - timedelta(minutes=5)
        store.put_object("t", "k", b"12345")
        (info,) = list(store.iter_objects("t"))
        assert info.size == 5
        assert info.last_modified is not None
        assert before <= info.last_modified <= datetime.now(timezone.utc) + timedelta(minutes=5)

    # --- metadata -------------------------------------------------------------------------------------------

    def test_head_returns_size_etag_and_time(self, store: ObjectStorageService) -> None:
        store.put_object("h", "k", b"abcdef")
        info = store.head_object("h", "k")
        assert info.key == "h/k"
        assert info.size == 6
        assert info.etag
        assert not info.etag.startswith('"')
        assert info.last_modified is not None
        assert info.last_modified.tzinfo is not None

    def test_etag_changes_when_content_changes(self, store: ObjectStorageService) -> None:
        store.put_object("h", "k", b"one")
        first = store.head_object("h", "k").etag
        store.put_object("h", "k", b"two")
        assert store.head_object("h", "k").etag != first

    def test_listing_and_head_agree_on_etag_and_size(self, store: ObjectStorageService) -> None:
        store.put_object("h", "k", b"content")
        (listed,) = list(store.iter_objects("h"))
        head = store.head_object("h", "k")
        assert (listed.etag, listed.size) == (head.etag, head.size)

    def test_content_type_is_kept(self, store: ObjectStorageService) -> None:
        require(store, "user_metadata")
        store.put_object("h", "data.bin", b"{}", content_type="application/json")
        assert store.head_object("h", "data.bin").content_type == "application/json"

    def test_content_type_is_guessed_from_the_extension(self, store: ObjectStorageService) -> None:
        require(store, "user_metadata")
        store.put_object("h", "page.html", b"<p>")
        store.put_object("h", "blob", b"\x00")
        assert store.head_object("h", "page.html").content_type == "text/html"
        assert store.head_object("h", "blob").content_type == "application/octet-stream"

    def test_user_metadata_round_trips(self, store: ObjectStorageService) -> None:
        require(store, "user_metadata")
        metadata = {"origin": "camera-7", "run_id": "42", "quoted": 'a "b" =;,'}
        store.put_object("h", "k", b"x", metadata=metadata)
        assert dict(store.head_object("h", "k").metadata) == metadata

    def test_overwrite_replaces_metadata(self, store: ObjectStorageService) -> None:
        require(store, "user_metadata")
        store.put_object("h", "k", b"x", metadata={"a": "1"})
        store.put_object("h", "k", b"y")
        assert dict(store.head_object("h", "k").metadata) == {}

    @pytest.mark.parametrize(
        "metadata",
        [
            {"Upper": "x"},
            {"has-dash": "x"},
            {"1digit": "x"},
            {"k": "caf\u00e9"},
            {"k": " padded "},
            {"k": "a\nb"},
            {"k": ""},
            {"objstore_sha256": "x"},
        ],
    )
    def test_metadata_that_not_every_store_keeps_is_refused(
        self, store: ObjectStorageService, metadata: dict[str, str]
    ) -> None:
        with pytest.raises(InvalidMetadata):
            store.put_object("h", "k", b"x", metadata=metadata)
        assert not store.exists("h", "k")

    def test_checksum_sha256_is_reported(self, store: ObjectStorageService) -> None:
        require(store, "checksum_sha256")
        store.put_object("h", "k", b"checksum me")
        assert store.head_object("h", "k").checksum_sha256 == hashlib.sha256(b"checksum me").hexdigest()

    def test_object_info_is_immutable(self, store: ObjectStorageService) -> None:
        store.put_object("h", "k", b"x", metadata={"a": "1"} if store.capabilities.user_metadata else None)
        info = store.head_object("h", "k")
        with pytest.raises(AttributeError):
            info.size = 3  # type: ignore[misc]
        with pytest.raises(TypeError):
            info.metadata["b"] = "2"  # type: ignore[index]

    def test_capabilities_are_declared(self, store: ObjectStorageService) -> None:
        assert isinstance(store.capabilities, Capabilities)

    # --- streaming and ranges -------------------------------------------------------------------------------

    def test_stream_read_whole_object(self, store: ObjectStorageService) -> None:
        content = bytes(range(256)) * 1000
        store.put_object("s", "k", content)
        with store.get_object_stream("s", "k") as stream:
            assert stream.read() == content

    def test_stream_read_in_chunks(self, store: ObjectStorageService) -> None:
        content = random.Random(1).randbytes(3 * MiB + 17)
        store.put_object("s", "k", content)
        parts = []
        with store.get_object_stream("s", "k") as stream:
            while chunk := stream.read(65536):
                parts.append(chunk)
        assert b"".join(parts) == content

    @pytest.mark.parametrize(
        ("start", "end"),
        [
            (0, 10),
            (5, 15),
            (10, None),
            (None, 5),
            (-4, None),
            (-10, -2),
            (3, 3),
            (8, 4),
            (90, 200),
            (0, 1000),
        ],
    )
    def test_ranged_reads_follow_python_slices(
        self, store: ObjectStorageService, start: int | None, end: int | None
    ) -> None:
        require(store, "ranged_reads")
        content = bytes(range(100))
        store.put_object("s", "k", content)
        with store.get_object_stream("s", "k", start, end) as stream:
            assert stream.read() == content[start:end]

    def test_ranged_read_of_empty_object(self, store: ObjectStorageService) -> None:
        store.put_object("s", "empty", b"")
        with store.get_object_stream("s", "empty", 0, 10) as stream:
            assert stream.read() == b""

    def test_stream_of_missing_object_raises_on_open(self, store: ObjectStorageService) -> None:
        with pytest.raises(ObjectNotFound), store.get_object_stream("s", "missing"):
            pass

    def test_put_stream_returns_info(self, store: ObjectStorageService) -> None:
        info = store.put_object_stream("s", "k", io.BytesIO(b"streamed"), content_type="text/plain")
        assert info.key == "s/k"
        assert info.size == 8
        assert info.etag == store.head_object("s", "k").etag
        assert store.get_object("s", "k") == b"streamed"

    def test_put_stream_keeps_metadata(self, store: ObjectStorageService) -> None:
        require(store, "user_metadata")
        store.put_object_stream("s", "k", io.BytesIO(b"x"), content_type="image/png", metadata={"a": "b"})
        info = store.head_object("s", "k")
        assert (info.content_type, dict(info.metadata)) == ("image/png", {"a": "b"})

    def test_put_stream_from_short_reads(self, store: ObjectStorageService) -> None:
        content = random.Random(2).randbytes(2 * MiB + 12345)
        store.put_object_stream("s", "k", ShortReadStream(content))
        assert store.get_object("s", "k") == content

    def test_put_stream_of_empty_stream(self, store: ObjectStorageService) -> None:
        info = store.put_object_stream("s", "k", io.BytesIO(b""))
        assert info.size == 0
        assert store.get_object("s", "k") == b""

    def test_put_stream_multi_chunk(self, store: ObjectStorageService) -> None:
        source = PatternStream(12 * MiB + 3, seed=3)
        store.put_object_stream("s", "big", source)
        digest = hashlib.sha256()
        with store.get_object_stream("s", "big") as stream:
            while chunk := stream.read(MiB):
                digest.update(chunk)
        assert digest.hexdigest() == source.sha256.hexdigest()
        assert store.head_object("s", "big").size == 12 * MiB + 3

    def test_put_stream_rejects_non_streams(self, store: ObjectStorageService) -> None:
        with pytest.raises(TypeError):
            store.put_object_stream("s", "k", b"bytes are not a stream")  # type: ignore[arg-type]
        assert not store.exists("s", "k")

    def test_failing_source_stream_leaves_no_object(self, store: ObjectStorageService) -> None:
        store.put_object("s", "k", b"old")

        class Broken:
            sent = 0

            def read(self, n: int = -1) -> bytes:
                self.sent += 1
                if self.sent > 3:
                    raise OSError("source disk failed")
                return b"x" * 1000

        with pytest.raises(ObjectStorageError):
            store.put_object_stream("s", "k", Broken())
        with pytest.raises(ObjectStorageError):
            store.put_object_stream("s", "new", Broken())
        assert store.get_object("s", "k") == b"old"
        assert not store.exists("s", "new")

    def test_large_stream_in_bounded_memory(self, store: ObjectStorageService) -> None:
        """A 256 MiB streamed put and get never holds more than 32 MiB of Python heap beyond what stays stored."""
        require_absent(store, "whole_object_transfers")  # such a store holds whole objects in memory by design
        source = PatternStream(LARGE_OBJECT_BYTES, seed=4)
        put_overhead = _measure_heap(lambda: store.put_object_stream("big", "blob.bin", source))
        digest = hashlib.sha256()

        def read_back() -> None:
            with store.get_object_stream("big", "blob.bin") as stream:
                while chunk := stream.read(MiB):
                    digest.update(chunk)

        get_overhead = _measure_heap(read_back)
        assert digest.hexdigest() == source.sha256.hexdigest()
        assert put_overhead < HEAP_BUDGET_BYTES, f"put used {put_overhead / MiB:.1f} MiB of heap"
        assert get_overhead < HEAP_BUDGET_BYTES, f"get used {get_overhead / MiB:.1f} MiB of heap"

    # --- copy -----------------------------------------------------------------------------------------------

    def test_copy_object(self, store: ObjectStorageService) -> None:
        store.put_object("src", "k", b"payload")
        store.copy_object("src", "k", "dst", "k2")
        assert store.get_object("dst", "k2") == b"payload"
        assert store.get_object("src", "k") == b"payload"

    def test_copy_keeps_content_type_and_metadata(self, store: ObjectStorageService) -> None:
        require(store, "user_metadata")
        store.put_object("src", "k", b"x", content_type="text/csv", metadata={"m": "v"})
        store.copy_object("src", "k", "dst", "k")
        info = store.head_object("dst", "k")
        assert (info.content_type, dict(info.metadata)) == ("text/csv", {"m": "v"})

    def test_copy_overwrites_destination(self, store: ObjectStorageService) -> None:
        store.put_object("", "a", b"new")
        store.put_object("", "b", b"old")
        store.copy_object("", "a", "", "b")
        assert store.get_object("", "b") == b"new"

    def test_copy_onto_itself_keeps_the_object(self, store: ObjectStorageService) -> None:
        store.put_object("", "same", b"content")
        store.copy_object("", "same", "/", "same")
        assert store.get_object("", "same") == b"content"

    def test_copy_missing_source_raises_not_found(self, store: ObjectStorageService) -> None:
        with pytest.raises(ObjectNotFound):
            store.copy_object("", "missing", "", "dst")
        assert not store.exists("", "dst")

    # --- shareable links ---------------------------------------------------------------------------------------

    def test_presigned_get_url_downloads_without_credentials(self, store: ObjectStorageService) -> None:
        require(store, "presigned_urls")
        store.put_object("share", "doc.txt", b"shared content")
        url = store.presign_url("share", "doc.txt", expires_in=300)
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - a URL the store made
            assert response.read() == b"shared content"

    def test_presigned_put_url_uploads_without_credentials(self, store: ObjectStorageService) -> None:
        require(store, "presigned_urls")
        url = store.presign_url("share", "upload.bin", expires_in=300, method="PUT")
        # Azure requires the blob type on uploads through a SAS URL; the other stores ignore the header.
        request = urllib.request.Request(  # noqa: S310
            url, data=b"uploaded", method="PUT", headers={"x-ms-blob-type": "BlockBlob"}
        )
        with urllib.request.urlopen(request, timeout=30):  # noqa: S310
            pass
        assert store.get_object("share", "upload.bin") == b"uploaded"

    def test_presign_without_the_capability_is_not_supported(self, store: ObjectStorageService) -> None:
        require_absent(store, "presigned_urls")
        with pytest.raises(NotSupported):
            store.presign_url("share", "doc.txt")

    @pytest.mark.parametrize(("expires_in", "method"), [(0, "GET"), (8 * 24 * 3600, "GET"), (60, "DELETE")])
    def test_presign_arguments_are_checked(self, store: ObjectStorageService, expires_in: int, method: str) -> None:
        with pytest.raises(ValueError):
            store.presign_url("share", "doc.txt", expires_in=expires_in, method=method)

    # --- batch delete ---------------------------------------------------------------------------------------

    def test_delete_objects(self, store: ObjectStorageService) -> None:
        for key in ("a", "b", "c/d"):
            store.put_object("batch", key, b"x")
        result = store.delete_objects("batch", ["a", "c/d"])
        assert isinstance(result, DeleteResult)
        assert sorted(result.deleted) == ["a", "c/d"]
        assert result.ok
        assert store.list_objects("batch") == ["batch/b"]

    def test_delete_objects_counts_absent_keys_as_deleted(self, store: ObjectStorageService) -> None:
        result = store.delete_objects("batch", ["never", "existed"])
        assert sorted(result.deleted) == ["existed", "never"]
        assert result.ok

    def test_delete_objects_reports_invalid_keys_and_deletes_the_rest(self, store: ObjectStorageService) -> None:
        store.put_object("batch", "good", b"x")
        result = store.delete_objects("batch", ["good", "../escape", "a//b"])
        assert list(result.deleted) == ["good"]
        assert set(result.errors) == {"../escape", "a//b"}
        assert all(isinstance(error, InvalidKey) for error in result.errors.values())
        assert not store.exists("batch", "good")

    def test_delete_objects_with_no_keys(self, store: ObjectStorageService) -> None:
        result = store.delete_objects("batch", [])
        assert result.deleted == ()
        assert result.ok

    def test_delete_objects_rejects_a_single_string(self, store: ObjectStorageService) -> None:
        with pytest.raises(TypeError):
            store.delete_objects("batch", "abc")

    def test_delete_objects_more_than_one_request_holds(self, store: ObjectStorageService) -> None:
        keys = [f"{index:04d}" for index in range(1500)]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda key: store.put_object("bulk", key, b""), keys))
        result = store.delete_objects("bulk", iter(keys))
        assert sorted(result.deleted) == keys
        assert result.ok
        assert store.list_objects("bulk") == []

    # --- conditional puts -----------------------------------------------------------------------------------

    def test_create_only_put_when_absent(self, store: ObjectStorageService) -> None:
        require(store, "conditional_put")
        store.put_object("c", "k", b"first", if_none_match="*")
        assert store.get_object("c", "k") == b"first"

    def test_create_only_put_when_present_raises_and_keeps_content(self, store: ObjectStorageService) -> None:
        require(store, "conditional_put")
        store.put_object("c", "k", b"first")
        with pytest.raises(ObjectAlreadyExists) as caught:
            store.put_object("c", "k", b"second", if_none_match="*")
        assert isinstance(caught.value, FileExistsError)
        assert store.get_object("c", "k") == b"first"

    def test_create_only_stream_put_when_present_raises(self, store: ObjectStorageService) -> None:
        require(store, "conditional_put")
        store.put_object("c", "k", b"first")
        with pytest.raises(ObjectAlreadyExists):
            store.put_object_stream("c", "k", io.BytesIO(b"second"), if_none_match="*")
        assert store.get_object("c", "k") == b"first"

    def test_create_only_put_of_a_large_stream_in_parts(self, store: ObjectStorageService) -> None:
        """A create-only write big enough to go in parts or blocks (above every store's single-request size)."""
        require(store, "conditional_put")
        first = PatternStream(9 * MiB, seed=3)
        store.put_object_stream("c", "big", first, if_none_match="*")
        with store.get_object_stream("c", "big") as stream:
            assert hashlib.sha256(stream.read()).hexdigest() == first.sha256.hexdigest()
        with pytest.raises(ObjectAlreadyExists):
            store.put_object_stream("c", "big", PatternStream(9 * MiB, seed=4), if_none_match="*")
        assert store.head_object("c", "big").size == 9 * MiB

    def test_if_match_with_current_etag_writes(self, store: ObjectStorageService) -> None:
        require(store, "conditional_put")
        store.put_object("c", "k", b"v1")
        etag = store.head_object("c", "k").etag
        assert etag is not None
        store.put_object("c", "k", b"v2", if_match=etag)
        assert store.get_object("c", "k") == b"v2"

    def test_if_match_with_stale_etag_raises_and_keeps_content(self, store: ObjectStorageService) -> None:
        require(store, "conditional_put")
        store.put_object("c", "k", b"v1")
        stale = store.head_object("c", "k").etag
        assert stale is not None
        store.put_object("c", "k", b"v2")
        with pytest.raises(PreconditionFailed):
            store.put_object("c", "k", b"v3", if_match=stale)
        assert store.get_object("c", "k") == b"v2"

    def test_if_match_on_missing_object_raises_precondition_failed(self, store: ObjectStorageService) -> None:
        require(store, "conditional_put")
        with pytest.raises(PreconditionFailed):
            store.put_object("c", "missing", b"x", if_match="0123456789abcdef")
        assert not store.exists("c", "missing")

    def test_if_match_accepts_a_quoted_etag(self, store: ObjectStorageService) -> None:
        require(store, "conditional_put")
        store.put_object("c", "k", b"v1")
        etag = store.head_object("c", "k").etag
        store.put_object("c", "k", b"v2", if_match=f'"{etag}"')
        assert store.get_object("c", "k") == b"v2"

    @pytest.mark.parametrize(
        "conditions", [{"if_none_match": "etag"}, {"if_none_match": "*", "if_match": "x"}, {"if_match": ""}]
    )
    def test_malformed_conditions_are_refused(self, store: ObjectStorageService, conditions: dict[str, str]) -> None:
        with pytest.raises(ValueError):
            store.put_object("c", "k", b"x", **conditions)  # type: ignore[arg-type]
        assert not store.exists("c", "k")

    def test_concurrent_create_only_puts_have_exactly_one_winner(self, store: ObjectStorageService) -> None:
        require(store, "conditional_put")
        barrier = threading.Barrier(8)

        def attempt(index: int) -> bool:
            barrier.wait()
            try:
                store.put_object("race", "lock", str(index).encode(), if_none_match="*")
            except ObjectAlreadyExists:
                return False
            return True

        with ThreadPoolExecutor(8) as pool:
            outcomes = list(pool.map(attempt, range(8)))
        assert outcomes.count(True) == 1
        assert store.get_object("race", "lock") == str(outcomes.index(True)).encode()

    def test_concurrent_if_match_updates_lose_nothing(self, store: ObjectStorageService) -> None:
        require(store, "conditional_put")
        store.put_object("race", "counter", b"0")

        def increment(_: int) -> int:
            conflicts = 0
            while True:
                info = store.head_object("race", "counter")
                value = int(store.get_object("race", "counter"))
                if store.head_object("race", "counter").etag != info.etag:
                    conflicts += 1
                    continue
                try:
                    store.put_object("race", "counter", str(value + 1).encode(), if_match=info.etag)
                except PreconditionFailed:
                    conflicts += 1
                    continue
                return conflicts

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(increment, range(20)))
        assert store.get_object("race", "counter") == b"20"

    def test_reads_racing_overwrites_return_one_whole_version(self, store: ObjectStorageService) -> None:
        """A read that overlaps writes of other sizes returns exactly one version: never torn, never cut short."""
        versions = [bytes([n]) * size for n, size in enumerate((1, 3_000, 70_000, 300_000, 5, 150_000))]
        store.put_object("race", "versions", versions[0])
        stop = threading.Event()

        def write() -> None:
            n = 0
            while not stop.is_set():
                n += 1
                store.put_object("race", "versions", versions[n % len(versions)])

        def read(_: int) -> int:
            whole = 0
            for _ in range(15):
                try:
                    content = store.get_object("race", "versions")
                    assert content in versions, f"a torn read: {len(content)} bytes of {set(content[:64])}"
                    with store.get_object_stream("race", "versions") as stream:
                        assert stream.read() in versions
                    whole += 1
                except ObjectStorageError as exc:
                    # A store may answer "replaced while being read, try again": retryable, never torn.
                    if not exc.retryable:
                        raise
            return whole

        writer = threading.Thread(target=write)
        writer.start()
        try:
            with ThreadPoolExecutor(3) as pool:
                whole = sum(pool.map(read, range(3)))
        finally:
            stop.set()
            writer.join()
        assert whole > 0  # the readers did get whole versions, not only refusals

    def test_reads_racing_a_writer_of_large_objects_always_return_one_whole_version(
        self, store: ObjectStorageService
    ) -> None:
        """Under a writer replacing an 8 MiB object as fast as it can, every read returns one whole version.

        Reads of objects larger than one request (chunked downloads) are where a store either pins the version
        it started or loses the race. No error is tolerated: a store may restart a read that lost the race
        before its first byte, within its documented attempts, but a loop of writers must not exhaust them.
        """
        sizes = (8 * MiB, 8 * MiB + 1, 6 * MiB + 12_345, 9 * MiB - 7)
        versions = [random.Random(n).randbytes(size) for n, size in enumerate(sizes)]
        digests = {hashlib.sha256(version).hexdigest(): n for n, version in enumerate(versions)}
        store.put_object("race", "large", versions[0])
        stop = threading.Event()
        writes = [0]

        def write() -> None:
            n = 0
            while not stop.is_set():
                n += 1
                store.put_object("race", "large", versions[n % len(versions)])
                writes[0] += 1

        def check(content: bytes, how: str) -> None:
            version = digests.get(hashlib.sha256(content).hexdigest())
            assert version is not None, f"{how} returned {len(content)} bytes that are no version written (torn)"

        def read(_: int) -> None:
            for _ in range(4):
                check(store.get_object("race", "large"), "get_object")
                with store.get_object_stream("race", "large") as stream:
                    pieces = []
                    while piece := stream.read(MiB):  # a slow consumer: the writer replaces the object meanwhile
                        pieces.append(piece)
                        time.sleep(0.01)
                check(b"".join(pieces), "get_object_stream")

        writer = threading.Thread(target=write)
        writer.start()
        try:
            with ThreadPoolExecutor(3) as pool:
                list(pool.map(read, range(3)))
            written_while_reading = writes[0]
        finally:
            stop.set()
            writer.join()
        assert written_while_reading >= 3, "the writer hardly ran: the race was not exercised"

    def test_a_read_describes_the_version_it_reads(self, store: ObjectStorageService) -> None:
        """``open_object`` gives the object's key, whole size and etag with the stream: layers pin a resumed
        read to that version without asking the store first."""
        store.put_object("tags", "k", b"first version")
        store.put_object("tags", "k", b"second version")
        head = store.head_object("tags", "k")
        with store.adapter.open_object("tags", "k", ReadOptions()) as opened:
            assert opened.stream.read() == b"second version"
        assert (opened.info.key, opened.info.size, opened.info.etag) == ("tags/k", 14, head.etag)
        with store.adapter.open_object("tags", "k", ReadOptions(7, 10)) as ranged:
            assert ranged.stream.read() == b"ver"
        assert (ranged.info.key, ranged.info.size, ranged.info.etag) == ("tags/k", 14, head.etag)

    # --- keys and prefixes that collide ---------------------------------------------------------------------

    def test_object_and_prefix_of_the_same_name(self, store: ObjectStorageService) -> None:
        store.put_object("", "name", b"object")
        if store.capabilities.key_and_prefix_coexist:
            store.put_object("name", "child", b"child")
            assert store.get_object("", "name") == b"object"
            assert store.get_object("name", "child") == b"child"
        else:
            with pytest.raises(ObjectAlreadyExists):
                store.put_object("name", "child", b"child")
            assert store.get_object("", "name") == b"object"

    def test_prefix_then_object_of_the_same_name(self, store: ObjectStorageService) -> None:
        store.put_object("name", "child", b"child")
        if store.capabilities.key_and_prefix_coexist:
            store.put_object("", "name", b"object")
            assert store.get_object("", "name") == b"object"
        else:
            with pytest.raises(ObjectAlreadyExists):
                store.put_object("", "name", b"object")
        assert store.get_object("name", "child") == b"child"

    # --- hostile input --------------------------------------------------------------------------------------

    @pytest.mark.parametrize("key", HOSTILE_KEYS, ids=[ascii(key)[:40] for key in HOSTILE_KEYS])
    def test_hostile_key_is_refused_and_nothing_is_written(self, store: ObjectStorageService, key: str) -> None:
        attempts: list[Callable[[], Any]] = [
            lambda: store.put_object("", key, b"pwned"),
            lambda: store.put_object("safe", key, b"pwned"),
            lambda: store.put_object_stream("", key, io.BytesIO(b"pwned")),
            lambda: store.get_object("", key),
            lambda: store.head_object("", key),
            lambda: store.exists("", key),
            lambda: store.delete_object("", key),
            lambda: store.copy_object("", key, "", "copy"),
            lambda: store.copy_object("", "copy", "", key),
        ]
        for attempt in attempts:
            with pytest.raises(InvalidKey):
                attempt()
        assert list(store.iter_objects("")) == []

    @pytest.mark.parametrize("prefix", HOSTILE_PREFIXES, ids=[ascii(p) for p in HOSTILE_PREFIXES])
    def test_hostile_prefix_is_refused(self, store: ObjectStorageService, prefix: str) -> None:
        with pytest.raises(InvalidKey):
            store.put_object(prefix, "k", b"pwned")
        with pytest.raises(InvalidKey):
            store.list_objects(prefix)
        with pytest.raises(InvalidKey):
            list(store.iter_objects(prefix))
        assert list(store.iter_objects("")) == []

    def test_invalid_key_is_a_value_error_with_context(self, store: ObjectStorageService) -> None:
        with pytest.raises(InvalidKey) as caught:
            store.put_object("p", "../x", b"x")
        assert isinstance(caught.value, ValueError)
        assert caught.value.operation == "put_object"
        assert caught.value.adapter == store.adapter.name

    def test_non_string_keys_are_refused(self, store: ObjectStorageService) -> None:
        with pytest.raises(InvalidKey):
            store.put_object("p", 42, b"x")  # type: ignore[arg-type]
        with pytest.raises(InvalidKey):
            store.get_object(None, b"k")  # type: ignore[arg-type]

    # --- concurrency ----------------------------------------------------------------------------------------

    def test_concurrent_writers_and_readers(self, store: ObjectStorageService) -> None:
        def work(worker: int) -> None:
            for index in range(20):
                key = f"w{worker}/{index}"
                content = f"{worker}:{index}".encode() * (index + 1)
                store.put_object("conc", key, content)
                assert store.get_object("conc", key) == content
                if index % 3 == 0:
                    store.delete_object("conc", key)

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(work, range(8)))
        remaining = [info.key for info in store.iter_objects("conc")]
        expected = sorted(f"conc/w{w}/{i}" for w in range(8) for i in range(20) if i % 3)
        assert remaining == expected

    def test_same_key_written_concurrently_holds_one_whole_version(self, store: ObjectStorageService) -> None:
        versions = [bytes([index]) * (64 * 1024) for index in range(8)]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda content: store.put_object("conc", "same", content), versions))
        assert store.get_object("conc", "same") in versions
