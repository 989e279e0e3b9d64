"""The CLOB's dead man's switch: while it leads, a live executor sends the order heartbeat, so the
exchange cancels our resting orders once the executor goes silent (it died, hangs, lost its
network) instead of leaving them to fill unwatched until they expire; a standby that takes over
continues the heartbeats' chain and keeps them (:mod:`orderflow.execution.order_heartbeat`).

The stand-in's registration lapses after ``heartbeat_timeout`` (the exchange's 10 s, shortened
here) without an accepted send; the executor sends every ``ORDER_HEARTBEAT_SECS``."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from prometheus_client import generate_latest

from orderflow.execution.live import LiveBroker
from orderflow.execution.order_heartbeat import RETRY_SECS, OrderHeartbeat
from orderflow.execution.switch import MAX_RETRY_AFTER_SECS
from orderflow.telemetry import setup_metrics
from tests.execution.conftest import (
    TOKEN_NO,
    add_trade,
    leading,
    now_true,
    running,
    wait_for,
)
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import live_executor, live_strategy, login

TIMEOUT = 6.0  # the stand-in's: seconds without an accepted heartbeat before it cancels (a margin
# for a loaded machine: a stall that long of the executor's loop would cancel the kept order)
EVERY: dict[str, Any] = {"ORDER_HEARTBEAT_SECS": 0.2}


async def _resting(pool: asyncpg.Pool, clob: FakeClob) -> str:
    """The whale buys NO at 0.30 under the stand-in's ask of 0.90: our entry rests. Its id."""
    async with pool.acquire() as conn:
        await add_trade(conn, token_id=TOKEN_NO, outcome_index=1, price="0.30")

    async def resting() -> str | None:
        order_id = await pool.fetchval(
            "SELECT exchange_order_id FROM orderflow_orders WHERE status = 'OPEN'"
        )
        return order_id if order_id and clob.orders[order_id]["status"] == "LIVE" else None

    found: str = await wait_for(resting)
    return found


@contextlib.asynccontextmanager
async def _resting_while_leading(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> AsyncIterator[str]:
    """A live executor leading (heartbeats every 0.2 s, the stand-in's timeout :data:`TIMEOUT`)
    with our entry resting: its id. The executor stops at the block's end."""
    clob.heartbeat_timeout = TIMEOUT
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live, **EVERY)
    async with running(ex):
        await leading(ex)
        yield await _resting(pool, clob)


async def _beats_past_the_timeout(clob: FakeClob) -> None:
    """Wait for accepted heartbeats spanning more than the stand-in's timeout from now."""
    start = len(clob.heartbeats)
    await wait_for(lambda: now_true(len(clob.heartbeats) - start > TIMEOUT / 0.2 + 2))


@pytest.mark.parametrize("forgetful", [False, True], ids=["keeps", "forgets"])
@pytest.mark.parametrize("fresh", [False, True], ids=["same-broker", "new-process"])
async def test_the_orders_of_an_executor_that_stops_are_cancelled_by_the_exchange(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker, forgetful: bool, fresh: bool
) -> None:
    """Before, nothing told the exchange the executor was gone: its resting entry stayed live
    (and could fill, unwatched) until it expired, minutes or hours later.

    The next executor to lead finds the order cancelled, also on an exchange that forgets the
    orders it cancelled (``forgetful``: the order endpoint answers nothing for it, as for a
    fully matched one) — from its own process (``new-process``: a new log-in, its first
    heartbeat sent with an empty id) or the same broker's (its id stale). Its first heartbeat
    taken with an empty id registers the key anew: the exchange held no registration, the
    switch had lapsed and cancelled every order resting before. Until 7 Dec 2026 a lapse was
    known only from this process's own heartbeats: after a restart an order shown nowhere
    stayed OPEN until its expiry (5 minutes here, up to 7 days), counted in the exposure and
    the market's one position; an exit so cancelled was not tried again meanwhile."""
    clob.forgetful = forgetful
    async with _resting_while_leading(pool, dsn, clob, live) as order_id:
        await _beats_past_the_timeout(clob)
        assert clob.live_orders() == [order_id]  # kept alive while the executor runs
    assert not clob.heartbeat_cancels
    # The executor stopped (a crash, a node lost: the beats stop with it).
    await wait_for(lambda: now_true(not clob.live_orders()))
    assert clob.heartbeat_cancels == [order_id]
    assert clob.orders[order_id]["status"] == "CANCELED"
    # The next executor to lead reads it cancelled; nothing is sent again.
    posted = clob.requests.count(("POST", "/order"))
    broker = await login(clob) if fresh else live
    try:
        again = live_executor(pool, dsn, broker, **EVERY)
        async with running(again):
            await leading(again)

            async def closed() -> str | None:
                status: str = await pool.fetchval(
                    "SELECT status FROM orderflow_orders WHERE exchange_order_id = $1", order_id
                )
                return status if status != "OPEN" else None

            assert await wait_for(closed) == "CANCELED"
    finally:
        if fresh:
            await broker.close()
    assert clob.requests.count(("POST", "/order")) == posted
    assert await pool.fetchval("SELECT count(*) FROM orderflow_positions") == 0


