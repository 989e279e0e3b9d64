"""An exit that failed is tried again: the leader has left, so the position must go. One 429
on the exit's POST (nothing placed), or an exit that expired partly filled, used to leave the
position held to resolution: the leader's sell had its exit signal, and a sell makes one.
(Since 7 Dec 2026 the order worker sends a 429'd exit again itself, up to ``EXIT_RETRIES``
times: the rate limit here outlasts those tries, so the exit machinery's retry is what sells.)"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import asyncpg

from orderflow.execution.live import LiveBroker
from orderflow.execution.order_pacing import EXIT_RETRIES
from tests.execution.conftest import TOKEN_YES, add_trade, signal_outcomes
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import (
    age_exits,
    expire_partly_taken,
    holding_yes,
    position_state,
    resting_exit,
)


async def test_an_exit_refused_by_a_rate_limit_is_tried_again_after_a_pause(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    ex = await holding_yes(pool, dsn, clob, live)
    assert await signal_outcomes(pool) == [("BUY", "EXECUTED", "filled")]
    # one 429 more than the order worker sends the exit again for (EXIT_RETRIES): refused
    clob.fail("POST", "/order", 429, times=1 + EXIT_RETRIES)
    async with pool.acquire() as conn:
        await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.49")
    await ex.catch_up()
    [_, refused] = await signal_outcomes(pool)
    assert refused[:2] == ("SELL", "SKIPPED") and "429" in refused[2]
    await ex.maintenance()  # too soon: not tried again yet
    assert len(await signal_outcomes(pool)) == 2
    assert (await position_state(pool))[0] == "OPEN"
    await age_exits(pool, timedelta(minutes=1))  # the pause has passed (the database's clock)
    await ex.maintenance()
    await ex.worker.drain()
    signals = await signal_outcomes(pool)
    assert signals[2:] == [("SELL", "EXECUTED", "filled")], signals
    assert (await position_state(pool))[0] == "CLOSED"
    await age_exits(pool, timedelta(minutes=10))
    await ex.maintenance()  # closed: nothing more
    assert len(await signal_outcomes(pool)) == 3
    posts = [m for m, p in clob.requests if p == "/order"]
    # the entry, the refused exit (sent 1 + EXIT_RETRIES times by the worker), the retry
    assert posts == ["POST"] * (1 + (1 + EXIT_RETRIES) + 1)


async def test_what_an_exit_left_unsold_is_sold_by_the_next_try(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The exit rested at the bid; a counterparty took part of it and it expired: the rest
    stays held although the leader has left. The next try sells what is left."""
    ex, clock, held, sell = await resting_exit(pool, dsn, clob, live)
    assert sell["status"] == "OPEN"
    await expire_partly_taken(ex, clock, clob, sell, Decimal(100))
    await age_exits(pool, timedelta(minutes=1))  # the pause has passed
    await ex.maintenance()  # tries again
    await ex.worker.drain()
    first, second = await pool.fetch(
        "SELECT * FROM orderflow_orders WHERE side = 'SELL' ORDER BY id"
    )
    assert (first["status"], first["filled_shares"]) == ("CANCELED", 100)
    assert (second["status"], second["shares"]) == ("FILLED", held - 100)
    assert await position_state(pool) == ("CLOSED", Decimal(0))
    attempts = await pool.fetch(
        "SELECT attempt, tx_hash, log_index FROM orderflow_signals WHERE side = 'SELL'"
    )
    assert [r["attempt"] for r in attempts] == [0, 1]  # two tries on the leader's one sell
    assert len({(r["tx_hash"], r["log_index"]) for r in attempts}) == 1
