"""Fees as an accountant checks them, from fills as the listener stores them (an audit, 6 Dec
2026; passes on the tree it was written on).

A V1 BUY pays its fee in the shares it receives: the position holds the shares net of it, its
cost is the collateral paid. A FeeModule refund lowers the stored fill's fee to what was paid
(docs/listener.md "FeeModule refunds"), so the replay counts what was paid, never what was
charged: the taker's 0.4-share fee of which 0.3 came back leaves 39.9 of its 40 shares, and a
maker's SELL whose 0.084 fee came back whole receives its 8.4 in full."""

from __future__ import annotations

from decimal import Decimal

import asyncpg

from orderflow.accounting import fill_from_trade, replay
from orderflow.chain.ingest import ingest_logs
from tests.chain.factory import h32
from tests.chain.test_amounts import over_specified_v1_buy
from tests.chain.test_amounts_refunds import maker_sell_with_fee_and_2023_refund, refunds


async def _replayed(pool: asyncpg.Pool, order_hash: str) -> asyncpg.Record:
    row = await pool.fetchrow(
        "SELECT side, size, usdc_size, fee, fee_refunded, fee_asset, timestamp"
        " FROM orderflow_trades WHERE order_hash = $1",
        order_hash,
    )
    assert row is not None
    return row


async def test_a_refunded_fee_is_the_fee_paid(pool: asyncpg.Pool) -> None:
    logs = over_specified_v1_buy() + refunds() + maker_sell_with_fee_and_2023_refund()
    await ingest_logs(pool, logs, chain_id=137)

    buy = await _replayed(
        pool, h32(0xB)
    )  # the taker's BUY: 40 shares for 24 (at 0.60), fee in shares
    assert (buy["fee_asset"], buy["fee"], buy["fee_refunded"]) == (
        "SHARES",
        Decimal("0.1"),
        Decimal("0.3"),
    )
    bought = replay([fill_from_trade(buy)])
    assert (bought.shares, bought.cost_basis) == (Decimal("39.9"), Decimal(24))
    assert bought.fees_paid == Decimal("0.1") * Decimal("0.6")  # valued at the fill price
    assert bought.mark(Decimal("0.62")) == Decimal("39.9") * Decimal("0.62") - Decimal(24)
    won = replay([fill_from_trade(buy)], Decimal(1))
    assert won.realized_pnl == Decimal("39.9") - Decimal(24)

    sell = await _replayed(pool, h32(0xC))  # a maker's SELL of 20 for 8.4, its fee refunded
    assert (sell["fee_asset"], sell["fee"], sell["fee_refunded"]) == (
        "COLLATERAL",
        Decimal(0),
        Decimal("0.084"),
    )
    held = replay([fill_from_trade(buy), fill_from_trade(sell)])
    assert held.shares == Decimal("19.9")
    assert held.realized_pnl == Decimal("8.4") - Decimal(24) * 20 / Decimal("39.9")
