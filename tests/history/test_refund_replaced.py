"""The node's log of a FeeModule refund replaces an imported refund that differs from it.

A history file of raw logs holds a V1 transaction (a maker SELL charged 0.084 USDC.e, all of it
refunded by the 2023 FeeModule) whose refund is wrong: another amount (0.05), or another wallet
(no fill of the transaction fits it: it waits for one). The import stores it and applies what
fits (fee 0.034, ``fee_refunded`` 0.05). The node's logs of that transaction then arrive
(``store_batch(…, authoritative=True)``: the listener's backfill and live blocks): the node's
log is the chain, an import is not (as for fills: ``store_replace``), so the imported refund is
undone (its fill's fee back to as charged), replaced by the node's, which the batch's link
applies — a dead letter naming the replaced refund, counted in ``StoreStats.replaced_refunds``.
The trades, refunds, per-(wallet, token) sums and wallet counters are then those of a database
that only ever held the node's logs. Before (6 Dec 2026) the refund's insert skipped the stored
row (``ON CONFLICT DO NOTHING``): the import's 0.05 stayed, the fill's fee 0.034 instead of 0;
with another wallet, the refund never applied, the fee 0.084 as charged.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from orderflow.chain import contracts as c
from orderflow.chain.decode import decode_batch
from orderflow.chain.encode import encode_fee_refunded_2023
from orderflow.chain.store import StoreStats, store_batch
from orderflow.history import import_file
from tests.chain.factory import addr, at, h32
from tests.chain.test_amounts import MAKER2
from tests.chain.test_amounts_refunds import maker_sell_with_fee_and_2023_refund
from tests.chain.test_bulk_sums import state

BLOCK = 11
MAKER_ORDER = h32(0xC)


def _imported(kind: str) -> list[dict[str, Any]]:
    """The transaction as the file has it: its refund of another amount or wallet."""
    chain = maker_sell_with_fee_and_2023_refund(block=BLOCK)
    amount, to = (50_000, MAKER2) if kind == "amount" else (84_000, addr(0xEE))
    refund = encode_fee_refunded_2023(
        at=at(BLOCK, 3, 2), token=c.USDC_E, to=to, token_id=0, amount=amount
    )
    return [*chain[:3], refund]


async def _node(pool: asyncpg.Pool) -> StoreStats:
    chain = maker_sell_with_fee_and_2023_refund(block=BLOCK)
    async with pool.acquire() as conn:
        return await store_batch(conn, decode_batch(chain, 137), chain_id=137, authoritative=True)


async def _rows(pool: asyncpg.Pool) -> tuple[list[tuple[Any, ...]], ...]:
    trades = await pool.fetch(
        "SELECT tx_hash, log_index, block_number, block_hash, fee, fee_refunded"
        " FROM orderflow_trades ORDER BY block_number, log_index"
    )
    refunds = await pool.fetch(
        "SELECT tx_hash, log_index, block_number, block_hash, timestamp, fee_module,"
        " wallet_address, token_id, refund, order_hash, fee_charged, trade_log_index"
        " FROM orderflow_fee_refunds ORDER BY tx_hash, log_index"
    )
    return [tuple(r) for r in trades], [tuple(r) for r in refunds]


@pytest.mark.parametrize("kind", ["amount", "wallet"])
async def test_the_nodes_refund_replaces_an_imported_one_that_differs(
    pool: asyncpg.Pool, chain_pool: asyncpg.Pool, tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "logs.jsonl"
    path.write_text("".join(json.dumps(raw) + "\n" for raw in _imported(kind)))
    await import_file(pool, path, chain_id=137, hand_over=False)
    imported = await pool.fetchval("SELECT refund FROM orderflow_fee_refunds")
    assert imported == (Decimal("0.05") if kind == "amount" else Decimal("0.084")), "setup"

    stats = await _node(pool)
    row = await pool.fetchrow(
        "SELECT fee, fee_refunded FROM orderflow_trades WHERE order_hash = $1", MAKER_ORDER
    )
    refund = await pool.fetchrow("SELECT wallet_address, refund FROM orderflow_fee_refunds")
    assert row is not None and refund is not None
    assert (row["fee"], row["fee_refunded"], refund["refund"], refund["wallet_address"]) == (
        Decimal(0),
        Decimal("0.084"),
        Decimal("0.084"),
        MAKER2,
    ), (
        f"after the node's log (a refund of 0.084 to the maker), the refund row says "
        f"{refund['refund']} to …{refund['wallet_address'][-4:]} and the maker's fill has fee "
        f"{row['fee']}, fee_refunded {row['fee_refunded']}: the import's refund was kept"
    )
    assert (stats.replaced_refunds, stats.refunds_applied) == (1, 1)
    letters = await pool.fetch("SELECT reason, log_index FROM orderflow_dead_letters")
    assert [r["log_index"] for r in letters] == [3]
    assert "differs from the node's log" in letters[0]["reason"], letters[0]["reason"]

    reference = chain_pool  # a database that only ever held the node's logs
    await _node(reference)
    assert await _rows(pool) == await _rows(reference)
    assert await state(pool) == await state(reference)  # sums (fee columns) and counters

    again = await _node(pool)  # a replay: nothing left to replace or apply
    assert (again.replaced_refunds, again.refunds, again.refunds_applied) == (0, 0, 0)
    assert await _rows(pool) == await _rows(reference)
