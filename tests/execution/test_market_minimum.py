"""Live orders are sized against the market's own minimum order size, read from the exchange
(``GET /book``: ``min_order_size``, ``tick_size``), not the strategy's ``min_order_size``.

Polymarket markets have their own minimum (5 shares for most, 15 or more for some). Sized
against the strategy's 5, an entry of 10 shares in a 15-share market went out and was refused
(``Size (10) lower than the minimum: 15``), and an exit of 10 held shares was refused and sent
again by every retry, forever, instead of being held to resolution (``exit_below_min_size``)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import asyncpg

from orderflow.execution.engine import Executor
from orderflow.execution.live import LiveBroker
from tests.execution.conftest import (
    MARKET,
    TOKEN_YES,
    WHALE,
    add_strategy,
    add_token,
    add_trade,
    add_wallet,
    fill_resting,
    follow,
    signal_outcomes,
)
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import Clock, age_exits, live_executor, live_strategy

BOOK = ("GET", "/book")
POST = ("POST", "/order")


async def _held_ten(pool: asyncpg.Pool, ex: Executor, clob: FakeClob, live: LiveBroker) -> None:
    """An entry of 15 shares or more of which 10 filled (only 10 on offer), the rest cancelled:
    10 shares held in a market whose minimum is 15."""
    clob.markets[TOKEN_YES].ask_sizes[TOKEN_YES] = Decimal(10)
    entry = await follow(pool, ex, token_id=TOKEN_YES, price="0.50")
    assert entry is not None, await signal_outcomes(pool)
    assert entry["shares"] >= 15 and entry["filled_shares"] == 10, dict(entry)
    cancelled = await live.cancel([entry["exchange_order_id"]])
    assert cancelled.canceled == (entry["exchange_order_id"],)
    await ex.maintenance()
    clob.markets[TOKEN_YES].bids[TOKEN_YES] = Decimal("0.48")  # an exit would cross


async def _leader_sells_and_retries(pool: asyncpg.Pool, ex: Executor, clock: Clock) -> None:
    """The leader sells; maintenance runs again and again over the next quarter of an hour."""
    async with pool.acquire() as conn:
        await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.48")
    await ex.catch_up()
    await ex.worker.drain()
    for _ in range(4):
        clock.offset += timedelta(minutes=6)  # past the longest pause between exit tries,
        await age_exits(pool, timedelta(minutes=6))  # on the database's clock too
        await ex.maintenance()
        await ex.worker.drain()


async def test_an_exit_under_the_markets_own_minimum_is_held_not_sent(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    await live_strategy(pool)  # the strategy's min_order_size: 5
    clob.markets[TOKEN_YES].min_size = Decimal(15)
    clock = Clock()
    ex = live_executor(pool, dsn, live, clock=clock)
    await _held_ten(pool, ex, clob, live)
    posts = clob.requests.count(POST)
    await _leader_sells_and_retries(pool, ex, clock)
    assert clob.requests.count(POST) == posts, clob.rejections  # nothing the CLOB must refuse
    assert clob.rejections == []
    exits = await pool.fetch(
        "SELECT status, reason, inputs FROM orderflow_signals WHERE side = 'SELL' ORDER BY id"
    )
    assert [(e["status"], e["reason"]) for e in exits] == [("SKIPPED", "exit_below_min_size")]
    assert exits[0]["inputs"]["exit"]["min_order_size"] == "15"
    pos = await pool.fetchrow("SELECT status, shares FROM orderflow_positions")
    assert (pos["status"], pos["shares"]) == ("OPEN", 10)  # held to resolution
    assert clob.requests.count(BOOK) == 1  # read once, then cached


async def test_an_exit_refused_as_under_the_minimum_is_not_sent_again(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The book cannot be read (the exchange answers 503): the strategy's minimum is used, the
    entry still goes out, the exit goes out once and is refused; the refusal's minimum is
    recorded, and the next try is SKIPPED ``exit_below_min_size`` instead of another POST."""
    await live_strategy(pool)
    clob.markets[TOKEN_YES].min_size = Decimal(15)
    clob.fail("GET", "/book", 503)
    clock = Clock()
    ex = live_executor(pool, dsn, live, clock=clock)
    await _held_ten(pool, ex, clob, live)  # not blocked by the unreadable book
    posts = clob.requests.count(POST)
    await _leader_sells_and_retries(pool, ex, clock)
    assert clob.requests.count(POST) == posts + 1, clob.rejections  # one refused exit, no more
    assert [r for r in clob.rejections if "lower than the minimum: 15" in r] == clob.rejections
    assert len(clob.rejections) == 1
    exits = await signal_outcomes(pool)
    assert [(s, r.split(":")[0]) for _, s, r in exits[1:]] == [
        ("SKIPPED", "order_rejected"),
        ("SKIPPED", "exit_below_min_size"),
    ], exits
    pos = await pool.fetchrow("SELECT status, shares FROM orderflow_positions")
    assert (pos["status"], pos["shares"]) == ("OPEN", 10)


async def test_an_entry_under_the_markets_own_minimum_is_skipped_not_sent(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """A stake of $5 at 0.50 buys about 10 shares: over the strategy's minimum (5), under the
    market's (15). Not sized up (that would stake more than the strategy's rules allow): the
    signal is SKIPPED ``below_min_size`` with the market's minimum in its inputs, nothing sent."""
    await live_strategy(pool, max_position_usd=5.0)
    clob.markets[TOKEN_YES].min_size = Decimal(15)
    ex = live_executor(pool, dsn, live)
    async with pool.acquire() as conn:
        await ex.registry.refresh(conn)
        await add_trade(conn, token_id=TOKEN_YES, price="0.50")
        await add_trade(conn, token_id=TOKEN_YES, price="0.50")
    await ex.catch_up()
    rows = await pool.fetch("SELECT status, reason, inputs FROM orderflow_signals ORDER BY id")
    assert [(r["status"], r["reason"]) for r in rows] == [("SKIPPED", "below_min_size")] * 2
    sizing = rows[0]["inputs"]["sizing"]
    assert 5 <= Decimal(sizing["shares"]) < 15 and sizing["min_order_size"] == "15", sizing
    assert clob.requests.count(POST) == 0 and clob.rejections == []
    assert clob.requests.count(BOOK) == 1  # one read for both decisions


async def test_a_paper_strategy_keeps_its_own_minimum(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Paper mode has no book to read: the same entry is sized against the strategy's minimum
    and filled on paper, and the exchange is not asked (the live broker is there, unused)."""
    async with pool.acquire() as conn:
        await add_strategy(conn, "paper-one", mode="paper", max_position_usd=5.0)
        await add_token(conn, TOKEN_YES, MARKET, 0)
        await add_wallet(conn, WHALE, 8.5)
    clob.markets[TOKEN_YES].min_size = Decimal(15)
    ex = live_executor(pool, dsn, live)
    await follow(pool, ex, token_id=TOKEN_YES, price="0.50")
    assert await fill_resting(pool, ex) == 1
    assert await signal_outcomes(pool) == [("BUY", "EXECUTED", "filled")]
    assert clob.requests.count(BOOK) == 0 and clob.requests.count(POST) == 0
