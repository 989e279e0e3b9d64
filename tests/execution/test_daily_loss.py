"""Daily loss as P&L since 00:00 UTC (issue 15, item 8): realized since midnight, partial sells
included, plus the change of unrealized P&L since midnight's mark (the worked example of
docs/executor.md)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg

from orderflow.execution.book import load_book
from orderflow.execution.daypnl import DayMarks
from orderflow.execution.engine import Executor
from orderflow.execution.performance import day_start
from orderflow.execution.position_queries import store_position
from orderflow.execution.positions import load_position
from tests.execution.conftest import (
    MARKET,
    MARKET_B,
    TOKEN_NO,
    TOKEN_YES,
    WHALE,
    add_strategy,
    add_token,
    add_trade,
    add_wallet,
    fill_resting,
    follow,
    trade_at,
)


async def _replay(conn: asyncpg.Connection, position_id: int) -> None:
    await store_position(conn, position_id, await load_position(conn, position_id))


async def _bought_at_half(conn: asyncpg.Connection, filled_at: datetime) -> None:
    """The entry's fill made 100 shares bought at 0.50 (cost 50, no fee) at ``filled_at``."""
    await conn.execute(
        "UPDATE orderflow_fills SET shares = 100, usdc = 50, fee = 0, price = 0.5, filled_at = $1",
        filled_at,
    )


async def _book_fill(
    conn: asyncpg.Connection,
    position_id: int,
    mode: str,
    fill_key: str,
    side: str,
    price: str,
    shares: int,
    filled_at: datetime,
) -> None:
    """A fill of the entry's order booked now: ``shares`` of YES at ``price``, no fee."""
    order_id = await conn.fetchval("SELECT id FROM orderflow_orders")
    await conn.execute(
        "INSERT INTO orderflow_fills (order_id, position_id, strategy, mode, fill_key,"
        " token_id, side, price, shares, usdc, fee, filled_at) VALUES ($1, $2, 'alpha',"
        " $3, $4, $5, $6, $7, $8, $9, 0, $10)",
        order_id,
        position_id,
        mode,
        fill_key,
        Decimal(TOKEN_YES),
        side,
        Decimal(price),
        Decimal(shares),
        Decimal(price) * shares,
        filled_at,
    )


async def _unmoved_since_midnight(
    conn: asyncpg.Connection, price: str, midnight: datetime, now: datetime
) -> None:
    """The last trade before midnight and the last one now both at ``price``."""
    await trade_at(conn, price, midnight - timedelta(hours=1))
    await trade_at(conn, price, now)


async def _entered(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor], *tokens: tuple[int, str, int]
) -> tuple[Executor, int]:
    """Strategy ``alpha`` (daily loss limit 10) has followed the whale's buy of YES, filled
    (``tokens`` stored too): the executor and the position's id."""
    async with pool.acquire() as conn:
        await add_strategy(conn, "alpha", max_daily_loss=10.0)
        await add_token(conn, TOKEN_YES, MARKET, 0)
        for token in tokens:
            await add_token(conn, *token)
        await add_wallet(conn, WHALE, 8.5)
    ex = make_executor()
    await follow(pool, ex, token_id=TOKEN_YES, price="0.50")
    assert await fill_resting(pool, ex) == 1
    return ex, int(await pool.fetchval("SELECT id FROM orderflow_positions"))


