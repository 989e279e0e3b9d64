"""A row whose values parse and decode but that the database refuses is a dead letter naming
its file and line; the rest of the file is imported, exactly once, and hands over its own last
block, never the refused row's.

The value: a block number the decoder takes (at most 2**63 - 1, ``fields.MAX_BLOCK_NUMBER``:
the ledger's BIGINT) but whose ``orderflow_trades`` partition PostgreSQL cannot make —
``orderflow_ensure_partitions`` (migration 018) counts partitions in an INTEGER loop, so
a block at or past 2**31 partitions of 1,296,000 blocks is refused ("integer out of range").
And values the database would refuse before any store (asyncpg: "value out of int64 range"),
now dead letters before they reach it: a block beyond BIGINT whose hash would be looked up, a
blocks row's number beyond BIGINT or its time past datetime's range."""

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


async def test_a_block_beyond_the_ledger_without_its_hash_is_a_dead_letter(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """A dump without block hashes (Dune's) takes them from ``orderflow_blocks``; a row whose
    block number is beyond BIGINT cannot be there. On main the look-up itself was refused
    (asyncpg DataError: value out of int64 range) and the import stopped, naming no file."""
    logs = sim_logs("v1", seed=21)
    fills = [d.dune_row(f) for f in d.fills_of(logs)]
    fills[2]["evt_block_number"] = 2**63  # line 4
    await import_file(pool, d.write_csv(tmp_path / "blocks.csv", d.blocks_of(logs)), chain_id=137)
    report = await import_file(pool, d.write_csv(tmp_path / "fills.csv", fills), chain_id=137)
    assert (report.stored.trades, report.dead_letters) == (len(fills) - 1, 1)
    row = await pool.fetchrow("SELECT source_file, source_line, reason FROM orderflow_dead_letters")
    assert (row["source_file"], row["source_line"]) == ("fills.csv", 4)
    assert row["reason"] == (
        "fills.csv line 4: blockNumber 0x8000000000000000 exceeds 0x7fffffffffffffff, the "
        "largest the ledger stores"
    )


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        (
            "block_number",
            2**63,
            "blockNumber 0x8000000000000000 exceeds 0x7fffffffffffffff, the largest the ledger "
            "stores",
        ),
        ("timestamp", 1669060169000, "timestamp 1669060169000 is not a valid time"),
    ],
    ids=["block-beyond-bigint", "milliseconds"],
)
async def test_a_blocks_row_beyond_the_ledger_is_a_dead_letter(
    pool: asyncpg.Pool, tmp_path: Path, field: str, value: int, reason: str
) -> None:
    """A blocks row whose number is beyond BIGINT, or whose time is in milliseconds (past
    datetime's year 9999). On main the first stopped the import (asyncpg DataError: value out
    of int64 range), the second crashed it (ValueError: year 54860 is out of range), naming no
    file or line; the rows before them in their batch were not stored."""
    blocks = d.blocks_of(sim_logs("v1", seed=23))
    blocks[1][field] = value  # line 3
    path = d.write_csv(tmp_path / "blocks.csv", blocks)
    report = await import_file(pool, path, chain_id=137)
    assert (report.blocks, report.dead_letters) == (len(blocks) - 1, 1)
    row = await pool.fetchrow("SELECT source_file, source_line, reason FROM orderflow_dead_letters")
    assert (row["source_file"], row["source_line"]) == ("blocks.csv", 3)
    assert row["reason"] == f"blocks.csv line 3: {reason}"
