"""Sizes and durations as rclone and aws users write them on the command line (``100k``, ``1.5M``, ``1d12h``)."""

from __future__ import annotations

import re
from datetime import timedelta

import click

__all__ = ["duration", "size"]

_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([bkmgtp]?)i?b?\s*", re.IGNORECASE)
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|M|y)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "M": 2_592_000, "y": 31_536_000}


def size(text: str, *, default_unit: str = "k") -> int:
    """A size as rclone writes it: ``100k`` (KiB, the default unit, as rclone), ``1.5M``, ``2G``, ``512b``."""
    match = _SIZE.fullmatch(text)
    if match is None:
        raise click.BadParameter(f"{text!r} is not a size like 512b, 100k, 1.5M, 2G")
    unit = (match.group(2) or default_unit).lower()
    return int(float(match.group(1)) * 1024 ** "bkmgtp".index(unit))


def duration(text: str) -> timedelta:
    """A duration as rclone writes it: ``30s``, ``12h``, ``7d``, ``1d12h``, ``2w``, ``1M`` (30 days), ``1y``."""
    compact = text.strip()
    parts = _DURATION.findall(compact)
    if not parts or "".join(number + unit for number, unit in parts) != compact:
        raise click.BadParameter(f"{text!r} is not a duration like 30m, 12h, 7d, 1d12h")
    return timedelta(seconds=sum(float(number) * _UNITS[unit] for number, unit in parts))
