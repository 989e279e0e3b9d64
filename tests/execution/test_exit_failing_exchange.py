"""A leader's exit against a failing exchange: the entry that followed the leader still rests
(part of it filled at placement) when the leader sells, and the exchange refuses the cancel
for a while (503) as a counterparty takes the rest. The exit sells what is held at once; what
the entry fills afterwards is sold by the exit's next try (docs/executor.md "An exit that
failed is tried again")."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import asyncpg

from orderflow.execution.live import LiveBroker
from tests.execution.conftest import TOKEN_YES, add_trade, follow, signal_outcomes
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import age_exits, live_executor, live_strategy


async def test_what_the_entry_fills_while_its_cancel_fails_is_exited_too(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """6 shares of our BUY matched at placement, the rest rested. The leader sold: the exit
    sold the 6 held then, and the cancel of the rest met 503s while a counterparty took it
    all. That rest was booked afterwards, but the leader's sell had its exit already: the
    strategy held the rest of a position its leader had left, to resolution."""
    await live_strategy(pool)
    market = clob.markets[TOKEN_YES]
    market.ask_sizes[TOKEN_YES] = Decimal(6)
    # bid above our resting BUY's limit (0.51): an exit selling lower would meet our own BUY
    market.bids[TOKEN_YES] = Decimal("0.55")
    ex = live_executor(pool, dsn, live)
    entry = await follow(pool, ex, token_id=TOKEN_YES, price="0.50")
    assert entry is not None
    assert entry["status"] == "OPEN" and entry["filled_shares"] == 6
    assert entry["shares"] > 11  # the rest is worth an exit of its own
    fault = clob.fail("DELETE", "/orders", 503)
    async with pool.acquire() as conn:
        await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.56")
    await ex.catch_up()
    clob.fill(entry["exchange_order_id"])  # the rest, while the cancel is refused
    fault.times = 0
    await ex.left_behind.wait()
    await ex.maintenance()  # books the rest of the entry: a new open position
    await age_exits(pool, timedelta(minutes=1))  # past the pause after the first exit
    await ex.maintenance()
    await ex.worker.drain()
    entry = await pool.fetchrow("SELECT * FROM orderflow_orders WHERE side = 'BUY'")
    assert (entry["status"], entry["filled_shares"]) == ("FILLED", entry["shares"])
    sold = await pool.fetchval(
        "SELECT coalesce(sum(filled_shares), 0) FROM orderflow_orders WHERE side = 'SELL'"
    )
    held = await pool.fetchval(
        "SELECT coalesce(sum(shares), 0) FROM orderflow_positions WHERE status = 'OPEN'"
    )
    assert (sold, held) == (entry["shares"], 0)
    exits = [("SELL", "EXECUTED", "filled")] * 2  # the 6 held at the sell, then the rest
    assert [s for s in await signal_outcomes(pool) if s[0] == "SELL"] == exits
