"""The paper exchange: a paper order rests until depth the chain reveals fills it.

Before, a paper order filled in full at its limit the moment it was sent, whatever the book
held: a large order filled where a live one would not, and an order nobody would have met
filled anyway. Now it fills only from maker fills stored after it was accepted, at or better
than its limit, each level's shares once across every paper order, and expires like a live
GTD order (``expires_in_secs``) with whatever it got.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import asyncpg

from orderflow.execution.engine import Executor
from tests.execution.conftest import (
    TOKEN_NO,
    TOKEN_YES,
    add_strategy,
    reveal,
)
from tests.execution.paperkit import clocked_executor, whale_buys


async def _order(pool: asyncpg.Pool) -> asyncpg.Record:
    return await pool.fetchrow("SELECT * FROM orderflow_orders ORDER BY id LIMIT 1")


async def _follow(pool: asyncpg.Pool, ex: Executor) -> asyncpg.Record:
    """The whale buys YES at 0.50; the strategy's paper BUY rests at 0.51."""
    await whale_buys(pool, ex)
    assert await ex.catch_up() == 1
    order = await _order(pool)
    assert order["status"] == "OPEN" and order["price"] == Decimal("0.51")
    return order


async def test_a_paper_order_fills_only_what_the_book_shows(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    ex = make_executor()
    order = await _follow(pool, ex)
    assert order["shares"] > 40
    async with pool.acquire() as conn:
        # 10 shares offered at 0.50, 15 at the limit, 1,000 just above it.
        await reveal(conn, price="0.50", shares="10")
        await reveal(conn, price="0.51", shares="15")
        await reveal(conn, price="0.52", shares="1000")
    await ex.desk.reconcile()
    order = await _order(pool)
    assert order["status"] == "OPEN" and order["filled_shares"] == Decimal(25)
    fills = await pool.fetch("SELECT price, shares FROM orderflow_fills ORDER BY price")
    assert [(f["price"], f["shares"]) for f in fills] == [
        (Decimal("0.50"), Decimal(10)),
        (Decimal("0.51"), Decimal(15)),
    ]
    pos = await pool.fetchrow("SELECT shares, cost_basis FROM orderflow_positions")
    assert pos["shares"] == Decimal(25)
    assert pos["cost_basis"] == Decimal("5.00") + Decimal("7.65")  # no fee set

    await ex.desk.reconcile()  # read again: nothing booked twice
    assert await pool.fetchval("SELECT count(*) FROM orderflow_fills") == 2


async def test_nothing_shown_expires_unfilled(pool: asyncpg.Pool, dsn: str) -> None:
    ex, clock = clocked_executor(pool, dsn)
    order = await _follow(pool, ex)
    async with pool.acquire() as conn:
        # Liquidity shown before the order existed was taken by someone else already.
        await reveal(conn, price="0.50", shares="1000", at=order["created_at"] - timedelta(1))
    clock.offset = timedelta(minutes=10)  # past the order's expiry (5 minutes) and its grace
    async with pool.acquire() as conn:
        # Shown after it expired: too late.
        await reveal(conn, price="0.50", shares="1000", at=clock() - timedelta(seconds=1))
    await ex.desk.reconcile()
    order = await _order(pool)
    assert order["status"] == "CANCELED" and order["status_reason"] == "expired"
    assert order["filled_shares"] == 0
    sig = await pool.fetchrow("SELECT status, reason FROM orderflow_signals")
    assert (sig["status"], sig["reason"]) == ("SKIPPED", "expired")
    assert await pool.fetchval("SELECT count(*) FROM orderflow_positions") == 0


async def test_a_level_is_taken_once_across_paper_orders(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    ex = make_executor()
    async with pool.acquire() as conn:
        await add_strategy(conn, "beta")
    await whale_buys(pool, ex)  # and alpha
    assert await ex.catch_up() == 2
    orders = await pool.fetch("SELECT * FROM orderflow_orders ORDER BY id")
    assert len(orders) == 2 and all(o["status"] == "OPEN" for o in orders)
    async with pool.acquire() as conn:
        await reveal(conn, price="0.51", shares="30")
    await ex.desk.reconcile()
    filled = await pool.fetch("SELECT filled_shares FROM orderflow_orders ORDER BY id")
    assert sum(r["filled_shares"] for r in filled) == Decimal(30)
    assert filled[0]["filled_shares"] == Decimal(30)  # the older order first


async def test_the_other_outcomes_bid_fills_through_the_unified_book(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    ex = make_executor()
    await _follow(pool, ex)
    async with pool.acquire() as conn:
        for token, other in ((TOKEN_YES, TOKEN_NO), (TOKEN_NO, TOKEN_YES)):
            await conn.execute(
                "UPDATE orderflow_tokens SET complement_token_id = $2 WHERE token_id = $1",
                Decimal(token),
                Decimal(other),
            )
        # A maker buying NO at 0.49 is an ask of YES at 0.51 (matched by minting).
        await reveal(conn, token_id=TOKEN_NO, met="SELL", price="0.49", shares="12")
    await ex.desk.reconcile()
    fill = await pool.fetchrow("SELECT price, shares FROM orderflow_fills")
    assert (fill["price"], fill["shares"]) == (Decimal("0.51"), Decimal(12))


async def test_an_ask_posted_below_the_quote_fills_the_resting_order_at_its_limit(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    ex = make_executor()
    order = await _follow(pool, ex)
    async with pool.acquire() as conn:
        # An ask at 0.20 stood nowhere when the order was priced (the quote was 0.50): it was
        # posted while the order rested at 0.51 and crossed it — the operator matches it with
        # the best bid, ours, at our price. It used to be left out as a cross nobody could hit.
        await reveal(conn, price="0.20", shares="1000")
    await ex.desk.reconcile()
    fill = await pool.fetchrow("SELECT price, shares, fee FROM orderflow_fills")
    assert (fill["price"], fill["shares"], fill["fee"]) == (Decimal("0.51"), order["shares"], 0)
    assert (await _order(pool))["status"] == "FILLED"


async def test_a_killed_strategy_cancels_its_resting_paper_order(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    ex = make_executor()
    await _follow(pool, ex)
    async with pool.acquire() as conn:
        await reveal(conn, price="0.51", shares="5")  # filled before the kill
        await conn.execute("UPDATE orderflow_strategies SET killed = true")
    await ex.maintenance()  # the kill: the desk cancels what rests
    await ex.kills.wait()
    async with pool.acquire() as conn:
        await reveal(conn, price="0.51", shares="1000")  # after the kill: not ours
    await ex.desk.reconcile()
    order = await _order(pool)
    assert order["status"] == "CANCELED" and order["filled_shares"] == Decimal(5)
    assert await pool.fetchval("SELECT sum(shares) FROM orderflow_fills") == Decimal(5)


async def test_a_restarted_executor_books_each_paper_fill_once(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    ex = make_executor()
    await _follow(pool, ex)
    async with pool.acquire() as conn:
        await reveal(conn, price="0.50", shares="7")
    await ex.desk.reconcile()
    again = make_executor()  # a new process: a new broker, the same paper exchange
    async with pool.acquire() as conn:
        await reveal(conn, price="0.51", shares="4")
        await again.registry.refresh(conn)
    await again.desk.reconcile()
    await again.desk.reconcile()
    fills = await pool.fetch("SELECT price, shares FROM orderflow_fills ORDER BY price")
    assert [(f["price"], f["shares"]) for f in fills] == [
        (Decimal("0.50"), Decimal(7)),
        (Decimal("0.51"), Decimal(4)),
    ]
    assert (await _order(pool))["filled_shares"] == Decimal(11)
    assert (await pool.fetchrow("SELECT shares FROM orderflow_positions"))["shares"] == Decimal(11)


async def test_a_paper_order_filled_in_full_is_filled(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    ex = make_executor()
    order = await _follow(pool, ex)
    async with pool.acquire() as conn:
        await reveal(conn, price="0.51", shares=str(order["shares"] + 100))
    await ex.desk.reconcile()
    order = await _order(pool)
    assert order["status"] == "FILLED" and order["filled_shares"] == order["shares"]
    sig = await pool.fetchrow("SELECT status, reason FROM orderflow_signals")
    assert (sig["status"], sig["reason"]) == ("EXECUTED", "filled")
    assert await pool.fetchval("SELECT sum(shares) FROM orderflow_paper_matches") == order["shares"]
