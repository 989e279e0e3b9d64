"""The CLOB's per-signer trading rate limits (July 2026: an order bucket and a cancel bucket per
signer, ``Poly-RateLimit-*`` headers on every order and cancel answer, a warning mode before
enforcement): the executor counts and logs the warnings and exports the tokens left. Before
(until 7 Dec 2026, session 41) it read none of it: four orders of which two the limiter said it
would refuse under enforcement left no line, no count, no gauge (`assert 0 == 1` log lines)."""

from __future__ import annotations

import logging

import asyncpg
import pytest
from polymarket import RateLimitUpdate

from orderflow.execution import signer_limits
from orderflow.execution.live import LiveBroker
from orderflow.telemetry import setup_metrics
from tests.execution.clob_signer_limits import SignerLimits
from tests.execution.conftest import leading, now_true, running, wait_for
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import (
    buys_in_new_markets,
    gauge_value,
    live_executor,
    live_strategy,
    metric_total,
)

WARNINGS = "orderflow_clob_rate_limit_warnings_total"


def _remaining() -> float:
    return gauge_value("orderflow_clob_rate_limit_remaining")


def _warned_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == signer_limits.__name__ and r.levelno == logging.WARNING
    ]


def _posts(clob: FakeClob) -> int:
    return clob.requests.count(("POST", "/order"))


async def test_warned_orders_are_counted_and_logged_and_still_placed(
    pool: asyncpg.Pool,
    dsn: str,
    clob: FakeClob,
    live: LiveBroker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    setup_metrics("executor")
    before = metric_total(WARNINGS)
    clob.signer_limits = SignerLimits(order=(2, 0.0001), cancel=(50, 5), tier="standard")
    await live_strategy(pool)
    caplog.set_level(logging.INFO, logger=signer_limits.__name__)
    ex = live_executor(pool, dsn, live)
    async with running(ex):
        await leading(ex)
        await buys_in_new_markets(pool, clob, 4)
        await wait_for(lambda: now_true(_posts(clob) >= 4))
        await wait_for(
            lambda: pool.fetchval(
                "SELECT count(*) = 4 FROM orderflow_orders WHERE exchange_order_id IS NOT NULL"
            )
        )
    # warning mode: every order processed; the two over the bucket warned
    assert clob.signer_limits.warned == 2 and clob.signer_limits.refused == 0
    assert metric_total(WARNINGS) - before == 2
    assert _remaining() == 0
    (line,) = _warned_lines(caplog)  # the first warned request; the next within the minute counted
    assert "would be refused (429) under enforcement" in line.getMessage()
    assert line.__dict__["tier"] == "standard"
    assert any("tier standard" in r.getMessage() for r in caplog.records)


async def test_an_order_over_the_enforced_bucket_is_refused_and_the_tokens_shown(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    setup_metrics("executor")
    clob.signer_limits = SignerLimits(order=(1, 0.0001), cancel=(50, 5), enforce=True)
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live)
    async with running(ex):
        await leading(ex)
        await buys_in_new_markets(pool, clob, 2)
        await wait_for(lambda: now_true(_posts(clob) >= 2))
        await wait_for(
            lambda: pool.fetchval(
                "SELECT count(*) = 1 FROM orderflow_signals WHERE reason LIKE '%http 429%'"
            )
        )
    assert clob.signer_limits.refused == 1
    assert len([o for o in clob.orders.values() if o["status"] == "LIVE"]) == 1
    assert _remaining() == 0  # the 429's headers read too


def test_warnings_are_logged_at_most_once_a_minute_with_the_count_since(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [1000.0]
    listener = signer_limits.SignerLimits(monotonic=lambda: now[0])
    caplog.set_level(logging.WARNING, logger=signer_limits.__name__)
    for at in (1000.0, 1010.0, 1030.0, 1065.0, 1070.0):
        now[0] = at
        listener(RateLimitUpdate(remaining=0.0, tier="standard", warning=True))
    listener(RateLimitUpdate(remaining=3.0, tier="standard"))  # no warning: no line
    lines = _warned_lines(caplog)
    assert [r.__dict__["warned"] for r in lines] == [1, 3]  # at 1000; at 1065 (1010, 1030, 1065)
    assert listener.warned == 5


async def test_a_kill_s_cancel_larger_than_the_bucket_is_split_until_it_goes_through(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Five resting orders, a cancel bucket of two under enforcement: the kill's one request of
    five ids can never be admitted (429, no Retry-After: split it). Before (until 7 Dec 2026)
    it was sent again as it was, refused for good: the killed strategy's orders stayed on the
    exchange (`wait_for` timed out with five LIVE). Now halved until each request fits."""
    from tests.execution.test_kill import _kill, _resting

    await live_strategy(pool)
    clob.signer_limits = SignerLimits(order=(100, 100), cancel=(2, 2), enforce=True)
    ex = live_executor(pool, dsn, live)
    async with running(ex):
        await leading(ex)
        await buys_in_new_markets(pool, clob, 5)
        ids = await _resting(pool, clob, 5)
        await _kill(pool, "live-one")
        await wait_for(
            lambda: pool.fetchval(
                "SELECT count(*) = 5 FROM orderflow_orders WHERE status = 'CANCELED'"
            ),
            timeout=30.0,
        )
    assert all(clob.orders[i]["status"] == "CANCELED" for i in ids)
    assert clob.signer_limits.refused_costs[0] == 5  # the first request, whole
    assert ex.desk.cancels.batch["live"] <= 2
