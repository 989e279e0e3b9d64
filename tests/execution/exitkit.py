"""A live position whose exit rests on the stand-in CLOB, and the passes that try it again
(``test_exit_shares_gone``, ``test_exit_wallet_shares``)."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from orderflow.execution.broker import Broker
from orderflow.execution.engine import Executor
from tests.execution.conftest import TOKEN_YES, add_trade
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import age_exits, holding_yes


def sells_sent(clob: FakeClob) -> int:
    """The orders sent but the entry (``POST /order``)."""
    return sum(1 for m, p in clob.requests if (m, p) == ("POST", "/order")) - 1


async def a_pass(pool: asyncpg.Pool, ex: Executor) -> None:
    """Ten minutes pass (every pause before an exit's next try), and a maintenance pass."""
    await age_exits(pool, timedelta(minutes=10))
    await ex.maintenance()
    await ex.worker.drain()


async def resting_exit(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: Broker, *, mined: bool = True
) -> tuple[Executor, str]:
    """A held YES position (its buy mined, unless ``mined`` is false: matched, its trade not
    final on chain) whose exit rests: the leader sold, nobody bids."""
    ex = await holding_yes(pool, dsn, clob, live)
    if mined:
        [entry] = clob.trades
        clob.settle(entry["id"], "MINED")
        await ex.maintenance()
    clob.markets[TOKEN_YES].bids.pop(TOKEN_YES)
    async with pool.acquire() as conn:
        await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.49")
    await ex.catch_up()
    await ex.worker.drain()
    row = await pool.fetchrow(
        "SELECT status, exchange_order_id FROM orderflow_orders WHERE side = 'SELL'"
    )
    assert row is not None and row["status"] == "OPEN"
    assert clob.orders[row["exchange_order_id"]]["status"] == "LIVE"
    return ex, row["exchange_order_id"]
