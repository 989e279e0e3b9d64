"""A row whose values parse and decode but that the database refuses is a dead letter naming
its file and line; the rest of the file is imported, exactly once, and hands over its own last
block, never the refused row's.

The value: a block number the decoder takes (at most 2**63 - 1, ``fields.MAX_BLOCK_NUMBER``:
the ledger's BIGINT) but whose ``orderflow_trades`` partition PostgreSQL cannot make —
``orderflow_ensure_partitions`` (migration 018) counts partitions in an INTEGER loop, so
a block at or past 2**31 partitions of 1,296,000 blocks is refused ("integer out of range")."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from orderflow.chain.backfill import STREAM
from orderflow.chain.checkpoints import get_checkpoint
from orderflow.chain.fields import MAX_BLOCK_NUMBER
from orderflow.history import HISTORY_STREAM, import_file
from tests.history import dumps as d
from tests.history.test_exactly_once import sim_logs


@pytest.mark.parametrize("name", ["fills.jsonl", "fills.parquet"])
async def test_a_row_the_database_refuses_is_a_dead_letter_and_the_rest_is_imported(
    pool: asyncpg.Pool, tmp_path: Path, name: str
) -> None:
    """On main the import stopped at that batch (``store_batch`` raised
    NumericValueOutOfRangeError) and nothing of it was stored."""
    logs = sim_logs("v2", seed=31)
    rows = [d.camel_row(f) for f in d.fills_of(logs)]
    tx = rows[3]["transactionHash"]
    bad = [i for i, r in enumerate(rows) if r["transactionHash"] == tx]
    for i in bad:
        rows[i]["blockNumber"] = MAX_BLOCK_NUMBER
    good = [r for i, r in enumerate(rows) if i not in bad]
    path = tmp_path / name
    if name.endswith(".parquet"):
        d.write_parquet(path, rows)
    else:
        d.write_jsonl(path, rows)
    unit = "row" if name.endswith(".parquet") else "line"

    report = await import_file(pool, path, chain_id=137)
    assert (report.stored.trades, report.dead_letters) == (len(good), len(bad))
    letters = await pool.fetch(
        "SELECT source_file, source_line, reason, tx_hash, log_index, times_seen"
        " FROM orderflow_dead_letters ORDER BY source_line"
    )
    assert [(r["source_file"], r["source_line"]) for r in letters] == [(name, i + 1) for i in bad]
    for r, i in zip(letters, bad, strict=True):
        assert r["reason"].startswith(f"{name} {unit} {i + 1}: refused by the database: "), r
        assert "out of range" in r["reason"]
        assert (r["tx_hash"], r["log_index"]) == (tx, rows[i]["logIndex"])
    stored = await pool.fetch("SELECT tx_hash, log_index FROM orderflow_trades")
    assert sorted(tuple(r) for r in stored) == sorted(
        (r["transactionHash"], r["logIndex"]) for r in good
    )

    # The hand-over is the last block stored, not the refused row's.
    last = max(r["blockNumber"] for r in good)
    async with pool.acquire() as conn:
        for stream in (STREAM, HISTORY_STREAM):
            checkpoint = await get_checkpoint(conn, 137, stream)
            assert checkpoint is not None and checkpoint.block_number == last, stream

    # Again: nothing stored twice, the dead letters seen again.
    again = await import_file(pool, path, chain_id=137)
    assert (again.stored.trades, again.dead_letters) == (0, len(bad))
    assert await pool.fetchval("SELECT count(*) FROM orderflow_trades") == len(good)
    seen = await pool.fetch("SELECT times_seen FROM orderflow_dead_letters")
    assert [r["times_seen"] for r in seen] == [2] * len(bad)
