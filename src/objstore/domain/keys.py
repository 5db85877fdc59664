"""Keys and prefixes: validated once, the same way for every store.

A *key* is a ``/``-separated path relative to the store's root (bucket + base prefix, or base folder). A
*prefix* is a folder inside the store; leading and trailing slashes on it are ignored, so ``"/docs/"`` is
``"docs"`` and ``"/"`` or ``""`` is the root.

Rejected, with :class:`~objstore.domain.errors.InvalidKey`:
  * empty keys, a leading ``/``, empty segments (``a//b``, a trailing ``/``);
  * ``.`` and ``..`` segments, including look-alikes that Unicode compatibility folds to them (``．．``);
  * NUL, C0 and C1 control characters, DEL, line and paragraph separators, bidirectional overrides and
    isolates, the byte-order mark, non-characters and lone surrogates (which cannot be encoded as UTF-8);
  * keys longer than 1024 bytes in UTF-8 (the limit of S3, GCS and Azure).

A backslash is an ordinary key character (``reports\\2026.csv``, as tools on Windows write them), as it is on S3,
GCS and Azure; on a POSIX folder it is a literal file-name character, never a separator. A folder store or a
local sync on Windows, where it is a separator, refuses such keys with InvalidKey.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace

from objstore.domain.errors import InvalidKey, InvalidMetadata
from objstore.domain.models import ObjectInfo

__all__ = [
    "MAX_KEY_BYTES",
    "StoreRoot",
    "as_listed",
    "is_folder_marker",
    "is_valid_key",
    "join_key",
    "normalize_prefix",
    "printable_key",
    "unusable_reason",
    "validate_key",
    "validate_metadata",
]

MAX_KEY_BYTES = 1024
MAX_METADATA_BYTES = 2048
RESERVED_METADATA_PREFIX = "objstore_"

_FORBIDDEN_CHARS = re.compile(
    "["
    "\x00-\x1f\x7f-\x9f"  # C0, DEL, C1 controls
    "\u2028\u2029"  # line / paragraph separator
    "\u200e\u200f\u202a-\u202e\u2066-\u2069"  # bidirectional marks, overrides and isolates
    "\ufeff"  # byte-order mark / zero-width no-break space
    "\ufff9-\ufffb\ufffe\uffff"  # interlinear annotation controls, non-characters
    "\ud800-\udfff"  # lone surrogates
    "]"
)
_DOT_SEGMENTS = frozenset({".", ".."})
_METADATA_KEY = re.compile(r"[a-z_][a-z0-9_]{0,127}")
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")


def _why_invalid(path: object) -> str | None:
    """Return why ``path`` is not an acceptable key, or None when it is."""
    if not isinstance(path, str):
        return f"keys are str, not {type(path).__name__}"
    return _why_invalid_text(path)


@functools.lru_cache(maxsize=4096)
def _why_invalid_text(path: str) -> str | None:
    """:func:`_why_invalid` of a str, remembered: a sync checks each key at several layers, one after another."""
    if not path:
        return "the key is empty"
    if path.startswith("/"):
        return "a key must not start with '/'"
    bad = _FORBIDDEN_CHARS.search(path)
    if bad:
        return f"the key contains a forbidden character U+{ord(bad.group()):04X}"
    size = len(path.encode("utf-8"))
    if size > MAX_KEY_BYTES:
        return f"the key is {size} bytes in UTF-8; the limit is {MAX_KEY_BYTES}"
    for segment in path.split("/"):
        if not segment:
            return "the key has an empty segment ('//' or a trailing '/')"
        if segment in _DOT_SEGMENTS or (
            not segment.isascii() and unicodedata.normalize("NFKC", segment) in _DOT_SEGMENTS
        ):
            return f"the key has a '{segment}' segment"
    return None


def validate_key(key: str) -> str:
    """Return ``key`` unchanged if it is acceptable, else raise :class:`InvalidKey`."""
    reason = _why_invalid(key)
    if reason is not None:
        raise InvalidKey(reason, key=_printable(key))
    return key


def unusable_reason(key: str) -> str | None:
    """Why a key a store listed cannot be addressed through objstore (None when it can).

    Stores accept keys objstore refuses (``a/../b``, ``a//b``, control characters); listings report them with
    this reason instead of leaving them out silently. A folder marker (``dir/``, a zero-byte object some tools
    make for each folder) is a folder, not an object: None is not returned for it, see :func:`is_folder_marker`.
    """
    return _why_invalid(key)


def is_folder_marker(key: str) -> bool:
    """Whether a listed key is a folder marker (``dir/``): a folder, never an object or a failure."""
    return key.endswith("/") and (key == "/" or _why_invalid(key.rstrip("/")) is None)


def as_listed(info: ObjectInfo) -> ObjectInfo | None:
    """A listed entry as listings hand it on: marked ``unusable`` (with why) when objstore cannot address its key,
    None for a folder marker or a sub-prefix no key can address (nothing to report: the objects under it are)."""
    if info.is_prefix or info.key.endswith("/"):
        return info if info.is_prefix and _why_invalid(info.key.rstrip("/")) is None else None
    reason = _why_invalid(info.key)
    if reason is None:
        return info
    return replace(info, key=info.key, unusable=reason.replace("the key", "the key the store listed"))


def printable_key(key: object) -> str:
    """A key (valid or not) in a form that is safe to print or log: control characters are escaped."""
    return _printable(key)


def is_valid_key(key: object) -> bool:
    """Whether ``key`` is acceptable (for filtering names other tools wrote, which no key can address)."""
    return _why_invalid(key) is None


def normalize_prefix(prefix: str | None) -> str:
    """Strip leading and trailing slashes from a folder prefix and validate what is left.

    Returns ``""`` for the root (``None``, ``""``, ``"/"``).
    """
    if prefix is None:
        return ""
    if not isinstance(prefix, str):
        raise InvalidKey(f"prefixes are str, not {type(prefix).__name__}")
    stripped = prefix.strip("/")
    if not stripped:
        return ""
    reason = _why_invalid(stripped)
    if reason is not None:
        raise InvalidKey(reason.replace("the key", "the prefix"), key=_printable(prefix))
    return stripped


def join_key(prefix: str, key: str) -> str:
    """Join a (normalized) prefix and a key into one validated key relative to the root."""
    full = f"{prefix}/{key}" if prefix else key
    reason = _why_invalid(key) or _why_invalid(full)
    if reason is not None:
        raise InvalidKey(reason, key=_printable(full if isinstance(key, str) else key))
    return full


@dataclass(frozen=True)
class StoreRoot:
    """Where a store's root is inside a bucket or container: its base prefix, and keys mapped under it.

    Attributes:
        prefix: The normalized base prefix (``""`` for the whole bucket).
    """

    prefix: str

    @classmethod
    def of(cls, base_prefix: str | None) -> StoreRoot:
        return cls(normalize_prefix(base_prefix))

    @property
    def max_key_bytes(self) -> int:
        """What is left of the 1024-byte key limit beside the base prefix."""
        return MAX_KEY_BYTES - (len(self.prefix.encode("utf-8")) + 1 if self.prefix else 0)

    def locate(self, prefix: str, key: str) -> tuple[str, str]:
        """Return (key relative to the store's root, full key in the bucket), refusing keys too long for it."""
        relative = join_key(prefix, key)
        if len(relative.encode("utf-8")) > self.max_key_bytes:
            raise InvalidKey(
                f"the key is longer than the {self.max_key_bytes} bytes left beside the base prefix", key=relative
            )
        return relative, self.full(relative)

    def full(self, relative: str) -> str:
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def relative(self, full: str) -> str:
        return full[len(self.prefix) + 1 :] if self.prefix else full

    def folder(self, prefix: str) -> str:
        """The bucket-side listing prefix of a folder of the store (``"docs"`` -> ``"base/docs/"``)."""
        return self.full(prefix_of(join_key("", prefix))) if prefix else prefix_of(self.prefix)


def prefix_of(prefix: str) -> str:
    """The listing prefix for a normalized folder prefix: ``"docs"`` -> ``"docs/"``, root -> ``""``."""
    return f"{prefix}/" if prefix else ""


def validate_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """Check user metadata is something every store keeps exactly, and return a plain copy.

    Keys are lower-case ASCII identifiers (``[a-z_][a-z0-9_]*``, at most 128 characters): S3 lower-cases
    keys and Azure accepts only identifiers. Values are non-empty printable ASCII without surrounding spaces
    (HTTP headers carry them; some stores drop empty ones). Keys and values together take at most 2 KiB, the S3 limit.
    """
    if not metadata:
        return {}
    if not isinstance(metadata, Mapping):
        raise InvalidMetadata(f"metadata must be a mapping of str to str, not {type(metadata).__name__}")
    total = 0
    for name, value in metadata.items():
        if isinstance(name, str) and name.startswith(RESERVED_METADATA_PREFIX):
            raise InvalidMetadata(f"metadata keys starting with {RESERVED_METADATA_PREFIX!r} are reserved")
        if not isinstance(name, str) or not _METADATA_KEY.fullmatch(name):
            raise InvalidMetadata(
                f"metadata key {name!r} must be a lower-case identifier ([a-z_][a-z0-9_]*, at most 128)"
            )
        if not isinstance(value, str) or not value or not _PRINTABLE_ASCII.fullmatch(value) or value != value.strip():
            raise InvalidMetadata(
                f"metadata value for {name!r} must be non-empty printable ASCII without surrounding spaces"
            )
        total += len(name) + len(value)
    if total > MAX_METADATA_BYTES:
        raise InvalidMetadata(f"metadata takes {total} bytes; the limit is {MAX_METADATA_BYTES}")
    return dict(metadata)


def validate_content_type(content_type: str | None) -> str | None:
    """Reject a content type that cannot travel in an HTTP header."""
    if content_type is None:
        return None
    if (
        not isinstance(content_type, str)
        or not content_type
        or not _PRINTABLE_ASCII.fullmatch(content_type)
        or len(content_type) > 256
    ):
        raise InvalidMetadata(f"content type {content_type!r} must be printable ASCII, 1 to 256 characters")
    return content_type


def _printable(value: object) -> str:
    """A form of a rejected key that is safe to put in a message or a log line."""
    text = value if isinstance(value, str) else repr(value)
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if len(text) > 200:
        text = text[:200] + "..."
    return ascii(text)[1:-1] if _FORBIDDEN_CHARS.search(text) else text
