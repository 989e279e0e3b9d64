"""A POST /order answered 503 with a ``Retry-After``: the order is in doubt (the exchange may
or may not have it: reconciled, never resent), and the exchange asked for a pause. The next
orders of the same mode waited for a 429's ``Retry-After`` but not for a 503's: they went out at
once, into the same outage."""

from __future__ import annotations

import time

import asyncpg

from orderflow.execution.live import LiveBroker
from tests.execution.conftest import leading, now_true, running, wait_for
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import buys_in_new_markets, live_executor, live_strategy

RETRY_AFTER_SECS = 6


def _posts(clob: FakeClob) -> int:
    return clob.requests.count(("POST", "/order"))


async def test_the_next_order_waits_for_a_503s_retry_after(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    await live_strategy(pool)
    clob.fail("POST", "/order", 503, times=1, retry_after=RETRY_AFTER_SECS)
    ex = live_executor(pool, dsn, live)
    async with running(ex):
        await leading(ex)
        await buys_in_new_markets(pool, clob, 2)
        await wait_for(lambda: now_true(_posts(clob) >= 1))
        refused_at = time.monotonic()
        await wait_for(lambda: now_true(_posts(clob) >= 2), timeout=30.0)
        waited = time.monotonic() - refused_at
        assert waited >= RETRY_AFTER_SECS - 1.0, f"next order sent {waited:.2f} s after the 503"
        # The order answered 503 is in doubt: reconciled, never sent again.
        await wait_for(
            lambda: pool.fetchval("SELECT count(*) = 1 FROM orderflow_orders WHERE status = 'OPEN'")
        )
        assert _posts(clob) == 2
        statuses = await pool.fetch("SELECT status FROM orderflow_orders ORDER BY id")
        assert [r["status"] for r in statuses] == ["INTENT", "OPEN"]
