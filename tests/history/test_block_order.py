"""A dump in block order whose rows within a block are not in log order — an export ordered by
block (or block time) only, a Parquet file written by parallel tasks — gives the same rows as
the chain's logs: a taker's executed amounts are rebuilt from its makers however the block's
rows are ordered, also where a batch boundary falls inside the block (the import's batches hold
whole blocks, as the listener stores them). Until 7 Dec 2026 batches held whole transactions
only when a transaction's rows were together at the boundary: a taker that paid 12.0 for 30
shares was stored at the 12.6 (0.42 a share) its OrderFilled reports, for good — the chain's
backfill afterwards adds the match and keeps the stored fill."""

from __future__ import annotations

import random
import zlib
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from orderflow.chain.backfill import STREAM
from orderflow.chain.checkpoints import get_checkpoint
from orderflow.chain.ingest import ingest_logs
from orderflow.history import import_file
from orderflow.history.errors import HistoryError
from tests.chain.test_amounts import two_maker_v1_buy
from tests.history import dumps as d
from tests.history.compare import rows


def _chain() -> list[dict[str, Any]]:
    """Block 29: one over-specified taker BUY with its two makers; block 30: two of them, in
    two transactions (each taker paid 12.0 for 30 shares, its OrderFilled says 12.6)."""
    logs = [
        *two_maker_v1_buy(block=29, tx=1, first=0),
        *two_maker_v1_buy(block=30, tx=3, first=0),
        *two_maker_v1_buy(block=30, tx=5, first=4),
    ]
    for raw in logs:
        raw["blockTimestamp"] = hex(1_700_000_000 + int(raw["blockNumber"], 16) * 2)
    return logs


