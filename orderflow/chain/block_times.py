"""Block headers as stored, and the time of each stored log.

A log carries its own ``blockTimestamp`` when the node sends one; otherwise it takes the time
of its block, from the batch's headers or ``orderflow_blocks``, provided the block hash
matches. ``store.store_batch`` dead-letters a log that has neither.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from orderflow.chain import store_sql as sql
from orderflow.chain.events import LogRef


@dataclass(frozen=True, slots=True)
class BlockHeader:
    """A canonical block as the listener saw it (reorg checks, timestamps for bare logs)."""

    number: int
    hash: str
    parent_hash: str | None
    timestamp: datetime


class BlockTimes:
    """Epoch seconds for each stored log: its own blockTimestamp, else a known block's."""

    def __init__(self, known: dict[int, tuple[str, int]]) -> None:
        self.known = known  # block number -> (hash, epoch)
        self.memo: dict[datetime, int] = {}
        # Logs that lacked a timestamp and got their block's: an earlier batch may have
        # dead-lettered the very same raw object while the block was still unknown.
        self.resolved: list[Mapping[str, Any]] = []

    def epoch(self, ref: LogRef) -> int | None:
        ts = ref.timestamp
        if ts is not None:
            try:
                return self.memo[ts]
            except KeyError:
                value = self.memo[ts] = int(ts.timestamp())
                return value
        hit = self.known.get(ref.block_number)
        if hit is not None and hit[0] == ref.block_hash:
            if ref.raw is not None:
                self.resolved.append(ref.raw)
            return hit[1]
        return None


async def block_times(
    conn: asyncpg.Connection,
    chain_id: int,
    refs: list[LogRef],
    blocks: Sequence[BlockHeader],
) -> BlockTimes:
    known = {b.number: (b.hash.lower(), int(b.timestamp.timestamp())) for b in blocks}
    missing = sorted({r.block_number for r in refs if r.block_number not in known})
    if missing:
        for row in await conn.fetch(sql.SELECT_BLOCK_TIMES, chain_id, missing):
            known[row["block_number"]] = (row["block_hash"], int(row["timestamp"].timestamp()))
    return BlockTimes(known)
