"""One pace for an order whose cancel the exchange refuses, whoever sends the cancel.

Two senders cancel a live order: the kill switch (and the leader-exit switch,
:mod:`orderflow.execution.cancels`) and reconciliation, which cancels an order the exchange
still shows open past its expiry by our clock (:mod:`orderflow.execution.order_reconcile`).
The exchange refuses such a cancel (``not_canceled``) while it holds the order ``UNMATCHED``.
Each sender paced its refusals on its own: an expired order refused again and again was only
ever warned about (a killed strategy's is logged as an error at its second refusal), and a
killed strategy's order past its expiry — a refused kill lasting five minutes reaches it — had
its cancel sent and its refusal counted twice at each attempt (the kill's cancel, then the
reconciliation the kill runs after it), every pause.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import asyncpg
import pytest

from orderflow.execution.engine import Executor
from orderflow.execution.live import LiveBroker
from orderflow.telemetry import setup_metrics
from tests.execution.conftest import TOKEN_NO, follow, wait_for
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import Clock, live_executor, live_strategy
from tests.execution.test_kill_refused import refused_metric


def _cancels(clob: FakeClob) -> int:
    return clob.requests.count(("DELETE", "/orders"))


def _errors(caplog: pytest.LogCaptureFixture, exchange_order_id: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.ERROR
        and r.name.startswith("orderflow.execution")
        and getattr(r, "exchange_order_id", None) == exchange_order_id
    ]


async def _kill(pool: asyncpg.Pool) -> None:
    """The strategy killed (the kill switch cancels only a killed strategy's orders)."""
    await pool.execute("UPDATE orderflow_strategies SET killed = true, generation = generation + 1")


async def _expired_and_held(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> tuple[Executor, str]:
    """A resting live order, held ``UNMATCHED`` by the exchange (its cancels refused), ten
    minutes later: past its expiry (300 s) by both clocks."""
    clock = Clock()
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live, clock=clock)
    order = await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")  # rests
    assert order is not None and order["status"] == "OPEN"
    oid = str(order["exchange_order_id"])
    clob.report(oid, "UNMATCHED")
    clob.clock_offset = 600
    clock.offset = timedelta(minutes=10)
    return ex, oid


async def test_an_expired_order_refused_again_is_logged_as_an_error_once(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker, caplog: pytest.LogCaptureFixture
) -> None:
    """Its first refusal is a warning (the exchange's order endpoint may lag behind a fill),
    its second an error naming the order, as for a killed strategy's order."""
    caplog.set_level(logging.WARNING)
    ex, oid = await _expired_and_held(pool, dsn, clob, live)
    await ex.maintenance()
    assert _cancels(clob) == 1 and _errors(caplog, oid) == []

    async def refused_again() -> bool:
        await ex.maintenance()  # the cancel goes out again once its pause (2 s) has passed
        return _cancels(clob) >= 2

    await wait_for(refused_again, every=0.2)
    assert _cancels(clob) == 2
    assert len(_errors(caplog, oid)) == 1, [r.getMessage() for r in caplog.records]
    row = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert row["status"] == "OPEN" and row["cancel_refusals"] == 2


async def test_a_killed_strategys_expired_order_is_asked_and_counted_once_a_pause(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The kill's attempt sends the order's cancel once and counts its refusal once; the
    maintenance pass after it sends none (the order's pause runs, whoever asked)."""
    setup_metrics("executor")
    ex, _ = await _expired_and_held(pool, dsn, clob, live)
    await _kill(pool)
    before = refused_metric("not_canceled")
    assert await ex.desk.cancels.cancel_strategy("live-one") == 1  # refused: still open
    assert _cancels(clob) == 1
    assert refused_metric("not_canceled") - before == 1
    assert await pool.fetchval("SELECT cancel_refusals FROM orderflow_orders") == 1
    await ex.maintenance()
    assert _cancels(clob) == 1


async def test_an_expired_order_refused_by_reconciliation_is_not_asked_again_by_the_kill_at_once(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Reconciliation's cancel was refused a moment ago: the kill's first attempt waits for the
    order's pause too, then asks again (and the order is closed once the exchange lets it go)."""
    ex, oid = await _expired_and_held(pool, dsn, clob, live)
    await ex.maintenance()
    assert _cancels(clob) == 1
    await _kill(pool)
    assert await ex.desk.cancels.cancel_strategy("live-one") == 1
    assert _cancels(clob) == 1
    clob.report(oid, "LIVE")  # the exchange lets it go (past its expiry: EXPIRED)

    async def closed() -> bool:
        return await ex.desk.cancels.cancel_strategy("live-one") == 0

    await wait_for(closed, every=0.2)
    assert _cancels(clob) == 2
    assert clob.orders[oid]["status"] == "EXPIRED"
    assert await pool.fetchval("SELECT status FROM orderflow_orders") == "CANCELED"
