"""A live strategy with an order resting at the CLOB stand-in, for the operator's end-to-end
tests of what must cancel it (the finalizer on delete, the uninstall hook)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import asyncpg

from orderflow import db
from orderflow.execution.engine import Executor
from orderflow.execution.live import LiveBroker
from tests.execution.conftest import (
    MARKET,
    TOKEN_NO,
    TOKEN_YES,
    WHALE,
    add_token,
    add_trade,
    add_wallet,
    leading,
)
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import login, start_clob
from tests.operator.conftest import eventually


async def whale_market(conn: asyncpg.Connection) -> None:
    """The market and the followed whale."""
    await add_token(conn, TOKEN_YES, MARKET, 0)
    await add_token(conn, TOKEN_NO, MARKET, 1)
    await add_wallet(conn, WHALE, 8.5)


@contextlib.asynccontextmanager
async def clob_and_whale(
    dsn: str,
) -> AsyncIterator[tuple[FakeClob, LiveBroker, asyncpg.Connection]]:
    """The CLOB stand-in, a live broker logged in to it and a connection to ``dsn`` with the
    whale's market stored (:func:`whale_market`); closed and stopped after."""
    clob = await start_clob()
    broker = await login(clob)
    conn = await db.connect(dsn)
    try:
        await whale_market(conn)
        yield clob, broker, conn
    finally:
        await conn.close()
        await broker.close()
        await clob.stop()


async def rest_a_live_order(
    ex: Executor, conn: asyncpg.Connection, clob: FakeClob, strategy: str = "whale"
) -> str:
    """Once ``ex`` leads and runs ``strategy`` (live, following whales), the whale buys NO at
    0.30; the book the follower reads before deciding still asks 0.30, but the ask has moved to
    0.90 when its order arrives: the order rests. Its exchange id."""
    clob.book_patch = {"asks": [{"price": "0.30", "size": "1000"}]}
    await leading(ex)

    async def known() -> bool:
        return strategy in ex.registry.states

    await eventually(known, bool, what="the executor to run the strategy")
    await add_trade(conn, token_id=TOKEN_NO, outcome_index=1, price="0.30")

    async def resting() -> list[str]:
        return clob.live_orders()

    [order_id] = await eventually(resting, bool, what="a resting live order")
    return order_id
