"""Durations as the command line reads and writes them.

Read (``--step``, ``--latency``, ``--book-window``; ``--since`` with a unit): ``90``, ``30m``,
``6h``, ``1d``, ``2w``.
Written (reports, the demo): the largest unit that states the duration exactly, ``8.008 s``,
``5 min``, ``12 h``, ``1 day`` — never a raw ``timedelta`` (``1 day, 0:00:00``).
"""

from __future__ import annotations

import re
from datetime import timedelta

from orderflow.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT_SECS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_LONGEST_DAYS = 36_500  # 100 years: past any history, step or order life; much longer ones end
# past the calendar (year 9999) when added to a time


def parse_duration(value: str, option: str) -> float:
    """``90``, ``30m``, ``6h``, ``1d``, ``2w`` -> seconds, up to 100 years; ConfigError naming
    ``option``."""
    match = _DURATION.match(value)
    if not match:
        raise ConfigError(f"{option}: not a duration: {value!r} (use e.g. 3600, 30m, 6h, 1d)")
    secs = float(match.group(1)) * _UNIT_SECS[match.group(2)]
    if secs <= 0:
        raise ConfigError(f"{option}: must be positive, got {value!r}")
    if secs > _LONGEST_DAYS * _UNIT_SECS["d"]:
        raise ConfigError(f"{option}: at most {_LONGEST_DAYS}d (100 years), got {value!r}")
    return secs


def format_duration(value: timedelta | float) -> str:
    """``timedelta(days=1)`` -> ``1 day``, 43200 -> ``12 h``, 300 -> ``5 min``, 8.008 ->
    ``8.008 s`` (seconds to the millisecond)."""
    secs = value.total_seconds() if isinstance(value, timedelta) else float(value)
    millis = round(secs * 1000)
    if millis and millis % 86_400_000 == 0:
        days = millis // 86_400_000
        return f"{days} day" if days == 1 else f"{days} days"
    if millis and millis % 3_600_000 == 0:
        return f"{millis // 3_600_000} h"
    if millis and millis % 60_000 == 0:
        return f"{millis // 60_000} min"
    return f"{millis / 1000:.3f}".rstrip("0").rstrip(".") + " s"
