"""CPU seconds of a local process from /proc: the load-independent figure the benchmarks print
next to wall-clock rates (what a step cost, whatever else the machine runs)."""

from __future__ import annotations

import os
from pathlib import Path


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (raises OSError if it cannot be read)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds_or_none(pid: int | None) -> float | None:
    """:func:`cpu_seconds`, or None when there is no such local process (a remote server)."""
    if pid is None:
        return None
    try:
        return cpu_seconds(pid)
    except OSError:
        return None
