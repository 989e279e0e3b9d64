"""A paper strategy spends no more than it has: its bankroll plus what it realized, less what is
tied up in open positions and live BUY orders (resting, in flight, in doubt).

The real exchange refuses a BUY the wallet cannot pay for (``not enough balance / allowance``);
the paper exchange has no wallet. Kelly stakes a fraction of the configured bankroll whatever is
already staked or lost, so a paper strategy bought on after its bankroll was spent: its orders
added up to more than it had, and it went on trading after losing all of it.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import asyncpg

from orderflow.execution.engine import Executor
from tests.execution.conftest import (
    WHALE,
    add_strategy,
    add_token,
    add_trade,
    add_wallet,
    fill_resting,
    resolve,
)

# A small bankroll, the full Kelly fraction: a whale with a large edge stakes half the bankroll
# (the full-Kelly cap, 0.5) on each buy.
SETTINGS = {"bankroll_usd": 1000.0, "max_position_usd": 1000.0, "kelly_fraction": 1.0}


def _market(n: int) -> tuple[str, int]:
    return "0x" + f"{n:02x}" * 32, int("6" * 70) + 2 * n


async def _setup(pool: asyncpg.Pool, ex: Executor, **settings: object) -> None:
    async with pool.acquire() as conn:
        await add_strategy(conn, "alpha", **{**SETTINGS, **settings})
        for n in range(1, 5):
            market, token = _market(n)
            await add_token(conn, token, market, 0)
            await add_token(conn, token + 1, market, 1)
        await add_wallet(conn, WHALE, 8.5, edge=0.80, edge_se=0.05)
        await ex.registry.refresh(conn)


async def _whale_buys(pool: asyncpg.Pool, ex: Executor, n: int) -> None:
    market, token = _market(n)
    async with pool.acquire() as conn:
        await add_trade(conn, token_id=token, market=market, price="0.50", usdc="600")
    await ex.catch_up()


async def _signals(pool: asyncpg.Pool) -> list[tuple[str, str]]:
    rows = await pool.fetch("SELECT status, reason FROM orderflow_signals ORDER BY id")
    return [(r["status"], r["reason"]) for r in rows]


async def test_resting_orders_never_add_up_to_more_than_the_bankroll(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """Three whale buys in three markets, nobody selling yet: each order rests. Two take the
    whole bankroll; the third is not sent (on main: three orders of ~500, 1,500 on 1,000)."""
    ex = make_executor()
    await _setup(pool, ex)
    for n in (1, 2, 3):
        await _whale_buys(pool, ex, n)
    orders = await pool.fetch("SELECT shares, price FROM orderflow_orders ORDER BY id")
    committed = sum((o["shares"] * o["price"] for o in orders), Decimal(0))
    assert committed <= Decimal(1000), f"{len(orders)} orders worth {committed} on a 1000 bankroll"
    statuses = await _signals(pool)
    assert statuses[-1] == ("SKIPPED", "bankroll_spent")
    assert len(orders) == 2


async def test_a_strategy_that_lost_its_bankroll_stops_buying(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """Two positions of ~500 bought, then lost at resolution: the bankroll is gone, and the next
    whale buy is not followed (on main it staked 500 again, equity below zero). The daily loss
    limit is no help across days (here: set above the bankroll, as losses spread over days)."""
    ex = make_executor()
    await _setup(pool, ex, max_daily_loss=5000.0)
    for n in (1, 2):
        await _whale_buys(pool, ex, n)
    assert await fill_resting(pool, ex) == 2
    async with pool.acquire() as conn:
        for n in (1, 2):
            await resolve(conn, _market(n)[0], ["0", "1"])
    await ex.maintenance()
    realized = await pool.fetchval("SELECT sum(realized_pnl) FROM orderflow_positions")
    assert realized < Decimal(-980)
    await _whale_buys(pool, ex, 3)
    assert await pool.fetchval("SELECT count(*) FROM orderflow_orders") == 2
    assert (await _signals(pool))[-1] == ("SKIPPED", "bankroll_spent")


async def test_kelly_stakes_a_fraction_of_what_is_left_after_losses(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """Half the bankroll lost: the next stake is the same Kelly fraction (0.5) of the 500 left,
    not of the 1,000 configured (on main: 500 again, all that was left, a full-Kelly bet sized
    twice over). Gains do not grow the stake (the bankroll does not compound)."""
    ex = make_executor()
    await _setup(pool, ex, max_daily_loss=5000.0)
    await _whale_buys(pool, ex, 1)
    assert await fill_resting(pool, ex) == 1
    async with pool.acquire() as conn:
        await resolve(conn, _market(1)[0], ["0", "1"])
    await ex.maintenance()
    realized = await pool.fetchval("SELECT realized_pnl FROM orderflow_positions")
    assert Decimal(-501) < realized < Decimal(-499)
    await _whale_buys(pool, ex, 2)
    sig = await pool.fetchrow("SELECT * FROM orderflow_signals ORDER BY id DESC LIMIT 1")
    assert sig["status"] == "PENDING" and sig["reason"] == "accepted"
    stake = Decimal(sig["inputs"]["sizing"]["stake_usd"])
    assert stake == (Decimal(1000) + realized) / 2, f"staked {stake} with {1000 + realized} left"
