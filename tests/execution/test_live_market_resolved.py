"""A market resolves with our live exit resting on it: the CLOB cancels it
(``CANCELED_MARKET_RESOLVED``) and its book is gone (``clob_events.ClobEvents.resolve_market``);
on an exchange that forgets the orders it cancelled (``forgetful``) the order endpoint then
answers nothing for it, as for a fully matched one.

The position is settled at the resolution once no order of it may fill. Before (until 7 Dec
2026), on the forgetful exchange, an exit shown nowhere stayed OPEN until its expiry (the
strategy's ``order_ttl_secs``: a day here, up to 7): the position was held back from its
settlement that long — its payout, cash and P&L not booked, the position and the exit counted in
the limits. Now an open order of a market whose resolution is stored, shown nowhere by the
exchange, is closed CANCELED ``market_resolved`` (its late fills still asked for, as a
cancelled order's)."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest

from orderflow.execution.live import LiveBroker
from orderflow.execution.settlement import LATE_FILLS
from tests.execution.conftest import MARKET, TOKEN_YES, follow, resolve
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import Clock, live_executor, live_strategy

DAY = 86_400  # the strategy's order_ttl_secs: the exit would rest that long


@pytest.mark.parametrize("forgetful", [False, True], ids=["keeps", "forgets"])
async def test_an_exit_resting_at_the_resolution_lets_the_position_settle(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker, forgetful: bool
) -> None:
    clob.forgetful = forgetful
    await live_strategy(pool, order_ttl_secs=DAY)
    clock = Clock()
    ex = live_executor(pool, dsn, live, clock=clock)
    await follow(pool, ex, token_id=TOKEN_YES, price="0.50")  # the ask: held
    # The leader sells; nobody bids: our exit rests.
    exit_ = await follow(pool, ex, side="SELL", token_id=TOKEN_YES, price="0.49")
    assert exit_ is not None
    sell = await pool.fetchrow("SELECT * FROM orderflow_orders WHERE side = 'SELL'")
    assert sell is not None and sell["status"] == "OPEN"
    assert clob.resolve_market(MARKET) == [sell["exchange_order_id"]]
    async with pool.acquire() as conn:
        await resolve(conn, MARKET, ["1", "0"])  # YES pays 1
    await ex.maintenance()
    # The late fills' look-back passes (both clocks), well within the exit's day.
    clob.clock_offset = (LATE_FILLS + timedelta(minutes=1)).total_seconds()
    clock.offset = LATE_FILLS + timedelta(minutes=1)
    await ex.maintenance()
    await ex.maintenance()
    row = await pool.fetchrow(
        "SELECT status, status_reason FROM orderflow_orders WHERE id = $1", sell["id"]
    )
    assert row is not None and row["status"] == "CANCELED"
    [pos] = await pool.fetch("SELECT * FROM orderflow_positions")
    assert (pos["status"], pos["close_reason"]) == ("CLOSED", "resolved")
    [buy] = await pool.fetch("SELECT shares, usdc, fee FROM orderflow_fills")
    assert pos["realized_pnl"] == buy["shares"] - buy["usdc"] - buy["fee"]  # YES paid 1
    assert clob.requests.count(("POST", "/order")) == 2  # the entry and the exit: nothing more
