"""Key, prefix and metadata validation; byte ranges."""

from __future__ import annotations

import posixpath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from objstore import InvalidKey, InvalidMetadata
from objstore.domain.keys import (
    MAX_KEY_BYTES,
    join_key,
    normalize_prefix,
    validate_content_type,
    validate_key,
    validate_metadata,
)
from objstore.domain.streams import resolve_range
from objstore.testing.hostile import HOSTILE_KEYS


def test_the_hostile_corpus_is_large_and_all_rejected() -> None:
    assert len(set(HOSTILE_KEYS)) >= 40
    for key in HOSTILE_KEYS:
        with pytest.raises(InvalidKey):
            validate_key(key)


@pytest.mark.parametrize(
    "key", ["a", "a/b/c.txt", "caf\u00e9", "with space", "a.b", "...", "x" * MAX_KEY_BYTES, "\U0001f600/\u200d"]
)
def test_valid_keys_are_unchanged(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [(None, ""), ("", ""), ("/", ""), ("//", ""), ("docs", "docs"), ("/docs/", "docs"), ("a/b/", "a/b")],
)
def test_prefix_normalization(prefix: str | None, expected: str) -> None:
    assert normalize_prefix(prefix) == expected


def test_join_validates_the_whole_key() -> None:
    assert join_key("docs", "a.txt") == "docs/a.txt"
    assert join_key("", "a.txt") == "a.txt"
    with pytest.raises(InvalidKey):
        join_key("d" * 600, "k" * 600)


def test_rejected_key_in_a_message_is_printable() -> None:
    with pytest.raises(InvalidKey) as caught:
        validate_key("a\x1b[2Jb")
    assert "\x1b" not in str(caught.value)


def test_metadata_rules() -> None:
    assert validate_metadata({"run_id": "7", "_x": "y"}) == {"run_id": "7", "_x": "y"}
    assert validate_metadata(None) == {}
    for bad in ({"A": "x"}, {"a-b": "x"}, {"a": "\u00e9"}, {"a": "x\n"}, {"a": 1}, {"a" * 129: "x"}, {"a": ""}):
        with pytest.raises(InvalidMetadata):
            validate_metadata(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidMetadata):
        validate_metadata({f"k{i}": "v" * 100 for i in range(30)})


def test_content_type_rules() -> None:
    assert validate_content_type("text/plain; charset=utf-8") == "text/plain; charset=utf-8"
    for bad in ("", "text/\u00e9", "a\nb", "x" * 300):
        with pytest.raises(InvalidMetadata):
            validate_content_type(bad)


@given(
    size=st.integers(0, 300),
    start=st.none() | st.integers(-400, 400),
    end=st.none() | st.integers(-400, 400),
)
def test_resolve_range_is_exactly_python_slicing(size: int, start: int | None, end: int | None) -> None:
    content = bytes(i % 251 for i in range(size))
    first, stop = resolve_range(start, end, size)
    assert 0 <= first <= stop <= size
    assert content[first:stop] == content[start:end]


@given(st.text(max_size=60))
def test_any_key_is_either_refused_or_safe(key: str) -> None:
    try:
        validate_key(key)
    except InvalidKey:
        return
    segments = key.split("/")
    assert "" not in segments
    assert ".." not in segments
    assert "." not in segments
    assert "\x00" not in key
    # A backslash is an ordinary character, and on a POSIX folder an accepted key stays inside its root.
    assert posixpath.normpath("/root/" + key).startswith("/root/")
    assert len(key.encode("utf-8")) <= MAX_KEY_BYTES


def test_prefixed_stream_gives_full_reads_from_a_short_reading_source() -> None:
    import io

    from objstore.adapters.transfer import PrefixedStream
    from objstore.testing.conformance import ShortReadStream

    content = bytes(range(256)) * 40
    stream = PrefixedStream(content[:100], ShortReadStream(content[100:], most=7))
    assert stream.read(50) == content[:50]
    assert stream.read(1000) == content[50:1050]  # 50 from the head, then 950 gathered from 7-byte reads
    assert stream.tell() == 1050
    assert stream.read() == content[1050:]
    assert stream.read(10) == b""
    assert PrefixedStream(b"", io.BytesIO(b"")).read(5) == b""
