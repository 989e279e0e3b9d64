"""The settlement's trade reads through a long outage (``GET /data/trades`` answering 503): each
maintenance pass, every 2 s, fails to read the status of every booked trade not final yet, and
says so at once, then at most once a minute with the count of failed reads since, and once when
they pass again — not a line per trade and pass (1,800 an hour per trade). The executor's clock
is moved 2 s a pass."""

from __future__ import annotations

import logging
from datetime import timedelta

import asyncpg
import pytest

from orderflow.execution import trade_status
from orderflow.execution.live import LiveBroker
from tests.execution.conftest import TOKEN_YES, follow
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import Clock, live_executor, live_strategy

PASSES = 90  # three minutes of passes, one every 2 s


async def test_trade_reads_failing_for_minutes_log_a_line_a_minute_and_their_return(
    pool: asyncpg.Pool,
    dsn: str,
    clob: FakeClob,
    live: LiveBroker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live, clock=clock)
    await follow(pool, ex, token_id=TOKEN_YES, price="0.50")  # ask 0.50: matched at once
    pending = "SELECT count(*) FROM orderflow_fill_trades WHERE final_at IS NULL"
    assert await pool.fetchval(pending) == 1  # matched, not final on chain yet
    caplog.set_level(logging.INFO, logger=trade_status.__name__)
    down = clob.fail("GET", "/data/trades", 503)
    for n in range(PASSES):
        clock.offset = timedelta(seconds=2 * n)
        await ex.maintenance()
    down.times = 0  # the listing answers again
    clock.offset = timedelta(seconds=2 * PASSES)
    await ex.maintenance()

    failed = [r for r in caplog.records if "trade status lookup failed" in r.getMessage()]
    assert len(failed) <= 4, f"{len(failed)} 'trade status lookup failed' lines, {PASSES} passes"
    assert failed[0].__dict__["failures"] == 1 and "503" in failed[0].__dict__["error"]
    (back,) = [r for r in caplog.records if "trade status lookups pass again" in r.getMessage()]
    assert back.__dict__["failures"] == PASSES and back.__dict__["mode"] == "live"
