"""The same fills imported from a dump and from raw logs give identical rows, column by column;
a raw-log import of the same blocks afterwards adds nothing; the listener takes over after."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from orderflow.chain.backfill import STREAM
from orderflow.chain.checkpoints import get_checkpoint
from orderflow.chain.ingest import ingest_file, ingest_logs
from orderflow.history import HISTORY_STREAM, import_file
from orderflow.history.errors import HistoryError
from orderflow.sim import SimConfig, simulate
from orderflow.sim.emit import emit
from tests.chain.factory import h32
from tests.chain.test_amounts import two_maker_v1_buy
from tests.history import dumps as d
from tests.history.compare import rows

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "polymarket-logs.jsonl"


def sample_logs() -> list[dict[str, Any]]:
    return [json.loads(line) for line in SAMPLE.read_text().splitlines() if line.strip()]


def sim_logs(exchange: str, seed: int) -> list[dict[str, Any]]:
    cfg = SimConfig(seed=seed, markets=4, wallets=8, days=1.0, exchange=exchange)
    return emit(simulate(cfg)).logs


async def gamma_rows(chain_pool: asyncpg.Pool) -> list[dict[str, Any]]:
    """What Gamma says of the reference's CTF conditions: ids in the order of outcomes."""
    found = await chain_pool.fetch(
        "SELECT condition_id, bool_or(neg_risk) AS neg_risk,"
        " array_agg(token_id::text ORDER BY outcome_index) AS ids"
        " FROM orderflow_tokens WHERE generation = 'CTF' GROUP BY condition_id"
    )
    return [
        {
            "conditionId": r["condition_id"],
            "outcomes": json.dumps(["Yes", "No"][: len(r["ids"])]),
            "clobTokenIds": json.dumps(list(r["ids"])),
            "negRisk": r["neg_risk"],
            "closed": False,
        }
        for r in found
    ]


async def _assert_same(pool: asyncpg.Pool, chain_pool: asyncpg.Pool) -> None:
    for table in ("orderflow_trades", "orderflow_matches"):
        imported, reference = await rows(pool, table), await rows(chain_pool, table)
        assert len(imported) == len(reference), table
        for a, b in zip(imported, reference, strict=True):
            assert a == b, (table, {k: (a[k], b[k]) for k in a if a[k] != b[k]})


@pytest.mark.parametrize(
    ("source", "fills_layout"),
    [
        ("sim-v1", "snake"),
        ("sim-v1", "dune"),
        ("sim-v2", "snake"),
        ("sim-v2", "camel"),
        ("sim-v2", "camel-array"),  # JSON arrays, parsed in worker processes
        ("sample", "snake"),
    ],
)
async def test_dump_import_equals_raw_log_import(
    pool: asyncpg.Pool, chain_pool: asyncpg.Pool, tmp_path: Path, source: str, fills_layout: str
) -> None:
    logs = (
        sample_logs()
        if source == "sample"
        else sim_logs("v1" if source == "sim-v1" else "v2", seed=11)
    )
    reference = await ingest_logs(chain_pool, logs, chain_id=137, batch_size=37)
    assert reference.stored.trades > 5

    fills = d.fills_of(logs)
    if fills_layout == "snake":  # the Parquet dumps: no block hash, so the blocks come first
        v1 = [d.snake_row(f) for f in fills if f["v"] == "V1"]
        v2 = [d.snake_row(f) for f in fills if f["v"] == "V2"]
        files = [d.write_parquet(tmp_path / "blocks.parquet", d.blocks_of(logs))]
        if v1:
            files.append(d.write_parquet(tmp_path / "orderfilled-v1.parquet", v1))
        if v2:
            files.append(d.write_parquet(tmp_path / "orderfilled-v2.parquet", v2))
    elif fills_layout == "dune":
        files = [
            d.write_csv(tmp_path / "blocks.csv", d.blocks_of(logs)),
            d.write_csv(tmp_path / "fills.csv.gz", [d.dune_row(f) for f in fills]),
        ]
    elif fills_layout == "camel":
        files = [d.write_jsonl(tmp_path / "fills.jsonl.gz", [d.camel_row(f) for f in fills])]
    else:
        files = [d.write_json_array(tmp_path / "fills.json.gz", [d.camel_row(f) for f in fills])]
    matches = d.matches_of(logs, block_hash=fills_layout.startswith("camel"))
    files.append(d.write_parquet(tmp_path / "matches.parquet", matches))
    write_markets = d.write_json_array if fills_layout == "camel-array" else d.write_jsonl
    files.append(write_markets(tmp_path / "markets.json", await gamma_rows(chain_pool)))

    total = 0
    workers = 2 if fills_layout == "camel-array" else None
    for path in files:
        report = await import_file(pool, path, chain_id=137, batch_size=16, workers=workers)
        reasons = await pool.fetch("SELECT reason FROM orderflow_dead_letters")
        assert report.dead_letters == 0, [r["reason"] for r in reasons]
        total += report.stored.trades
    assert total == reference.stored.trades
    await _assert_same(pool, chain_pool)

    # The hand-over: the last block of the fills is the listener's checkpoint.
    last = max(f["block"] for f in fills)
    async with pool.acquire() as conn:
        listener = await get_checkpoint(conn, 137, STREAM)
        history = await get_checkpoint(conn, 137, HISTORY_STREAM)
    assert listener is not None and history is not None
    assert listener.block_number == history.block_number >= last

    # A raw-log import of the same blocks afterwards: no trade, no match, no change.
    again = await ingest_logs(pool, logs, chain_id=137, batch_size=50)
    assert (again.stored.trades, again.stored.matches, again.stored.linked) == (0, 0, 0)
    assert again.stored.duplicate_trades == reference.stored.trades
    await _assert_same(pool, chain_pool)


