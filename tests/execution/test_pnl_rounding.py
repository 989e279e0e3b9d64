"""Micro-dollars over many fills (an audit, 6 Dec 2026; passes on the tree it was written on).

Each paper fill is booked at the micro-dollar (collateral and fee rounded on their own), and a
position is the replay of its fills, never a running total: after 120 buys from levels of odd
sizes, 80 partial sales and the resolution, the position's realized P&L, fees, its signal's
P&L and the performance row are what the cash did, to the micro-dollar — nothing drifts."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import asyncpg

from tests.execution.conftest import (
    MARKET,
    TOKEN_YES,
    WHALE,
    add_strategy,
    add_token,
    add_trade,
    add_wallet,
    reveal,
)
from tests.execution.paperkit import clocked_executor, settled_yes

ODD = [Decimal("1.333333"), Decimal("0.777777"), Decimal("2.123457"), Decimal("1.000001")]


async def test_many_fills_add_up_to_the_micro_dollar(pool: asyncpg.Pool, dsn: str) -> None:
    ex, clock = clocked_executor(pool, dsn)
    async with pool.acquire() as conn:
        await add_strategy(conn, "alpha", takerFeeRate=0.03, orderTtlSecs=3600)
        await add_token(conn, TOKEN_YES, MARKET, 0)
        await add_wallet(conn, WHALE, 8.5)
        await ex.registry.refresh(conn)
        await add_trade(conn, price="0.50", usdc="600")
    assert await ex.catch_up() == 1
    order = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert order["price"] == Decimal("0.51")
    async with pool.acquire() as conn:
        for n in range(120):  # asks at the quote and at the limit, odd sizes
            price = "0.50" if n % 2 else "0.51"
            await reveal(conn, price=price, shares=str(ODD[n % len(ODD)]))
    await ex.desk.reconcile()
    buys = await pool.fetch("SELECT * FROM orderflow_fills WHERE side = 'BUY'")
    assert len(buys) == 120 and all(f["fee"] > 0 for f in buys)
    async with pool.acquire() as conn:  # the whale sells: our exit rests at 0.59
        await add_trade(conn, side="SELL", price="0.60", usdc="300", at=datetime.now(UTC))
    assert await ex.catch_up() == 1
    await ex.desk.reconcile()
    async with pool.acquire() as conn:
        for n in range(80):  # bids at the exit's quote and limit, odd sizes
            price = "0.60" if n % 2 else "0.59"
            await reveal(conn, met="SELL", price=price, shares=str(ODD[n % len(ODD)]))
    await ex.desk.reconcile()
    sells = await pool.fetch("SELECT * FROM orderflow_fills WHERE side = 'SELL'")
    assert len(sells) == 80
    open_pos = await pool.fetchrow("SELECT * FROM orderflow_positions")
    paid = sum((f["usdc"] + f["fee"] for f in buys), Decimal(0))
    got = sum((f["usdc"] - f["fee"] for f in sells), Decimal(0))
    bought = sum((f["shares"] for f in buys), Decimal(0))
    held = bought - sum((f["shares"] for f in sells), Decimal(0))
    assert open_pos["shares"] == held
    # The sales left the average cost: what is held costs its share of all that was paid.
    assert open_pos["cost_basis"] == (paid * held / bought).quantize(Decimal("0.000001"))
    assert open_pos["realized_pnl"] == (got - paid * (bought - held) / bought).quantize(
        Decimal("0.000001")
    )
    pos = await settled_yes(pool, ex, clock)
    assert (pos["status"], pos["close_reason"]) == ("CLOSED", "resolved")
    pnl = got + held * 1 - paid  # the cash: received, redeemed at 1, paid
    assert pos["realized_pnl"] == pnl
    assert pos["fees_paid"] == sum((f["fee"] for f in [*buys, *sells]), Decimal(0))
    assert await pool.fetchval("SELECT pnl FROM orderflow_signals WHERE side = 'BUY'") == pnl
    perf = await pool.fetchrow("SELECT * FROM orderflow_performance")
    assert (perf["realized_pnl"], perf["total_pnl"], perf["trades"]) == (pnl, pnl, 200)
    assert perf["equity"] == Decimal(10_000) + pnl
