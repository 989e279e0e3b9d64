"""A signal's P&L is all its positions made: an entry whose rest filled after the position it
opened was closed opens a second position for the same signal (docs/executor.md "An exit that
failed is tried again"), and the signal carries both."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import asyncpg

from orderflow.execution.live import LiveBroker
from tests.execution.conftest import MARKET, TOKEN_YES, add_trade, follow, resolve
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import age_exits, live_executor, live_strategy


async def test_an_entry_filled_after_its_position_closed_carries_both_positions(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """6 shares of our BUY matched at placement, the rest rested; the leader sold, the exit
    sold the 6 (the position closed) while the cancel of the rest met 503s and a counterparty
    took it; the rest, booked afterwards, was a second position of the same signal, sold by
    the exit's next try. The signal's P&L was the second position's alone: closing it wrote
    over what the first had made."""
    await live_strategy(pool)
    market = clob.markets[TOKEN_YES]
    market.ask_sizes[TOKEN_YES] = Decimal(6)
    # bid above our resting BUY's limit (0.51): an exit selling lower would meet our own BUY
    market.bids[TOKEN_YES] = Decimal("0.55")
    ex = live_executor(pool, dsn, live)
    entry = await follow(pool, ex, token_id=TOKEN_YES, price="0.50")
    assert entry is not None
    assert entry["status"] == "OPEN" and entry["filled_shares"] == 6
    fault = clob.fail("DELETE", "/orders", 503)
    async with pool.acquire() as conn:
        await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.56")
    await ex.catch_up()
    clob.fill(entry["exchange_order_id"])
    fault.times = 0
    await ex.left_behind.wait()
    await ex.maintenance()
    await age_exits(pool, timedelta(minutes=1))
    await ex.maintenance()
    await ex.worker.drain()
    positions = await pool.fetch(
        "SELECT status, realized_pnl, handed_over_pnl FROM orderflow_positions"
        " WHERE signal_id = $1 ORDER BY id",
        entry["signal_id"],
    )
    assert [p["status"] for p in positions] == ["CLOSED", "CLOSED"]
    assert all(p["realized_pnl"] != 0 for p in positions)
    pnl = await pool.fetchval("SELECT pnl FROM orderflow_signals WHERE id = $1", entry["signal_id"])
    assert pnl == sum(p["realized_pnl"] - p["handed_over_pnl"] for p in positions)


async def test_a_settled_position_whose_buy_failed_leaves_its_signal_no_pnl(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The BUY matched at placement, the market resolved NO before the trade was final (the
    position settled at 0: the signal's P&L its loss), then the BUY's trade FAILED on chain:
    the position never existed (CLOSED ``trade_failed``, nothing realized), its signal SKIPPED
    ``trade_failed`` with no P&L. Until 6 Dec 2026 the signal kept the settlement's loss of a
    trade that never happened (-204.08)."""
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live)
    await follow(pool, ex, token_id=TOKEN_YES, price="0.50")
    order = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert order["status"] == "FILLED"
    [tid] = [t["id"] for t in clob.trades if t["taker_order_id"] == order["exchange_order_id"]]

    async with pool.acquire() as conn:
        await resolve(conn, MARKET, ["0", "1"])
    await ex.maintenance()
    pos = await pool.fetchrow("SELECT * FROM orderflow_positions")
    assert (pos["status"], pos["close_reason"]) == ("CLOSED", "resolved")
    assert pos["realized_pnl"] < 0
    pnl = await pool.fetchval("SELECT pnl FROM orderflow_signals WHERE id = 1")
    assert pnl == pos["realized_pnl"]

    clob.settle(tid, "FAILED")
    for _ in range(2):
        await ex.maintenance()
    pos = await pool.fetchrow("SELECT * FROM orderflow_positions")
    assert (pos["status"], pos["close_reason"], pos["realized_pnl"]) == (
        "CLOSED",
        "trade_failed",
        Decimal(0),
    )
    assert pos["settled_payout"] is None
    signal = await pool.fetchrow("SELECT status, reason, pnl FROM orderflow_signals WHERE id = 1")
    assert (signal["status"], signal["reason"], signal["pnl"]) == ("SKIPPED", "trade_failed", None)
