"""A fork's left-over from a file import goes when the node's read of the same block is stored.

A file recorded from a node's ``logs`` subscription across a reorg, from a node that never sends
``removed: true`` (anvil is one: docs/listener.md "anvil facts"), holds a fill of block 6 of the
orphaned fork (hash F), at log index 3. The canonical block 6 (hash C) holds the same transaction
re-mined at log index 0 (log indexes count per block: a transaction moved in a reorg usually gets
other ones). The listener then reads block 6 from the node (``store_batch(…, authoritative=True)``
with the block's header): it records block 6 under hash C and, before storing the node's fill,
undoes what is held at that height under another hash as a retraction of that block would
(``store_forks``: the fill, its wallet counters and sums, matches, refunds), a dead letter for the
fill, counted in ``StoreStats.replaced_trades``. The fill is stored once, the ledger's rows,
sums and counters are those of a database that only ever held the node's block. Before (an
audit, 6 Dec 2026) the fork's row stayed beside the node's: ``store_replace`` only looks for a
stored row with a staged row's (transaction hash, log index) at another block, or its (block,
log index) with other content, and a fork's row at the same height under another hash and
another log index is neither — the one order fill was stored twice, the maker's
``total_trades`` 2, although block 6 was recorded as C.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg

from orderflow.chain.block_times import BlockHeader
from orderflow.chain.decode import decode_batch
from orderflow.chain.encode_trades import encode_fill
from orderflow.chain.ingest import ingest_logs
from orderflow.chain.store import StoreStats, store_batch
from tests.chain.factory import T0, addr, at, block_hash, h32
from tests.chain.hostile import TOKEN
from tests.chain.test_amounts_refunds import maker_sell_with_fee_and_2023_refund
from tests.chain.test_bulk_sums import state

BLOCK = 6
REFUNDED = 11  # the block of the refunded V1 transaction
ORDER = h32(0x5EED)


def _fill(log_index: int, *, fork: int) -> dict[str, Any]:
    """The same OrderFilled (transaction 9, order ORDER) at block 6 of a fork."""
    return encode_fill(
        "V2",
        at=at(BLOCK, log_index, 9, fork=fork),
        order_hash=ORDER,
        maker=addr(0xA1),
        taker=addr(0xB0),
        side="BUY",
        token_id=TOKEN,
        shares=10_000_000,
        collateral=5_000_000,
    )


def _header(number: int) -> BlockHeader:
    """The node's (canonical) header of block ``number``."""
    return BlockHeader(
        number,
        block_hash(number, 0),
        block_hash(number - 1, 0),
        datetime.fromtimestamp(T0 + 2 * number, UTC),
    )


async def _read(pool: asyncpg.Pool, logs: list[dict[str, Any]], number: int) -> StoreStats:
    """The listener's read of the canonical block ``number``: its logs and its header."""
    async with pool.acquire() as conn:
        return await store_batch(
            conn,
            decode_batch(logs, 137),
            chain_id=137,
            blocks=[_header(number)],
            authoritative=True,
        )


async def _node(pool: asyncpg.Pool) -> StoreStats:
    """The listener's read of the canonical block 6: its fill and its header."""
    return await _read(pool, [_fill(0, fork=0)], BLOCK)


async def test_a_forks_fill_imported_earlier_is_not_kept_beside_the_nodes_block(
    pool: asyncpg.Pool, other_pool: asyncpg.Pool
) -> None:
    await ingest_logs(pool, [_fill(3, fork=1)], chain_id=137)  # the orphaned block 6 (F)
    stats = await _node(pool)
    rows = await pool.fetch(
        "SELECT block_number, block_hash, log_index FROM orderflow_trades WHERE order_hash = $1"
        " ORDER BY log_index",
        ORDER,
    )
    recorded = await pool.fetchval(
        "SELECT block_hash FROM orderflow_blocks WHERE block_number = $1", BLOCK
    )
    assert recorded == block_hash(BLOCK, 0), "setup: block 6 recorded as the node's"
    trades = await pool.fetchval("SELECT total_trades FROM orderflow_wallet_stats")
    seen = [(r["block_number"], "…" + r["block_hash"][-10:], r["log_index"]) for r in rows]
    assert [(r["block_hash"], r["log_index"]) for r in rows] == [(block_hash(BLOCK, 0), 0)], (
        f"the one fill of order …{ORDER[-4:]} is stored {len(rows)} times (block, hash, log "
        f"index): {seen}"
        f" while block {BLOCK} is recorded as …{recorded[-10:]}; the maker's total_trades is "
        f"{trades}"
    )
    assert (stats.trades, stats.replaced_trades) == (1, 1)
    letters = await pool.fetch("SELECT block_number, log_index, reason FROM orderflow_dead_letters")
    assert [(r["block_number"], r["log_index"]) for r in letters] == [(BLOCK, 3)]
    assert "a fork's left over" in letters[0]["reason"], letters[0]["reason"]

    reference = other_pool  # a database that only ever held the node's block
    await _node(reference)
    query = "SELECT tx_hash, log_index, block_number, block_hash, usdc_size FROM orderflow_trades"
    assert [tuple(r) for r in await pool.fetch(query)] == [
        tuple(r) for r in await reference.fetch(query)
    ]
    assert await state(pool) == await state(reference)  # sums and counters

    again = await _node(pool)  # a replay: nothing left to remove, nothing stored
    assert (again.trades, again.replaced_trades) == (0, 0)
    assert await pool.fetchval("SELECT count(*) FROM orderflow_dead_letters") == 1


def _forked(raw: dict[str, Any], shift: int) -> dict[str, Any]:
    """The log in the orphaned block (hash F), ``shift`` log indexes further."""
    index = int(raw["logIndex"], 16) + shift
    return {**raw, "blockHash": block_hash(int(raw["blockNumber"], 16), 1), "logIndex": hex(index)}


async def test_a_forks_refunded_fill_and_match_go_with_their_block(
    pool: asyncpg.Pool, other_pool: asyncpg.Pool
) -> None:
    """The fork's V1 transaction (two fills, their match, a FeeModule refund applied to the
    maker's fill) at log indexes 3-6; the canonical block holds it at 0-3. The fork's rows all
    go, its refund with them: the node's refund is inserted and applied to the node's fill."""
    chain = maker_sell_with_fee_and_2023_refund(block=REFUNDED)
    await ingest_logs(pool, [_forked(raw, 3) for raw in chain], chain_id=137)
    stats = await _read(pool, chain, REFUNDED)
    assert (stats.replaced_trades, stats.replaced_matches, stats.refunds_applied) == (2, 1, 1)
    assert await pool.fetchval("SELECT count(*) FROM orderflow_dead_letters") == 4
    await _read(other_pool, chain, REFUNDED)  # a database that only ever held the node's block
    for query in (
        "SELECT tx_hash, log_index, block_hash, fee, fee_refunded FROM orderflow_trades",
        "SELECT tx_hash, log_index, block_hash FROM orderflow_matches",
        "SELECT tx_hash, log_index, block_hash, trade_log_index FROM orderflow_fee_refunds",
    ):
        rows = [tuple(r) for r in await pool.fetch(query + " ORDER BY log_index")]
        assert rows == [tuple(r) for r in await other_pool.fetch(query + " ORDER BY log_index")]
    assert await state(pool) == await state(other_pool)
