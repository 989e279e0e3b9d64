"""A fill the node's logs replace (``store_replace``) keeps its FeeModule refund.

An import stored a V1 transaction — a maker SELL charged 0.084 USDC.e, all of it refunded by the
2023 FeeModule — at a wrong block (a fork's left-over, or a dump naming a wrong block), or with
a wrong amount. Its refund was applied: the fill's fee is 0, ``fee_refunded`` 0.084, and the
refund row is linked to the fill. The node's logs of that transaction then arrive
(``store_batch(…, authoritative=True)``: the listener's backfill and live blocks): the misplaced
(or colliding) fill is deleted and the node's fill stored in its place, with the fee as charged.
The node's refund is the same row as the one stored (same transaction and log index), so it is
not inserted again; the stored one is unlinked from the deleted fill and moved to the node's
block (``refund_links.unlink_refunds``), and the batch's link applies it to the node's fill: the
trades, refunds, per-(wallet, token) sums and wallet counters are those of a database that only
ever held the node's logs. Before (an audit, 6 Dec 2026) the refund stayed linked to the deleted
row, at the import's block (16 for the wrong block): the node's fill kept fee 0.084 and
``fee_refunded`` 0, the fee as charged counted instead of as paid.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from orderflow.chain import pending_sums
from orderflow.chain.decode import decode_batch
from orderflow.chain.ingest import ingest_logs
from orderflow.chain.store import store_batch
from tests.chain.factory import h32
from tests.chain.test_amounts_refunds import maker_sell_with_fee_and_2023_refund
from tests.chain.test_bulk_sums import state

BLOCK = 11
MAKER_ORDER = h32(0xC)


def _at_block(raw: dict[str, Any], block: int) -> dict[str, Any]:
    """The log with a wrong block number (its hash and time unchanged)."""
    return {**raw, "blockNumber": hex(block)}


def _other_taker_amount(raw: dict[str, Any]) -> dict[str, Any]:
    """The maker fill with another taker amount (what it received: 8.5 instead of 8.4)."""
    data = raw["data"][2:]
    words = [data[i : i + 64] for i in range(0, len(data), 64)]
    words[3] = f"{8_500_000:064x}"
    return {**raw, "data": "0x" + "".join(words)}


def _imported(kind: str) -> list[dict[str, Any]]:
    chain = maker_sell_with_fee_and_2023_refund(block=BLOCK)
    if kind == "wrong block":
        return [_at_block(raw, BLOCK + 5) for raw in chain]
    return [_other_taker_amount(chain[0]), *chain[1:]]


async def _rows(pool: asyncpg.Pool) -> tuple[list[tuple[Any, ...]], ...]:
    trades = await pool.fetch(
        "SELECT tx_hash, log_index, block_number, block_hash, timestamp, fee, fee_refunded"
        " FROM orderflow_trades ORDER BY block_number, log_index"
    )
    refunds = await pool.fetch(
        "SELECT tx_hash, log_index, block_number, block_hash, timestamp, refund, trade_log_index"
        " FROM orderflow_fee_refunds ORDER BY tx_hash, log_index"
    )
    return [tuple(r) for r in trades], [tuple(r) for r in refunds]


async def _maker_fee(pool: asyncpg.Pool) -> tuple[int, Decimal, Decimal]:
    row = await pool.fetchrow(
        "SELECT block_number, fee, fee_refunded FROM orderflow_trades WHERE order_hash = $1",
        MAKER_ORDER,
    )
    assert row is not None, "the maker fill is missing"
    return row["block_number"], row["fee"], row["fee_refunded"]


@pytest.mark.parametrize("bulk", [False, True], ids=["batch by batch", "bulk"])
@pytest.mark.parametrize("kind", ["wrong block", "wrong amount"])
async def test_a_fill_replaced_by_the_nodes_log_keeps_its_fee_refund(
    pool: asyncpg.Pool, other_pool: asyncpg.Pool, kind: str, bulk: bool
) -> None:
    chain = maker_sell_with_fee_and_2023_refund(block=BLOCK)
    await ingest_logs(pool, _imported(kind), chain_id=137, bulk=bulk)
    _, fee, refunded = await _maker_fee(pool)
    assert (fee, refunded) == (Decimal(0), Decimal("0.084")), "setup: the import's refund"

    async with pool.acquire() as conn:
        stats = await store_batch(conn, decode_batch(chain, 137), chain_id=137, authoritative=True)
    assert stats.replaced_trades >= 1, "setup: the node's log replaced the imported fill"
    assert stats.refunds_applied == 1
    if bulk:  # the import's sums, still pending, are folded as its end (or the next run) would
        async with pool.acquire() as conn:
            await pending_sums.fold(conn)

    # What a database holding only the node's logs has: the fee as paid, the refund noted.
    block, fee, refunded = await _maker_fee(pool)
    refund_row = await pool.fetchrow(
        "SELECT block_number, trade_log_index FROM orderflow_fee_refunds"
    )
    assert refund_row is not None
    assert (block, fee, refunded) == (BLOCK, Decimal(0), Decimal("0.084")), (
        f"the node's fill at block {block} has fee {fee} and fee_refunded {refunded}: its "
        f"0.084 refund was not applied (the refund row stays at block "
        f"{refund_row['block_number']}, linked to log index {refund_row['trade_log_index']} "
        "of the deleted row)"
    )
    assert refund_row["block_number"] == BLOCK, (
        f"the refund row names block {refund_row['block_number']}, not the node's {BLOCK}"
    )

    reference = other_pool  # a database that only ever held the node's logs
    async with reference.acquire() as conn:
        await store_batch(conn, decode_batch(chain, 137), chain_id=137, authoritative=True)
    assert await _rows(pool) == await _rows(reference)
    assert await state(pool) == await state(reference)  # sums (fee columns) and counters

    async with pool.acquire() as conn:  # a replay: nothing left to replace or apply
        again = await store_batch(conn, decode_batch(chain, 137), chain_id=137, authoritative=True)
    assert (again.replaced_trades, again.refunds, again.refunds_applied) == (0, 0, 0)
    assert await _rows(pool) == await _rows(reference)
