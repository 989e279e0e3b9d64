"""CPU seconds of a local process from /proc: the load-independent figure the benchmarks print
next to wall-clock rates (what a step cost, whatever else the machine runs)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncpg


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


async def pool_backends(pool: asyncpg.Pool) -> list[int]:
    """The server process ids of every connection of ``pool``, all held at once (open the pool
    with ``max_inactive_connection_lifetime=0`` so that they stay the pool's for the run)."""
    async with contextlib.AsyncExitStack() as stack:
        conns = [
            await stack.enter_async_context(pool.acquire()) for _ in range(pool.get_max_size())
        ]
        return [await conn.fetchval("SELECT pg_backend_pid()") for conn in conns]


def cpu_of(pids: list[int]) -> float | None:
    """CPU seconds of these server processes together; None when any cannot be read."""
    seconds = [cpu_seconds_or_none(pid) for pid in pids]
    return None if not seconds or None in seconds else sum(s for s in seconds if s is not None)
