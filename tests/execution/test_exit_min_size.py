"""An exit the exchange must refuse is not sent: a position below the market's minimum order size
(after a partial live fill) is held to resolution, and the exit signal says so."""

from __future__ import annotations

from decimal import Decimal

import asyncpg

from orderflow.execution.live import LiveBroker
from tests.execution.conftest import TOKEN_YES, add_trade, follow
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import live_executor, live_strategy


async def test_an_exit_below_the_minimum_size_is_held_to_resolution(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """3 of the entry's shares filled and the rest was cancelled; the leader sells. The exit of 3
    shares went out and the CLOB refused it (``Size (3) lower than the minimum: 5``), each time
    the leader sold."""
    await live_strategy(pool)
    clob.markets[TOKEN_YES].ask_sizes[TOKEN_YES] = Decimal(3)  # only 3 shares on offer
    ex = live_executor(pool, dsn, live)
    entry = await follow(pool, ex, token_id=TOKEN_YES, price="0.50")
    assert entry is not None
    assert entry["status"] == "OPEN" and entry["filled_shares"] == 3
    cancelled = await live.cancel([entry["exchange_order_id"]])  # the rest is cancelled
    assert cancelled.canceled == (entry["exchange_order_id"],)
    await ex.maintenance()
    assert await pool.fetchval("SELECT status FROM orderflow_orders") == "CANCELED"
    clob.markets[TOKEN_YES].bids[TOKEN_YES] = Decimal("0.48")  # an exit would cross
    posts = clob.requests.count(("POST", "/order"))
    for _ in range(2):  # the leader sells, twice
        async with pool.acquire() as conn:
            await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.48")
        await ex.catch_up()
        await ex.maintenance()
    assert clob.requests.count(("POST", "/order")) == posts  # nothing the CLOB must refuse
    assert clob.rejections == []
    assert await pool.fetchval("SELECT count(*) FROM orderflow_orders WHERE side = 'SELL'") == 0
    exits = await pool.fetch(
        "SELECT status, reason, inputs FROM orderflow_signals WHERE side = 'SELL' ORDER BY id"
    )
    assert [(e["status"], e["reason"]) for e in exits] == [
        ("SKIPPED", "exit_below_min_size"),
        ("SKIPPED", "exit_below_min_size"),
    ]
    pos = await pool.fetchrow("SELECT * FROM orderflow_positions")
    assert pos["status"] == "OPEN" and pos["shares"] == 3  # held to resolution
