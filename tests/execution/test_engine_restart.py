"""An exit met by the CLOB's matching engine restarting: Polymarket restarts it every week
(about 90 s; docs.polymarket.com/trading/matching-engine: "Order matching is paused, API
returns 425", "Do not treat this as a permanent error"; the SDK's own word for it is the
trading restriction ``"restarting"``). A POST /order answered 425 placed nothing and says
nothing about the order: like a 429, it is not one of the order's own refusals, which after
:data:`~orderflow.signals.exits.REFUSED_IN_A_ROW` in a row make an exit hourly.

It was one (``order_rejected: http 425: …``): the exit's tries 5, 10, 20 and 40 s apart put five
refusals into the first 75 s of a 90 s restart, and the position whose leader had left was
then held for an hour more."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import asyncpg

from orderflow.execution.live import LiveBroker
from orderflow.signals.exits import REFUSED_IN_A_ROW
from tests.execution.conftest import TOKEN_YES, add_trade, signal_outcomes
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import Clock, age_exits, live_executor, live_strategy

TOO_EARLY = 425  # the matching engine is restarting


def _exit_posts(clob: FakeClob) -> int:
    return sum(1 for m, p in clob.requests if (m, p) == ("POST", "/order")) - 1  # not the entry


async def test_an_exit_refused_while_the_matching_engine_restarts_is_not_made_hourly(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    await live_strategy(pool)
    clob.markets[TOKEN_YES].bids[TOKEN_YES] = Decimal("0.49")
    clock = Clock()
    ex = live_executor(pool, dsn, live, clock=clock)
    async with pool.acquire() as conn:
        await ex.registry.refresh(conn)
        await add_trade(conn, token_id=TOKEN_YES, price="0.50")  # ask 0.50: fills at once
    await ex.catch_up()
    assert await signal_outcomes(pool) == [("BUY", "EXECUTED", "filled")]
    restart = clob.fail("POST", "/order", TOO_EARLY, times=REFUSED_IN_A_ROW)
    async with pool.acquire() as conn:
        await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.49")  # the leader leaves
    await ex.catch_up()
    await ex.worker.drain()
    for _ in range(REFUSED_IN_A_ROW - 1):  # each try once its pause has passed (at most 5 min)
        await age_exits(pool, timedelta(minutes=10))
        await ex.maintenance()
        await ex.worker.drain()
    assert restart.times == 0 and _exit_posts(clob) == REFUSED_IN_A_ROW
    [*_, last] = await signal_outcomes(pool)
    assert last[:2] == ("SELL", "SKIPPED") and "425" in last[2], last
    # The engine is back. The next try is due after the usual pause, not an hour later.
    await age_exits(pool, timedelta(minutes=10))
    await ex.maintenance()
    await ex.worker.drain()
    assert _exit_posts(clob) == REFUSED_IN_A_ROW + 1, "the exit was not tried again"
    assert (await signal_outcomes(pool))[-1] == ("SELL", "EXECUTED", "filled")
    assert await pool.fetchval("SELECT status FROM orderflow_positions") == "CLOSED"