def _within_blocks_shuffled(fills: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """The fills block by block, each block's rows in an order other than the log order."""
    out: list[dict[str, Any]] = []
    for block in sorted({f["block"] for f in fills}):
        ours = [f for f in fills if f["block"] == block]
        mixed = list(ours)
        while mixed == ours:
            random.Random(seed).shuffle(mixed)
            seed += 1000
        out += mixed
    return out


@pytest.mark.parametrize("layout", ["dune.csv", "snake.parquet"])
@pytest.mark.parametrize("seed", [1, 3, 4])
async def test_rows_of_a_block_in_any_order_store_the_chain_s_amounts(
    pool: asyncpg.Pool, chain_pool: asyncpg.Pool, tmp_path: Path, layout: str, seed: int
) -> None:
    logs = _chain()
    await ingest_logs(chain_pool, logs, chain_id=137)
    fills = _within_blocks_shuffled(d.fills_of(logs), seed)
    if layout == "dune.csv":
        blocks = d.write_csv(tmp_path / "blocks.csv", d.blocks_of(logs))
        path = d.write_csv(tmp_path / "fills.csv", [d.dune_row(f) for f in fills])
    else:
        blocks = d.write_parquet(tmp_path / "blocks.parquet", d.blocks_of(logs))
        path = d.write_parquet(tmp_path / "fills.parquet", [d.snake_row(f) for f in fills])
    await import_file(pool, blocks, chain_id=137)
    # batches of 5 rows: the first ends inside block 30, the second holds the rest of it
    report = await import_file(pool, path, chain_id=137, batch_size=5)
    assert (report.dead_letters, report.stored.trades, report.last_block) == (0, 9, 30)
    async with pool.acquire() as conn:
        listener = await get_checkpoint(conn, 137, STREAM)
    assert listener is not None and listener.block_number == 30

    again = await ingest_logs(pool, logs, chain_id=137)  # the chain's backfill of those blocks
    assert (again.stored.trades, again.stored.matches) == (0, 3)
    imported = await rows(pool, "orderflow_trades")
    chain = await rows(chain_pool, "orderflow_trades")
    paid = sorted(str(r["usdc_size"]) for r in imported if r["is_taker_aggregate"])
    assert paid == ["12.000000"] * 3
    assert imported == chain


def _cut_inside_block_30(logs: list[dict[str, Any]]) -> tuple[list[str], int]:
    """The Dune CSV lines (header first) of the fills, block 30's rows in an order where the
    first three hold tx 3's taker and only one of its two makers; and how many lines are whole
    before the cut (header, block 29's three rows, block 30's first three)."""
    fills = d.fills_of(logs)
    b29, b30 = fills[:3], fills[3:]
    order = [b30[2], b30[3], b30[0], b30[4], b30[1], b30[5]]  # tx 3 taker, tx 5 m0, tx 3 m0, …
    rows = [d.dune_row(f) for f in b29 + order]
    cols = list(rows[0])
    lines = [",".join(cols)] + [",".join(str(r[c]) for c in cols) for r in rows]
    return [line + "\n" for line in lines], 1 + 3 + 3


@pytest.mark.parametrize("compressed", [False, True])
async def test_a_file_cut_inside_a_block_stores_none_of_that_block(
    pool: asyncpg.Pool, chain_pool: asyncpg.Pool, tmp_path: Path, compressed: bool
) -> None:
    """A download cut short inside block 30 of a file whose blocks' rows are not in log order:
    the rows read of block 30 could be a taker without all its makers, stored for good at the
    amounts it reported (a good copy imported afterwards stores nothing over it, nor does the
    chain's backfill). None of the block the cut may have split is stored; the whole file
    imported again then stores the chain's rows."""
    logs = _chain()
    await ingest_logs(chain_pool, logs, chain_id=137)
    lines, whole = _cut_inside_block_30(logs)
    text = "".join(lines[:whole]) + lines[whole][:40]  # the cut: inside the next row
    if compressed:
        path = tmp_path / "fills.csv.gz"
        comp = zlib.compressobj(6, zlib.DEFLATED, 31)  # a gzip stream …
        path.write_bytes(comp.compress(text.encode()) + comp.flush(zlib.Z_SYNC_FLUSH))  # … cut
    else:
        path = tmp_path / "fills.csv"
        path.write_text(text)
    await import_file(pool, d.write_csv(tmp_path / "blocks.csv", d.blocks_of(logs)), chain_id=137)
    withheld = r"3 rows read of block 30, the last read, were not stored"
    with pytest.raises(HistoryError, match=withheld):
        await import_file(pool, path, chain_id=137, batch_size=100)
    stored = await pool.fetch("SELECT block_number, count(*) FROM orderflow_trades GROUP BY 1")
    assert [tuple(r) for r in stored] == [(29, 3)]
    async with pool.acquire() as conn:
        assert await get_checkpoint(conn, 137, STREAM) is None

    good = tmp_path / "good.csv"
    good.write_text("".join(lines))
    report = await import_file(pool, good, chain_id=137, batch_size=100)
    assert (report.dead_letters, report.stored.trades) == (0, 6)
    await ingest_logs(pool, logs, chain_id=137)
    assert await rows(pool, "orderflow_trades") == await rows(chain_pool, "orderflow_trades")


async def test_a_file_in_descending_block_order_hands_over_its_highest_block(
    pool: asyncpg.Pool, chain_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """Control (right on main): the hand-over is the highest block stored, not the last row's —
    a dump written newest first (block 30's rows, then block 29's) hands over block 30, so
    ``orderflow listen`` continues at 31 and skips no block."""
    logs = _chain()
    await ingest_logs(chain_pool, logs, chain_id=137)
    fills = d.fills_of(logs)
    newest_first = [f for f in fills if f["block"] == 30] + [f for f in fills if f["block"] == 29]
    await import_file(pool, d.write_csv(tmp_path / "blocks.csv", d.blocks_of(logs)), chain_id=137)
    path = d.write_csv(tmp_path / "fills.csv", [d.dune_row(f) for f in newest_first])
    report = await import_file(pool, path, chain_id=137, batch_size=4)
    assert (report.dead_letters, report.last_block, report.handed_over) == (0, 30, True)
    async with pool.acquire() as conn:
        listener = await get_checkpoint(conn, 137, STREAM)
    assert listener is not None and listener.block_number == 30
    await ingest_logs(pool, logs, chain_id=137)
    assert await rows(pool, "orderflow_trades") == await rows(chain_pool, "orderflow_trades")


@pytest.mark.parametrize(("layout", "workers"), [("dune.csv", 0), ("snake.parquet", 2)])
async def test_a_dump_split_inside_a_transaction_stores_the_executed_amounts(
    pool: asyncpg.Pool, chain_pool: asyncpg.Pool, tmp_path: Path, layout: str, workers: int
) -> None:
    """A log-ordered dump split into files by row count (shards of a dataset, an export's
    pages): the first file ends after tx 3's first maker fill, the second holds its other
    maker and its taker. The taker's executed amount needs both makers: the one an earlier
    file stored is read back. Before, the second file's taker was stored at the 12.6 its
    OrderFilled reported, for good."""
    logs = _chain()
    await ingest_logs(chain_pool, logs, chain_id=137)
    fills = d.fills_of(logs)
    write = d.write_csv if layout == "dune.csv" else d.write_parquet
    row = d.dune_row if layout == "dune.csv" else d.snake_row
    ext = layout.split(".", 1)[1]
    files = [
        write(tmp_path / f"blocks.{ext}", d.blocks_of(logs)),
        write(tmp_path / f"part-0.{ext}", [row(f) for f in fills[:4]]),  # … tx 3's first maker
        write(tmp_path / f"part-1.{ext}", [row(f) for f in fills[4:]]),
    ]
    for path in files:
        report = await import_file(pool, path, chain_id=137, batch_size=100, workers=workers)
        assert report.dead_letters == 0
    paid = await pool.fetch(
        "SELECT usdc_size::text FROM orderflow_trades WHERE is_taker_aggregate ORDER BY 1"
    )
    assert [r[0] for r in paid] == ["12.000000"] * 3
    again = await ingest_logs(pool, logs, chain_id=137)
    assert (again.stored.trades, again.stored.matches) == (0, 3)
    assert await rows(pool, "orderflow_trades") == await rows(chain_pool, "orderflow_trades")


async def test_a_block_larger_than_a_batch_can_hold_stores_the_executed_amounts(
    pool: asyncpg.Pool, chain_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """Batches of one row (a batch grows by at most another row for its block): every
    transaction is cut between batches, and each taker's makers, stored by the batches before
    it, are read back."""
    logs = _chain()
    await ingest_logs(chain_pool, logs, chain_id=137)
    await import_file(pool, d.write_csv(tmp_path / "blocks.csv", d.blocks_of(logs)), chain_id=137)
    path = d.write_csv(tmp_path / "fills.csv", [d.dune_row(f) for f in d.fills_of(logs)])
    report = await import_file(pool, path, chain_id=137, batch_size=1)
    assert (report.dead_letters, report.stored.trades) == (0, 9)
    await ingest_logs(pool, logs, chain_id=137)
    assert await rows(pool, "orderflow_trades") == await rows(chain_pool, "orderflow_trades")
