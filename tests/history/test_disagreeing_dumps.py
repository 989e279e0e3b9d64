"""Two dumps that disagree on a fill's block store it once.

A fill's identity is (chain, transaction hash, log index); the ledger's key is (chain, block,
log index). Two dumps of the same blocks, one placing a fill at a wrong block that no time
exposes (an untimed row takes the time of the block it names), stored the fill at both blocks:
one trade counted twice in volume, P&L and scores until the node's log of it replaced the wrong
one — and never, for blocks the listener does not read. The second dump's row is a dead letter
naming both blocks; the node's logs then set right whichever was wrong.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg

from orderflow.chain.decode import decode_batch
from orderflow.chain.ingest import ingest_logs
from orderflow.chain.store import store_batch
from orderflow.history import import_file
from tests.history import dumps as d
from tests.history.test_exactly_once import _assert_same, sample_logs

TWICE = """
SELECT tx_hash, log_index, array_agg(block_number ORDER BY block_number) AS blocks
  FROM orderflow_trades GROUP BY tx_hash, log_index HAVING count(*) > 1
"""


def _untimed(f: dict[str, Any]) -> dict[str, Any]:
    row = d.snake_row(f)
    del row["timestamp"], row["datetime"]
    return row


async def _reasons(pool: asyncpg.Pool) -> list[str]:
    rows = await pool.fetch("SELECT reason FROM orderflow_dead_letters ORDER BY id")
    return [r["reason"] for r in rows]


async def _dumps(
    pool: asyncpg.Pool, tmp_path: Path, first: list[dict[str, Any]], second: list[dict[str, Any]]
) -> list[int]:
    logs = sample_logs()
    files = [d.write_parquet(tmp_path / "blocks.parquet", d.blocks_of(logs))]
    for name, dump in (("a", first), ("b", second)):
        if dump:
            files.append(d.write_parquet(tmp_path / f"{name}.parquet", [_untimed(f) for f in dump]))
    return [(await import_file(pool, p, chain_id=137)).dead_letters for p in files]


def _moved() -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """The sample's V1 fills, and a copy where fill (68,000,000, 12) names block 68,000,005."""
    fills = [f for f in d.fills_of(sample_logs()) if f["v"] == "V1"]
    wrong = [dict(f) for f in fills]
    moved = next(f for f in wrong if (f["block"], f["log_index"]) == (68_000_000, 12))
    moved["block"] = 68_000_005
    return fills, wrong, moved


async def test_a_second_dump_placing_a_fill_elsewhere_is_a_dead_letter_naming_both_blocks(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    fills, wrong, _moved_fill = _moved()
    letters = await _dumps(pool, tmp_path, fills, wrong)

    assert [tuple(r) for r in await pool.fetch(TWICE)] == []
    assert letters == [0, 0, 1]
    (reason,) = await _reasons(pool)
    assert reason.startswith("b.parquet row "), reason
    assert "at block 68000005" in reason and "stored at block 68000000" in reason, reason


async def test_the_wrong_dump_first_then_the_node_stores_each_fill_once(
    pool: asyncpg.Pool, chain_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """The wrong dump is imported first: its row stays (the right dump's is the dead letter)
    until the node's log of the fill replaces it; the ledger is then the chain's."""
    fills, wrong, _moved_fill = _moved()
    logs = sample_logs()
    letters = await _dumps(pool, tmp_path, wrong, fills)
    assert [tuple(r) for r in await pool.fetch(TWICE)] == []
    assert letters == [0, 0, 1]

    async with pool.acquire() as conn:  # the listener's backfill of the same blocks
        await store_batch(
            conn, decode_batch(logs, 137), chain_id=137, authoritative=True
        )  # fmt: skip
    await ingest_logs(chain_pool, logs, chain_id=137)
    await _assert_same(pool, chain_pool)


async def test_one_dump_holding_a_fill_at_two_blocks_stores_it_once(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    fills, _wrong, moved = _moved()
    letters = await _dumps(pool, tmp_path, [], [*fills, moved])
    assert [tuple(r) for r in await pool.fetch(TWICE)] == []
    assert letters == [0, 1]
    (reason,) = await _reasons(pool)
    assert "68000005" in reason and "68000000" in reason, reason
