"""The pause before an exit is tried again is measured on one clock, the database's: the last
try's end is stamped by PostgreSQL, so the present it is compared with is PostgreSQL's too. It
used to be the executor's clock, so a skew between the two moved the pause by the skew: an
executor running ahead retried at once, one running behind not until the skew had passed."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import asyncpg

from orderflow.execution.engine import Executor
from orderflow.execution.live import LiveBroker
from orderflow.execution.order_pacing import EXIT_RETRIES
from tests.execution.conftest import TOKEN_YES, add_trade, follow, signal_outcomes
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import Clock, age_exits, live_executor, live_strategy


async def _refused_exit(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker, skew: timedelta
) -> Executor:
    """An entry filled, then its exit refused by a 429, on an executor whose clock is
    ``skew`` ahead of the database's (the fills' chain times on the executor's clock)."""
    await live_strategy(pool)
    clob.markets[TOKEN_YES].bids[TOKEN_YES] = Decimal("0.49")
    clock = Clock()
    clock.offset = skew
    ex = live_executor(pool, dsn, live, clock=clock)
    await follow(pool, ex, token_id=TOKEN_YES, price="0.50", at=clock() - timedelta(seconds=1))
    assert await signal_outcomes(pool) == [("BUY", "EXECUTED", "filled")]
    # one 429 more than the order worker sends the exit again for (EXIT_RETRIES): refused
    clob.fail("POST", "/order", 429, times=1 + EXIT_RETRIES)
    async with pool.acquire() as conn:
        sold = clock() - timedelta(seconds=1)
        await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.49", at=sold)
    await ex.catch_up()
    [_, refused] = await signal_outcomes(pool)
    assert refused[:2] == ("SELL", "SKIPPED") and "429" in refused[2]
    return ex


async def test_an_executor_clock_ahead_of_the_database_still_waits_the_pause(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Two minutes ahead: the refused exit was tried again by the very next maintenance pass
    (its end, stamped by the database, looked two minutes old)."""
    ex = await _refused_exit(pool, dsn, clob, live, timedelta(minutes=2))
    await ex.maintenance()
    assert len(await signal_outcomes(pool)) == 2  # too soon: not tried again yet
    await age_exits(pool, timedelta(minutes=1))  # the pause has passed
    await ex.maintenance()
    await ex.worker.drain()
    assert (await signal_outcomes(pool))[2:] == [("SELL", "EXECUTED", "filled")]


async def test_an_executor_clock_behind_the_database_tries_again_after_the_pause(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Ten minutes behind: the exit was not tried again until ten minutes after the pause (its
    end looked ten minutes in the future), the position held although the leader had left."""
    ex = await _refused_exit(pool, dsn, clob, live, -timedelta(minutes=10))
    await age_exits(pool, timedelta(minutes=1))  # the pause has passed
    await ex.maintenance()
    await ex.worker.drain()
    assert (await signal_outcomes(pool))[2:] == [("SELL", "EXECUTED", "filled")]
