"""Paper-exchange test kit: an executor on a movable clock, a whale buy for it to follow, an
exit resting, and a market resolved for its position to settle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from orderflow.execution.broker import Broker, Mode
from orderflow.execution.engine import Executor
from orderflow.execution.orders import OrderDesk
from orderflow.execution.paper import PaperBroker
from orderflow.execution.settlement import LATE_FILLS
from tests.execution.conftest import (
    MARKET,
    TOKEN_NO,
    TOKEN_YES,
    WHALE,
    add_strategy,
    add_token,
    add_trade,
    add_wallet,
    executor_settings,
    fill_resting,
    resolve,
)
from tests.execution.livekit import Clock


def clocked_executor(
    pool: asyncpg.Pool,
    dsn: str,
    clock: Clock | None = None,
    broker: PaperBroker | None = None,
    desk: type[OrderDesk] = OrderDesk,
) -> tuple[Executor, Clock]:
    """A paper executor whose desk and paper exchange read ``clock`` (a new one by default)."""
    clock = clock or Clock()
    brokers: dict[Mode, Broker] = {"paper": broker or PaperBroker(pool, clock=clock)}
    executor = Executor(
        pool, dsn, executor_settings(), brokers, clock=clock, desk=desk(pool, brokers, clock=clock)
    )
    return executor, clock


async def whale_buys(pool: asyncpg.Pool, executor: Executor) -> None:
    """Strategy ``alpha``, the two outcomes of ``MARKET``, a scored whale, and its buy of YES at
    0.50 for 600 USDC: one FOLLOW_WHALE signal once the executor catches up."""
    async with pool.acquire() as conn:
        await add_strategy(conn, "alpha")
        await add_token(conn, TOKEN_YES, MARKET, 0)
        await add_token(conn, TOKEN_NO, MARKET, 1)
        await add_wallet(conn, WHALE, 8.5, edge=0.10, edge_se=0.02)
        await executor.registry.refresh(conn)
        await add_trade(conn, price="0.50", usdc="600")


async def exit_resting(pool: asyncpg.Pool, ex: Executor, **settings: object) -> asyncpg.Record:
    """Strategy ``alpha`` followed the whale into YES (filled), the whale sold and our exit
    rests on the paper exchange (nobody bid at its limit yet): the exit order."""
    async with pool.acquire() as conn:
        await add_strategy(conn, "alpha", **settings)
        await add_token(conn, TOKEN_YES, MARKET, 0)
        await add_wallet(conn, WHALE, 8.5)
        await ex.registry.refresh(conn)
        await add_trade(conn, price="0.50")
    assert await ex.catch_up() == 1
    assert await fill_resting(pool, ex) == 1
    async with pool.acquire() as conn:
        await add_trade(conn, side="SELL", price="0.60", usdc="300", at=datetime.now(UTC))
    assert await ex.catch_up() == 1
    await ex.desk.reconcile()
    order: asyncpg.Record = await pool.fetchrow(
        "SELECT * FROM orderflow_orders WHERE side = 'SELL'"
    )
    assert order["status"] == "OPEN" and order["filled_shares"] == 0
    return order


async def settled_yes(pool: asyncpg.Pool, ex: Executor, clock: Clock) -> asyncpg.Record:
    """``MARKET`` resolved YES; the passes that cancel a resting exit, wait out the window for
    its late fills (``LATE_FILLS``) and settle the position. The position's row."""
    async with pool.acquire() as conn:
        await resolve(conn, MARKET, ["1", "0"])
    await ex.maintenance()  # the exit is cancelled; the position waits for its late fills
    clock.offset = LATE_FILLS + timedelta(minutes=1)
    await ex.maintenance()
    await ex.maintenance()
    row = await pool.fetchrow("SELECT * FROM orderflow_positions")
    assert row is not None
    return row
