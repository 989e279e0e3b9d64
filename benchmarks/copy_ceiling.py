"""The ingest's reference ceiling, measured in the run: a plain asyncpg COPY of trade rows into a
table with its primary key.

Issue 14 states its ingest target against this figure ("a plain asyncpg COPY of trade rows into a
table with its primary key reaches about 138,000 rows/s on this machine"; 50,000 logs/s is 36 %
of it, the goal of 100,000 "70 % of the COPY ceiling"). The machine's speed moves between
sessions by more than any change to the store (docs/benchmarks.md: the same tree's CPU per log
doubled), so ``benchmarks/ingest.py`` prints the ceiling of the same minutes beside its rates,
and each rate as a share of it.

The rows are the trades an import just stored, read back as COPY text before the clock starts
(what the import's decoding processes hand the writer), then sent with ``copy_to_table`` into a
fresh table of the same columns in their base types (no domain check, trigger or other index)
whose primary key is the one the issue's table had when it was written: (chain id, transaction
hash, log index). So the ceiling is the server's COPY and the transfer, with a client that costs
nothing: no client encodes faster than text it already holds.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass

import asyncpg
from proc_cpu import cpu_seconds_or_none

TABLE = "bench_copy_ceiling"
_COLUMNS = (
    "chain_id int, tx_hash text, log_index int, block_number bigint, block_hash text, "
    "timestamp timestamptz, exchange text, exchange_version text, order_hash text, "
    "wallet_address text, taker_address text, is_taker_aggregate bool, side text, "
    "token_id numeric, market_id text, outcome_index int, price numeric, size numeric, "
    "usdc_size numeric, fee numeric, fee_asset text, builder text, metadata text, "
    "match_log_index int"
)
_NAMES = [c.split()[0] for c in _COLUMNS.split(", ")]
# The stored trades in those columns' base types (domains read as their base type).
_READ = "SELECT " + ", ".join(f"{n}::{t}" for n, t in (c.split()[:2] for c in _COLUMNS.split(", ")))


@dataclass(frozen=True)
class Ceiling:
    rows: int
    secs: float
    backend_cpu: float | None  # seconds, None when the server is not local

    @property
    def rate(self) -> float:
        return self.rows / self.secs if self.secs > 0 else float("inf")


async def copy_ceiling(conn: asyncpg.Connection, *, local: bool) -> Ceiling:
    """Time a plain COPY of every row of ``orderflow_trades`` into a new table with the issue's
    primary key, on ``conn`` (its backend's CPU read when the server is ``local``); the table is
    dropped after."""
    text = io.BytesIO()
    await conn.copy_from_query(_READ + " FROM orderflow_trades", output=text)
    rows = await conn.fetchval("SELECT count(*) FROM orderflow_trades")
    await conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
    await conn.execute(
        f"CREATE TABLE {TABLE} ({_COLUMNS}, PRIMARY KEY (chain_id, tx_hash, log_index))"
    )
    pid = await conn.fetchval("SELECT pg_backend_pid()") if local else None
    try:
        cpu0, started = cpu_seconds_or_none(pid), time.perf_counter()
        text.seek(0)
        await conn.copy_to_table(TABLE, source=text, columns=_NAMES)
        secs, cpu1 = time.perf_counter() - started, cpu_seconds_or_none(pid)
    finally:
        await conn.execute(f"DROP TABLE {TABLE}")
    cpu = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
    return Ceiling(rows, secs, cpu)