async def test_sample_jsonl_imports_as_raw_logs(
    pool: asyncpg.Pool, chain_pool: asyncpg.Pool
) -> None:
    """eth_getLogs JSON lines are a layout too: the same rows as `listen --from-file`."""
    await ingest_file(chain_pool, SAMPLE, chain_id=137)
    report = await import_file(pool, SAMPLE, chain_id=137, batch_size=5)
    assert report.kind == "logs" and report.dead_letters == 0
    await _assert_same(pool, chain_pool)
    assert await pool.fetch("SELECT * FROM orderflow_market_outcomes") is not None


async def test_a_transaction_cut_by_a_batch_boundary_imports_whole(
    pool: asyncpg.Pool, chain_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """Batches of 3 lines cut the match after its first maker fill: the import keeps the
    transaction in one batch, so the taker's amount is corrected from all its makers (12.0
    paid, not the 12.6 reported, nor the 8.0 of the makers after the cut), as the listener."""
    logs = sample_logs()[:2] + two_maker_v1_buy() + sample_logs()[2:3]
    path = tmp_path / "cut.jsonl"
    path.write_text("".join(json.dumps(raw) + "\n" for raw in logs))
    await ingest_logs(chain_pool, logs, chain_id=137)
    report = await import_file(pool, path, chain_id=137, batch_size=3)
    assert report.dead_letters == 0
    await _assert_same(pool, chain_pool)
    paid = await pool.fetchval(
        "SELECT usdc_size FROM orderflow_trades WHERE order_hash = $1", h32(0x2FF)
    )
    assert paid == Decimal(12)
    assert report.batches == 2  # the lines after the cut joined the first batch


async def test_missing_block_hashes_stop_before_storing(pool: asyncpg.Pool, tmp_path: Path) -> None:
    fills = d.fills_of(sim_logs("v1", seed=12))
    path = d.write_parquet(tmp_path / "orderfilled.parquet", [d.snake_row(f) for f in fills])
    unknown = r"hash of block \d+ is unknown.*Import the blocks first"
    with pytest.raises(HistoryError, match=unknown):
        await import_file(pool, path, chain_id=137)
    assert await pool.fetchval("SELECT count(*) FROM orderflow_trades") == 0
    async with pool.acquire() as conn:
        assert await get_checkpoint(conn, 137, STREAM) is None


async def test_a_fill_dump_without_its_matches_stores_the_executed_amounts(
    pool: asyncpg.Pool, chain_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """The Parquet and Dune dumps hold OrderFilled rows only. A taker that paid 12.0 for 30
    shares while its OrderFilled reports 12.6 (0.42 a share) is stored at 12.0 from the dump,
    as the listener stores it from the chain; the chain backfill afterwards adds the match and
    its links and leaves every row as the listener has it."""
    logs = sample_logs()[:2] + two_maker_v1_buy() + sample_logs()[2:3]
    await ingest_logs(chain_pool, logs, chain_id=137)
    fills = d.fills_of(logs)
    files = [d.write_parquet(tmp_path / "blocks.parquet", d.blocks_of(logs))]
    for v in ("V1", "V2"):
        if rows := [d.snake_row(f) for f in fills if f["v"] == v]:
            files.append(d.write_parquet(tmp_path / f"orderfilled-{v}.parquet", rows))
    for path in files:
        assert (await import_file(pool, path, chain_id=137, batch_size=2)).dead_letters == 0
    paid = await pool.fetchval(
        "SELECT usdc_size FROM orderflow_trades WHERE order_hash = $1", h32(0x2FF)
    )
    assert paid == Decimal(12)

    again = await ingest_logs(pool, logs, chain_id=137)
    assert (again.stored.trades, again.stored.matches) == (0, 1)
    await _assert_same(pool, chain_pool)
