"""Hostile values in a dump's rows: each one a dead letter naming its field (or a spelling the
import accepts and normalises), the rest of the file imported (docs/history.md "Bad rows")."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from orderflow.history import import_file
from tests.history import dumps as d
from tests.history.test_exactly_once import sim_logs


async def test_a_block_past_bigint_with_its_own_block_hash_is_a_dead_letter(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """Before: the batch's block lookup sent 2**63 to PostgreSQL and the import ended in
    asyncpg's ``DataError … (value out of int64 range)``, naming no file, nothing stored."""
    fills = [d.camel_row(f) for f in d.fills_of(sim_logs("v2", seed=7))]
    fills[3] = {**fills[3], "blockNumber": 2**63}
    path = d.write_jsonl(tmp_path / "fills.jsonl", fills)
    report = await import_file(pool, path, chain_id=137, hand_over=False)
    assert (report.stored.trades, report.dead_letters) == (len(fills) - 1, 1)
    reason = await pool.fetchval("SELECT reason FROM orderflow_dead_letters")
    assert reason.startswith("fills.jsonl line 4: blockNumber 0x8000000000000000 exceeds")
