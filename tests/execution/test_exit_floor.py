"""An exit sells what the book takes near the leader's price, and never below a floor.

An exit is a GTD limit at the quote (live: the book's best bid) less the slippage: what the top
of the book takes is sold at once and the rest rests as an ask (an exit is not capped by the
book's depth: leaving needs the rest offered). What the rest did not sell when it expired is
tried again at the quote of the moment, and each try went lower with the book: a position whose
leader sold at 0.49 was sold 100 shares at 0.48, then the rest at 0.04 into a book left bidding
0.05 — however far the bids had fallen. An exit is now never priced below the leader's sale
less ``max_price_move``, the move an entry allows too (``price_moved``): the rest rests there."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import asyncpg

from orderflow.execution.live import LiveBroker
from tests.execution.conftest import TOKEN_YES, add_trade, follow
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import Clock, age_exits, live_executor, live_strategy


async def test_an_exit_is_not_sold_down_a_falling_book(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Held at 0.50; the leader sells at 0.49, where the book bids for 100 shares only: the
    exit sells those 100 and rests the rest at 0.48 (the bid less 20 bps, down to the tick).
    It expires; the book now bids 0.05 for any size. The next try rests at 0.46 (0.49 less
    ``max_price_move`` 0.03), selling nothing below it."""
    await live_strategy(pool, quote_from="book")
    clock = Clock()
    ex = live_executor(pool, dsn, live, clock=clock)
    await follow(pool, ex, token_id=TOKEN_YES, price="0.50")
    held = (await pool.fetchrow("SELECT shares FROM orderflow_positions"))["shares"]
    assert held > 200
    market = clob.markets[TOKEN_YES]
    market.bids[TOKEN_YES], market.bid_sizes[TOKEN_YES] = Decimal("0.49"), Decimal(100)
    async with pool.acquire() as conn:
        await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.49")
    await ex.catch_up()
    await ex.worker.drain()
    first = await pool.fetchrow("SELECT * FROM orderflow_orders WHERE side = 'SELL'")
    assert (first["price"], first["shares"]) == (Decimal("0.48"), held)
    clob.clock_offset += 3600  # an hour later the rest has expired at the exchange ...
    assert clob.live_orders() == []
    clob.clock_offset = 0
    clock.offset += timedelta(hours=1)  # ... and on our clock
    market.bids[TOKEN_YES] = Decimal("0.05")
    market.bid_sizes.pop(TOKEN_YES)  # any size
    await ex.maintenance()  # closes the expired exit
    await age_exits(pool, timedelta(minutes=1))
    await ex.maintenance()  # tries again
    await ex.worker.drain()
    _, second = await pool.fetch("SELECT * FROM orderflow_orders WHERE side = 'SELL' ORDER BY id")
    sold = await pool.fetchval(
        "SELECT COALESCE(sum(usdc), 0) FROM orderflow_fills WHERE side = 'SELL'"
    )
    assert (second["price"], second["shares"], second["status"]) == (
        Decimal("0.46"),
        held - 100,
        "OPEN",
    ), (second["price"], second["status"], sold)
    assert sold == 100 * Decimal("0.48")
