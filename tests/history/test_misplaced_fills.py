"""A dump row naming the wrong block, which no time exposes, is not counted twice once the chain
is read: the node's log replaces the import's row (the chain is the truth), and a dead letter
names the row replaced.

The import cannot see such a row: it has no time (it takes the time of the block it names), or
it carries its own block hash and the block is not in ``orderflow_blocks`` (nothing to compare
its time with). It is stored at the block it names. The table's key is (chain, block, log
index), so the chain's backfill, storing the real fill at its real block, kept both: two rows
with one (transaction hash, log index). Or the row sits where another fill of the chain is (the
same block and log index) and that fill was refused as a collision: lost, while the misplaced
one was then stored twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import pytest

from orderflow.chain.adaptive_range import AdaptiveRange
from orderflow.chain.backfill import Backfiller
from orderflow.chain.backfill_headers import HeaderCache
from orderflow.chain.contracts import MAINNET
from orderflow.chain.rpc import EthClient
from orderflow.chain.rpc_http import HttpTransport
from orderflow.history import import_file
from tests.chain_live.anvil_node import Anvil
from tests.chain_live.listener_runs import canonical_fills, stored_trades
from tests.chain_live.logs import order_filled_v2
from tests.history import dumps as d
from tests.history.test_hand_over import node_logs

pytestmark = pytest.mark.anvil


async def _headers(anvil: Anvil, to_block: int) -> list[dict[str, Any]]:
    """Every block's header as a blocks-file row (the empty blocks too)."""
    out = []
    for n in range(1, to_block + 1):
        b = await anvil.rpc("eth_getBlockByNumber", hex(n), False)
        out.append(
            {"block_number": n, "block_hash": b["hash"], "timestamp": int(b["timestamp"], 16)}
        )
    return out


async def _chain(anvil: Anvil) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """Fills 1-4 in blocks of their own, two empty blocks, fill 5: each at log index 0."""
    for n in range(1, 5):
        await anvil.emit(order_filled_v2(order_hash=n, maker_amount=1_000_000 * n))
    await anvil.mine(2)
    await anvil.emit(order_filled_v2(order_hash=5, maker_amount=5_000_000))
    head = await anvil.head()
    fills = d.fills_of(await node_logs(anvil, head))
    assert len(fills) == 5 and {f["log_index"] for f in fills} == {0}
    return fills, await _headers(anvil, head), head


async def _backfill(pool: asyncpg.Pool, anvil: Anvil, head: int, *, blocks_per_range: int) -> None:
    client = EthClient(HttpTransport(anvil.http_url, timeout_secs=10))
    size = blocks_per_range
    backfill = Backfiller(
        pool, client, chain_id=137, addresses=MAINNET, ranges=AdaptiveRange(size, 1, size),
        headers=HeaderCache(client), stream="verify",
    )  # fmt: skip
    await backfill.run(0, head)


async def _replaced(pool: asyncpg.Pool) -> list[tuple[int | None, str, str]]:
    rows = await pool.fetch(
        "SELECT block_number, tx_hash, reason FROM orderflow_dead_letters ORDER BY id"
    )
    return [(r["block_number"], r["tx_hash"], r["reason"]) for r in rows]


def _untimed(f: dict[str, Any]) -> dict[str, Any]:
    """A snake_case dump row without its time (it takes its block's, from the blocks file)."""
    row = d.snake_row(f)
    del row["timestamp"], row["datetime"]
    return row


@pytest.mark.parametrize("layout", ["untimed", "own-block-hash"])
async def test_a_fill_the_dump_puts_in_a_wrong_block_is_stored_once_at_the_chains(
    anvil: Anvil, pool: asyncpg.Pool, tmp_path: Path, layout: str
) -> None:
    """Fill 2's row names empty block 6. Untimed, it takes block 6's time from the blocks file;
    with its own block hash and time (no blocks file), block 6 is unknown: either way the import
    stores it at block 6. The chain's backfill then stores fill 2 at its block: it must be the
    only row of that (transaction hash, log index)."""
    fills, headers, head = await _chain(anvil)
    empty = 6
    assert empty not in {f["block"] for f in fills}
    moved = fills[1] | {"block": empty}
    dumped = [fills[0], moved, *fills[2:]]
    if layout == "untimed":
        await import_file(pool, d.write_parquet(tmp_path / "blocks.parquet", headers), chain_id=137)
        rows = [_untimed(f) for f in dumped]
    else:
        rows = [d.camel_row(f) for f in dumped]  # its own blockHash: fill 2's real block's
    report = await import_file(
        pool, d.write_parquet(tmp_path / "fills.parquet", rows), chain_id=137
    )
    assert report.stored.trades == 5 and report.dead_letters == 0  # nothing shows it

    await _backfill(pool, anvil, head, blocks_per_range=100)

    assert await stored_trades(pool) == await canonical_fills(anvil)
    ((block, tx, reason),) = await _replaced(pool)
    assert (block, tx) == (empty, fills[1]["tx"])
    assert f"stored at block {empty}" in reason and f"block {fills[1]['block']}" in reason


async def test_a_misplaced_row_on_another_fills_place_gives_way_to_it(
    anvil: Anvil, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """The dump lacks fill 3, and fill 4's untimed row names fill 3's block: it holds fill 3's
    (block, log index). Read block by block, the chain's fill 3 comes first: it was refused as a
    collision (lost), and fill 4 was then stored a second time at its real block."""
    fills, headers, head = await _chain(anvil)
    third, fourth = fills[2], fills[3]
    moved = fourth | {"block": third["block"]}
    await import_file(pool, d.write_parquet(tmp_path / "blocks.parquet", headers), chain_id=137)
    rows = [_untimed(f) for f in (fills[0], fills[1], moved, fills[4])]
    report = await import_file(
        pool, d.write_parquet(tmp_path / "fills.parquet", rows), chain_id=137
    )
    assert report.stored.trades == 4 and report.dead_letters == 0

    await _backfill(pool, anvil, head, blocks_per_range=1)

    assert await stored_trades(pool) == await canonical_fills(anvil)
    ((block, tx, reason),) = await _replaced(pool)
    assert (block, tx) == (third["block"], fourth["tx"])
    assert f"tx {third['tx']}" in reason


async def test_a_misplaced_row_imported_after_the_chain_was_read_is_a_dead_letter(
    anvil: Anvil, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """The listener read the chain first; then a dump whose untimed row puts fill 2 in empty
    block 6 is imported. The listener never reads block 2 again: stored, the row would be a
    second copy for good. It is a dead letter naming its file and row."""
    fills, headers, head = await _chain(anvil)
    await _backfill(pool, anvil, head, blocks_per_range=100)
    await import_file(pool, d.write_parquet(tmp_path / "blocks.parquet", headers), chain_id=137)
    rows = [_untimed(f) for f in (fills[0], fills[1] | {"block": 6}, *fills[2:])]
    report = await import_file(
        pool, d.write_parquet(tmp_path / "fills.parquet", rows), chain_id=137
    )

    assert await stored_trades(pool) == await canonical_fills(anvil)
    assert report.stored.trades == 0 and report.dead_letters == 1
    ((block, tx, reason),) = await _replaced(pool)
    assert (block, tx) == (6, fills[1]["tx"])
    assert reason.startswith("fills.parquet row 2: OrderFilled at block 6, log index 0"), reason
    assert f"is stored at block {fills[1]['block']}" in reason
