"""Keys that every store must refuse with ``InvalidKey`` before anything is written."""

from __future__ import annotations

__all__ = ["BACKSLASH_KEYS", "HOSTILE_KEYS", "HOSTILE_PREFIXES"]

# Legal keys that look hostile: a backslash is an ordinary character on every store (and a literal file-name
# character on a POSIX folder), so objects other tools wrote with one can be read, copied and deleted.
BACKSLASH_KEYS: tuple[str, ...] = ("reports\\2026.csv", "a\\b", "..\\..\\windows\\system32", "\\\\server\\share")

HOSTILE_KEYS: tuple[str, ...] = (
    # empty, absolute, separators
    "",
    "/",
    "/etc/passwd",
    "//server/share",
    "a//b",
    "a/",
    "a/b/",
    # traversal
    ".",
    "..",
    "../x",
    "../../etc/passwd",
    "a/../../x",
    "a/..",
    "a/../b",
    "./a",
    "a/./b",
    "a/b/../../../../etc/shadow",
    "~/../x",
    # Unicode look-alikes that compatibility folding turns into dot segments
    "\uff0e\uff0e/x",
    "a/\uff0e/b",
    "\uff0e",
    # NUL and control characters
    "\x00",
    "a\x00b",
    "file\x00.txt",
    "a/b\x00/../c",
    "a\nb",
    "a\rb",
    "a\tb",
    "\x1b[31mred",
    "a\x7fb",
    "a\x85b",
    "a\x9bb",
    "\x08backspace",
    # line separators, bidirectional overrides, byte-order mark, non-characters, lone surrogates
    "a\u2028b",
    "a\u2029b",
    "\u202eexe.txt",
    "a/\u2066b",
    "\u200fkey",
    "\ufeffkey",
    "a\uffffb",
    "\ud800",
    "a/\udfff",
    # too long: over 1024 bytes in UTF-8
    "x" * 1025,
    "\u00e9" * 513,
    "a/" + "b" * 1023,
    "\U0001f600" * 257,
)

HOSTILE_PREFIXES: tuple[str, ...] = (
    "..",
    "../outside",
    "a/../../outside",
    "a//b",
    "a\x00b",
    "\uff0e\uff0e",
)