async def test_a_standby_that_takes_over_keeps_the_orders(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Two executors on one API key: the leader stops, the standby leads. Its first heartbeat
    carries no id (the exchange expects the old leader's next one): refused with the id
    expected, sent again with it, and the chain goes on — the resting order stays live past the
    exchange's timeout."""
    clob.heartbeat_timeout = TIMEOUT
    await live_strategy(pool)
    standby_broker = await login(clob)
    try:
        first = live_executor(pool, dsn, live, **EVERY)
        second = live_executor(pool, dsn, standby_broker, **EVERY)
        async with contextlib.AsyncExitStack() as stack:
            leader = await stack.enter_async_context(running(first))
            await leading(first)
            await stack.enter_async_context(running(second))
            order_id = await _resting(pool, clob)
            await wait_for(lambda: now_true(len(clob.heartbeats) > 2))
            assert not second.leading.is_set()
            leader.cancel()  # the leader stops; the standby takes the lock
            await leading(second)
            await _beats_past_the_timeout(clob)
            assert clob.live_orders() == [order_id]
        assert clob.heartbeat_mismatches >= 1  # the standby's first send, then its retry
        assert not clob.heartbeat_cancels
    finally:
        await standby_broker.close()


async def test_no_heartbeat_when_switched_off(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live, ORDER_HEARTBEAT=False, **EVERY)
    async with running(ex):
        await leading(ex)
        await _resting(pool, clob)
        start = clob.requests.count(("GET", "/data/trades"))
        # a few maintenance passes (each reads the account's trades)
        await wait_for(lambda: now_true(clob.requests.count(("GET", "/data/trades")) > start + 3))
    assert ("POST", "/v1/heartbeats") not in clob.requests
    assert not clob.heartbeat_chains


def _refused_counted() -> float:
    """``orderflow_order_heartbeats_total{result="refused"}`` as ``/metrics`` shows it now."""
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in generate_latest().decode().splitlines()
        if line.startswith("orderflow_order_heartbeats_total{") and 'result="refused"' in line
    )


async def test_heartbeats_the_exchange_refuses_are_sent_again_and_said_once(
    pool: asyncpg.Pool,
    dsn: str,
    clob: FakeClob,
    live: LiveBroker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An exchange answering 503 to the heartbeats: the executor keeps sending (within a second
    each time), warns once, not at every send, and says when one is taken again."""
    setup_metrics("executor")  # as `orderflow execute` does: /metrics reads the counters
    clob.heartbeat_timeout = TIMEOUT
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live, **EVERY)
    caplog.set_level(logging.WARNING, logger="orderflow.execution.order_heartbeat")
    async with running(ex):
        await leading(ex)
        await wait_for(lambda: now_true(clob.heartbeats))
        before = _refused_counted()
        failing = clob.fail("POST", "/v1/heartbeats", 503, times=4)
        await wait_for(lambda: now_true(failing.times == 0))
        taken = len(clob.heartbeats)
        await wait_for(lambda: now_true(len(clob.heartbeats) > taken))
    assert _refused_counted() - before == 4  # /metrics counts them
    said = [r.getMessage() for r in caplog.records]
    assert sum(m.startswith("order heartbeat not taken") for m in said) == 1, said
    assert sum(m == "order heartbeat taken again" for m in said) == 1, said
    assert not clob.heartbeat_cancels


async def test_a_rate_limited_heartbeat_waits_as_the_exchange_asks(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Heartbeats rate limited (429 with a Retry-After shorter than the switch's timeout): the
    next send waits as long as asked and goes through, and the resting order is kept. Before,
    a refused send was repeated within a second whatever the exchange said (here every 0.2 s:
    a dozen more refusals, each prolonging a real exchange's limit)."""
    async with _resting_while_leading(pool, dsn, clob, live) as order_id:
        await wait_for(lambda: now_true(clob.heartbeats))
        limited = clob.rate_limit("POST", "/v1/heartbeats", 2.5)
        await wait_for(lambda: now_true(limited.refused))
        taken = len(clob.heartbeats)
        await wait_for(lambda: now_true(len(clob.heartbeats) > taken))
        await _beats_past_the_timeout(clob)
    assert limited.refused == 1  # asked once, then waited the 3 s it was told
    assert clob.orders[order_id]["status"] == "LIVE" and not clob.heartbeat_cancels


async def test_a_retry_after_past_the_switch_is_waited_and_said(
    clob: FakeClob, live: LiveBroker, caplog: pytest.LogCaptureFixture
) -> None:
    """A 429 asking for longer than the exchange's ~10 s: the next send waits as asked (the
    order worker's cap: 30 s), and the operator is told our open orders are cancelled
    meanwhile; a 503 without a Retry-After is sent again within a second."""
    caplog.set_level(logging.WARNING, logger="orderflow.execution.order_heartbeat")
    beat = OrderHeartbeat(live, every=5.0)
    assert await beat.beat() == 5.0
    clob.fail("POST", "/v1/heartbeats", 429, times=1, retry_after=20)
    assert await beat.beat() == 20.0
    assert any("cancelled meanwhile" in r.getMessage() for r in caplog.records)
    clob.fail("POST", "/v1/heartbeats", 429, times=1, retry_after=3600)
    assert await beat.beat() == MAX_RETRY_AFTER_SECS
    clob.fail("POST", "/v1/heartbeats", 503, times=1)
    assert await beat.beat() == RETRY_SECS
    assert await beat.beat() == 5.0
