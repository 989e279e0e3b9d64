"""Limits that hold with resting orders (issue 15, items 2 and 10): resting and in-flight orders
count as positions and exposure, one position per market, no second exit while one rests."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import asyncpg

from orderflow.execution.book import load_book
from orderflow.execution.live import LiveBroker
from tests.execution.conftest import (
    MARKET,
    TOKEN_NO,
    TOKEN_YES,
    WHALE,
    add_trade,
    add_wallet,
)
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import live_executor, live_strategy, new_market

LEADER_B = "0x" + "b1" * 20


async def _signals(pool: asyncpg.Pool) -> list[tuple[str, str]]:
    rows = await pool.fetch("SELECT status, reason FROM orderflow_signals ORDER BY id")
    return [(r["status"], r["reason"]) for r in rows]


async def test_resting_orders_count_toward_open_positions_and_the_same_token(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Item 2: with max_open_positions=1, three whale buys placed three live orders, two in the
    same token (the in-flight entry was dropped once the order rested)."""
    await live_strategy(pool, max_open_positions=1)
    ex = live_executor(pool, dsn, live)
    async with pool.acquire() as conn:
        await ex.registry.refresh(conn)
        market_b, token_b = await new_market(clob, conn, 1)
        # NO rests (ask 0.90); each trade is its own batch, as trades arrive one by one.
        await add_trade(conn, token_id=TOKEN_NO, outcome_index=1, price="0.30")
        await ex.catch_up()
        await add_trade(conn, token_id=TOKEN_NO, outcome_index=1, price="0.31")
        await ex.catch_up()
        await add_trade(conn, token_id=token_b, market=market_b, price="0.30")
        await ex.catch_up()
    assert len(clob.orders) == 1
    assert await _signals(pool) == [
        ("PENDING", "accepted"),
        ("SKIPPED", "position_exists"),
        ("SKIPPED", "max_open_positions"),
    ]
    # The resting order is exposure in the book: cost at its limit, its market's cap used.
    async with pool.acquire() as conn:
        book = await load_book(conn, ex.registry.states["live-one"], datetime.now(UTC))
    [order] = await pool.fetch("SELECT * FROM orderflow_orders")
    assert book.open_positions[TOKEN_NO].cost == order["shares"] * order["price"]
    assert book.market_exposure(MARKET) == order["shares"] * order["price"]
    # Once it is cancelled (or expires), the room is back.
    clob.orders[order["exchange_order_id"]]["expiration"] = 0
    ex.desk.clock = lambda: datetime(2100, 1, 1, tzinfo=UTC)
    await ex.maintenance()
    assert await pool.fetchval("SELECT status FROM orderflow_orders") == "CANCELED"
    async with pool.acquire() as conn:
        book = await load_book(conn, ex.registry.states["live-one"], datetime.now(UTC))
    assert book.open_positions == {}


async def test_one_position_per_market_not_per_token(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Item 10: YES from one leader and NO from another were both bought: a locked loss."""
    await live_strategy(pool)
    async with pool.acquire() as conn:
        await add_wallet(conn, LEADER_B, 8.5)
    ex = live_executor(pool, dsn, live)
    async with pool.acquire() as conn:
        await ex.registry.refresh(conn)
        await add_trade(conn, token_id=TOKEN_YES, price="0.50")  # fills (ask 0.50)
        await add_trade(conn, wallet=LEADER_B, token_id=TOKEN_NO, outcome_index=1, price="0.30")
    await ex.catch_up()
    assert len(clob.orders) == 1
    assert await _signals(pool) == [("EXECUTED", "filled"), ("SKIPPED", "position_exists")]


async def test_no_second_exit_while_the_first_rests(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Item 10: the leader sold twice; a second SELL went out while the first still rested."""
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live)
    async with pool.acquire() as conn:
        await ex.registry.refresh(conn)
        await add_trade(conn, token_id=TOKEN_YES, price="0.50")
        await ex.catch_up()
        # The leader sells; nobody bids: our exit rests.
        await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.48")
        await ex.catch_up()
        sells = await pool.fetch("SELECT * FROM orderflow_orders WHERE side = 'SELL'")
        assert [s["status"] for s in sells] == ["OPEN"]
        await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.47")
        await ex.catch_up()
    posted = [o for o in clob.orders.values() if o["order"]["side"] == "SELL"]
    assert len(posted) == 1
    assert await pool.fetchval("SELECT count(*) FROM orderflow_orders WHERE side = 'SELL'") == 1
    # When the resting exit fills, the position closes once.
    clob.fill(sells[0]["exchange_order_id"])
    await ex.maintenance()
    pos = await pool.fetchrow("SELECT * FROM orderflow_positions")
    assert pos["status"] == "CLOSED" and pos["shares"] == 0 and pos["close_reason"] == "exit"
    assert WHALE  # the leader both times


async def test_resting_orders_use_the_daily_loss_budget(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """A resting BUY counts in the daily loss budget by what it would lose at once if it filled
    at its limit now (limit above the latest price), until it fills, is cancelled or expires."""
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live)
    async with pool.acquire() as conn:
        await ex.registry.refresh(conn)
        await add_trade(conn, token_id=TOKEN_NO, outcome_index=1, price="0.30")
        await ex.catch_up()
        # Someone else trades NO at 0.20: our resting limit (0.31) is 0.11 over the market.
        await add_trade(conn, wallet="0x" + "0c" * 20, token_id=TOKEN_NO, price="0.20")
        book = await load_book(conn, ex.registry.states["live-one"], datetime.now(UTC))
    order = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert book.day_pnl == -(order["price"] - Decimal("0.20")) * order["shares"]