async def test_day_pnl_is_the_change_since_midnight(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    now = datetime.now(UTC)
    midnight = day_start(now)
    ex, position_id = await _entered(pool, make_executor, (TOKEN_NO, MARKET_B, 1))
    now = datetime.now(UTC)  # after the ask that filled the entry
    async with pool.acquire() as conn:
        # Yesterday: bought 100 shares at 0.50 (cost 50); the last trade before midnight 0.70.
        await _bought_at_half(conn, midnight - timedelta(hours=2))
        await trade_at(conn, "0.70", midnight - timedelta(hours=1))
        # Today: 40 shares sold at 0.60 (realized +4), the price is now 0.55.
        await _book_fill(conn, position_id, "paper", "sell-1", "SELL", "0.60", 40, now)
        await _replay(conn, position_id)
        await trade_at(conn, "0.55", now)
        book = await load_book(conn, ex.registry.states["alpha"], now)
        # (4 realized + 3 unrealized on 60 shares) - (20 unrealized at midnight) = -13.
        # The old formula (lifetime unrealized + realized of positions closed today) said +3.
        assert book.day_pnl == Decimal(-13)
        await add_trade(conn, token_id=TOKEN_NO, market=MARKET_B, outcome_index=1, price="0.40")
    await ex.catch_up()
    reason = await pool.fetchval(
        "SELECT reason FROM orderflow_signals WHERE token_id = $1", Decimal(TOKEN_NO)
    )
    assert reason == "daily_loss_limit"


async def test_yesterdays_loss_does_not_block_today(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """A position that lost 30 before midnight and has not moved since: today's P&L is 0."""
    now = datetime.now(UTC)
    midnight = day_start(now)
    ex, position_id = await _entered(pool, make_executor)
    now = datetime.now(UTC)  # after the ask that filled the entry
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE orderflow_fills SET shares = 100, usdc = 50, fee = 0, filled_at = $1",
            midnight - timedelta(hours=3),
        )
        await _replay(conn, position_id)
        await _unmoved_since_midnight(conn, "0.20", midnight, now)
        book = await load_book(conn, ex.registry.states["alpha"], now)
    assert book.day_pnl == 0


async def test_midnight_mark_replays_fills_in_booking_order(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """Midnight's mark replays a position's fills in the order they were booked, as the
    position itself does (``position_fills``): a placement fill is stamped with our clock, a
    fill from the account's trades with the exchange's whole seconds, so a sell booked after
    its buy can carry an earlier ``filled_at``. Replayed by ``filled_at`` the sell came first
    (shares from outside the book: nothing realized) and midnight's mark said +20 instead of
    +4 realized and +12 unrealized: a quiet day showed a loss of 4."""
    now = datetime.now(UTC)
    midnight = day_start(now)
    second = midnight - timedelta(hours=2)
    ex, position_id = await _entered(pool, make_executor)
    now = datetime.now(UTC)  # after the ask that filled the entry
    async with pool.acquire() as conn:
        # The buy, stamped by our clock 0.9 s into the second: 100 shares at 0.50.
        await _bought_at_half(conn, second + timedelta(milliseconds=900))
        # Booked after it: 40 shares sold at 0.60, stamped by the exchange at the whole second.
        await _book_fill(conn, position_id, "live", "trade-1", "SELL", "0.60", 40, second)
        await _replay(conn, position_id)
        assert await conn.fetchval(
            "SELECT realized_pnl FROM orderflow_positions WHERE id = $1", position_id
        ) == Decimal(4)
        # The price has not moved since before midnight: nothing happened today.
        await _unmoved_since_midnight(conn, "0.70", midnight, now)
        book = await load_book(conn, ex.registry.states["alpha"], now)
    assert book.day_pnl == 0


async def test_a_fill_from_before_midnight_booked_after_the_mark_is_in_it(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """A fill from before midnight can be booked after it (a live fill read late from the
    account's trades, a paper fill from a level the listener stored late): midnight's mark is
    then the position as it was at midnight with that fill in it, whether it was computed before
    the fill was booked (a running executor's cached mark) or after (a restarted executor)."""
    now = datetime.now(UTC)
    midnight = day_start(now)
    ex, position_id = await _entered(pool, make_executor)
    now = datetime.now(UTC)  # after the ask that filled the entry
    async with pool.acquire() as conn:
        await _bought_at_half(conn, midnight - timedelta(hours=2))
        await _replay(conn, position_id)
        await _unmoved_since_midnight(conn, "0.70", midnight, now)
        running = ex.trader.marks
        assert await running.day_pnl(conn, "alpha", midnight) == 0  # nothing moved today
        # Booked now: 100 more shares at 0.50, bought half an hour before midnight.
        late = midnight - timedelta(minutes=30)
        await _book_fill(conn, position_id, "paper", "late-1", "BUY", "0.50", 100, late)
        await _replay(conn, position_id)
        restarted = await DayMarks().day_pnl(conn, "alpha", midnight)
        assert restarted == 0  # the price has not moved since midnight
        assert await running.day_pnl(conn, "alpha", midnight) == restarted


async def test_a_trade_from_before_midnight_stored_after_the_mark_moves_it(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """The last trade before midnight can be stored after it (the listener a few seconds
    behind at 00:00, a gap filled later): midnight's mark is at the last price before midnight
    as stored now, in a running executor as after a restart."""
    now = datetime.now(UTC)
    midnight = day_start(now)
    ex, position_id = await _entered(pool, make_executor)
    now = datetime.now(UTC)  # after the ask that filled the entry
    async with pool.acquire() as conn:
        await _bought_at_half(conn, midnight - timedelta(hours=2))
        await _replay(conn, position_id)
        await _unmoved_since_midnight(conn, "0.70", midnight, now)
        running = ex.trader.marks
        assert await running.day_pnl(conn, "alpha", midnight) == 0
        # Stored now: a trade at 0.60 one second before midnight. Up 10 since (0.60 -> 0.70).
        await trade_at(conn, "0.60", midnight - timedelta(seconds=1))
        restarted = await DayMarks().day_pnl(conn, "alpha", midnight)
        assert restarted == 10
        assert await running.day_pnl(conn, "alpha", midnight) == restarted
