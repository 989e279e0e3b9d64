"""A row's time must be its block's: a dump whose times are in another zone, or whose block
number is wrong, is not stored as fills the chain never had (the chain's backfill afterwards
would change nothing, or add the real fill beside the misplaced one)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from orderflow.chain.ingest import ingest_logs
from orderflow.history import import_file
from tests.history import dumps as d
from tests.history.test_exactly_once import _assert_same, sample_logs

UTC8 = timedelta(hours=8)


async def _reasons(pool: asyncpg.Pool) -> list[str]:
    rows = await pool.fetch("SELECT reason FROM orderflow_dead_letters ORDER BY source_line")
    return [r["reason"] for r in rows]


async def test_times_in_another_zone_are_dead_letters_not_shifted_fills(
    pool: asyncpg.Pool, chain_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """A Dune-like CSV whose block times are local UTC+8 times without a zone (read as UTC:
    eight hours late). Stored, every fill would be eight hours off the chain's time, for
    good: the chain's backfill keeps the stored row. Each is a dead letter instead."""
    logs = sample_logs()
    await ingest_logs(chain_pool, logs, chain_id=137)
    fills = [f for f in d.fills_of(logs) if f["v"] == "V1"]
    rows = [
        d.dune_row(f)
        | {"evt_block_time": (datetime.fromtimestamp(f["ts"], UTC) + UTC8).strftime("%F %T")}
        for f in fills
    ]
    blocks = d.write_csv(tmp_path / "blocks.csv", d.blocks_of(logs))
    assert (await import_file(pool, blocks, chain_id=137)).dead_letters == 0
    report = await import_file(pool, d.write_csv(tmp_path / "fills.csv", rows), chain_id=137)

    await ingest_logs(pool, logs, chain_id=137)  # the chain's backfill of the same blocks
    await _assert_same(pool, chain_pool)
    assert report.stored.trades == 0 and report.dead_letters == len(fills) == 4
    reasons = await _reasons(pool)
    late = "fills.csv line 2: the row's time 2025-02-20 05:20:00+00:00 is not"
    assert reasons[0].startswith(late)
    assert "block 68000000's time 2025-02-19 21:20:00+00:00 (orderflow_blocks)" in reasons[0]


async def test_a_fill_at_a_wrong_block_is_a_dead_letter_not_a_second_copy(
    pool: asyncpg.Pool, chain_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """One row of a Parquet dump names block 68,000,005 (a block the blocks file has) for a
    fill of block 68,000,000. Stored there, the chain's backfill then stores the real fill at
    68,000,000 beside it: two rows with one (transaction hash, log index), the fill counted
    twice. Its time is not block 68,000,005's: a dead letter, and the rest is imported."""
    logs = sample_logs()
    await ingest_logs(chain_pool, logs, chain_id=137)
    fills = d.fills_of(logs)
    moved = next(f for f in fills if (f["block"], f["log_index"]) == (68_000_000, 12))
    moved["block"] = 68_000_005
    files = [d.write_parquet(tmp_path / "blocks.parquet", d.blocks_of(logs))]
    for v in ("V1", "V2"):
        rows = [d.snake_row(f) for f in fills if f["v"] == v]
        files.append(d.write_parquet(tmp_path / f"orderfilled-{v}.parquet", rows))
    reports = [await import_file(pool, path, chain_id=137) for path in files]

    await ingest_logs(pool, logs, chain_id=137)
    await _assert_same(pool, chain_pool)
    assert [r.dead_letters for r in reports] == [0, 1, 0]
    (reason,) = await _reasons(pool)
    assert reason.startswith("orderfilled-V1.parquet row 3: the row's time 2025-02-19 21:20:00")
    assert "block 68000005's time 2025-02-19 21:20:10+00:00 (orderflow_blocks)" in reason
