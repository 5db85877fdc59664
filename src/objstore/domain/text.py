"""Words for people: counts with their nouns, in summaries, progress lines and messages."""

from __future__ import annotations

__all__ = ["plural"]


def plural(count: int, noun: str) -> str:
    """``1 file``, ``2 files``, ``2 copies``; in a phrase the first word takes the number (``2 deletes on A``)."""
    word, space, rest = noun.partition(" ")
    if count != 1:
        word = word[:-1] + "ies" if word.endswith("y") and word[-2:-1] not in "aeiou" else word + "s"
    return f"{count:,} {word}{space}{rest}"
