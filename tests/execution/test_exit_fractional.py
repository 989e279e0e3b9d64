"""A live exit of a position with a fraction of a hundredth of a share.

The SDK signs a limit order's size rounded down to 0.01 shares (``_compute_limit_order_amounts``:
``round_down(size, 2)`` for every tick), while a position can hold any micro-share (a maker fill
of our resting order is whatever the taker took: a market order spends dollars). The exit of
such a position went out for the rounded size and the order row kept the unrounded one: the
exchange filled all it was sent and the row read as partly filled until its expiry, the position
as still being left; the next try then met the dust, which no order can sell.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import asyncpg

from orderflow.execution.live import LiveBroker
from tests.execution.conftest import signal_outcomes
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import (
    age_exits,
    expire_partly_taken,
    position_state,
    resting_exit,
)

TAKEN = Decimal("100.123456")  # a taker's market order took this much of our resting exit


async def test_an_exit_of_fractional_shares_records_what_it_sent_and_leaves_the_dust(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The first exit rested, a counterparty took 100.123456 of it, it expired; the next try
    sells the rest, 1099.876544 shares say: the SDK signs 1099.87. The order row says 1099.87
    (the signed order's size) and is FILLED when the exchange filled it; the 0.006544 left is
    dust under the market's minimum, held to resolution (never sent again). On main the row said
    1099.876544 and stayed OPEN, partly filled, after the exchange had filled it."""
    ex, clock, held, first = await resting_exit(pool, dsn, clob, live)
    assert (first["status"], first["shares"]) == ("OPEN", held)
    await expire_partly_taken(ex, clock, clob, first, TAKEN)
    rest = held - TAKEN
    assert await position_state(pool) == ("OPEN", rest)
    await age_exits(pool, timedelta(minutes=1))
    await ex.maintenance()  # tries again: the rest, as the SDK signs it
    await ex.worker.drain()
    _, second = await pool.fetch("SELECT * FROM orderflow_orders WHERE side = 'SELL' ORDER BY id")
    sent = rest.quantize(Decimal("0.01"), rounding="ROUND_DOWN")
    [signed] = [o["order"] for o in clob.orders.values() if o["order"]["side"] == "SELL"][1:]
    assert Decimal(signed["makerAmount"]) / 10**6 == sent
    assert (second["status"], second["shares"], second["filled_shares"]) == (
        "FILLED",
        sent,
        sent,
    ), dict(second)
    dust = rest - sent
    assert await position_state(pool) == ("OPEN", dust)
    # the dust is held to resolution: the next try is skipped under the minimum, nothing sent
    await age_exits(pool, timedelta(minutes=10))
    await ex.maintenance()
    await ex.worker.drain()
    outcomes = await signal_outcomes(pool)
    assert outcomes[-1] == ("SELL", "SKIPPED", "exit_below_min_size"), outcomes
    posts = [m for m, p in clob.requests if p == "/order"]
    assert len(posts) == 3  # the entry and the two exits
    await age_exits(pool, timedelta(hours=2))
    await ex.maintenance()
    assert len(await signal_outcomes(pool)) == len(outcomes)  # never tried again
