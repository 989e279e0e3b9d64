"""The market's tick changed after the executor read it (Polymarket moves a market between 0.01
and 0.001 as its price nears an end): an exit priced on the old tick is refused, and every try
priced on the cached tick was refused again until the cache's hour was up — the leader gone,
the position held. A refused or unbuildable order now has its market's rules read again."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import asyncpg

from orderflow.execution.live import LiveBroker
from tests.execution.conftest import TOKEN_YES, add_trade, signal_outcomes
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import age_exits, live_executor, live_strategy


async def test_an_exit_refused_on_a_stale_tick_is_priced_on_the_new_one_next_time(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    await live_strategy(pool)
    market = clob.markets[TOKEN_YES]
    market.tick = Decimal("0.001")
    market.bids[TOKEN_YES] = Decimal("0.49")
    ex = live_executor(pool, dsn, live)
    async with pool.acquire() as conn:
        await ex.registry.refresh(conn)
        await add_trade(conn, token_id=TOKEN_YES, price="0.50")
    await ex.catch_up()
    assert await signal_outcomes(pool) == [("BUY", "EXECUTED", "filled")]
    market.tick = Decimal("0.01")  # the market's tick changes
    async with pool.acquire() as conn:
        await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.49")
    await ex.catch_up()
    await ex.worker.drain()
    [_, refused] = await signal_outcomes(pool)
    assert refused[:2] == ("SELL", "SKIPPED"), refused  # priced 0.489: off the new tick
    await age_exits(pool, timedelta(minutes=1))
    await ex.maintenance()
    await ex.worker.drain()
    assert (await signal_outcomes(pool))[2:] == [("SELL", "EXECUTED", "filled")]
    price = await pool.fetchval("SELECT price FROM orderflow_orders WHERE status = 'FILLED'"
                                " AND side = 'SELL'")  # fmt: skip
    assert price == Decimal("0.48")
