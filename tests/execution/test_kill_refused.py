"""A kill against a CLOB that answers but does not comply: the cancel is answered
``not_canceled`` while the order still shows open (an order the exchange holds ``UNMATCHED``,
its delayed matching under way), or every request is refused 401 (the API key was revoked).

Neither heals by asking again at once, and neither may be given up: a killed strategy's live
order must go. The kill switch keeps trying at a bounded rate (doubling to a minute), logs one
error that says what is wrong, and counts each refusal in ``orderflow_cancels_refused_total``.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from prometheus_client import generate_latest

from orderflow.cli.strategy_status import to_text
from orderflow.execution.live import LiveBroker
from orderflow.execution.status import StrategyStatus, strategy_status
from orderflow.telemetry import setup_metrics
from tests.execution.conftest import TOKEN_NO, add_trade, leading, now_true, running, wait_for
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import live_executor, live_strategy

WATCH_SECS = 7.0  # how long the refusals are watched


def refused_metric(why: str) -> float:
    total = 0.0
    for line in generate_latest().decode().splitlines():
        if line.startswith("orderflow_cancels_refused_total{") and f'why="{why}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def _errors(caplog: pytest.LogCaptureFixture, order_id: str | None = None) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.ERROR
        and r.name.startswith("orderflow.execution")
        and (order_id is None or getattr(r, "exchange_order_id", None) == order_id)
    ]


async def _resting_then_kill(pool: asyncpg.Pool, clob: FakeClob, name: str = "live-one") -> str:
    async with pool.acquire() as conn:
        # NO trades at 0.30 but asks at 0.90: the live order rests on the book.
        await add_trade(conn, token_id=TOKEN_NO, outcome_index=1, price="0.30")
    row = await wait_for(
        lambda: pool.fetchrow("SELECT * FROM orderflow_orders WHERE status = 'OPEN'")
    )
    return str(row["exchange_order_id"])


async def _kill(pool: asyncpg.Pool) -> None:
    await pool.execute("UPDATE orderflow_strategies SET killed = true, generation = generation + 1")


def _cancels(clob: FakeClob) -> int:
    return clob.requests.count(("DELETE", "/orders"))


async def _status(pool: asyncpg.Pool) -> StrategyStatus:
    """``orderflow strategy status live-one`` as the command reads it."""
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        status = await strategy_status(conn, "live-one", now, now - timedelta(hours=1))
    assert status is not None
    return status


def _refused_in_status(status: StrategyStatus, why: str) -> None:
    """The status says the killed strategy's cancels are refused, why, and how many orders
    are still live at the exchange (it showed the live order, not that its cancels fail)."""
    [order] = status.live_orders
    assert order.cancel_refusals >= 2 and order.cancel_refused_why is not None
    assert why in order.cancel_refused_why
    text = to_text(status)
    assert "cancels refused: 1 live order still at the exchange since " in text, text
    assert order.cancel_refused_since is not None and order.cancel_refused_at is not None
    assert order.cancel_refused_since < order.cancel_refused_at  # the first refusal, kept
    assert f"{order.cancel_refused_since.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" in text, text


async def test_a_cancel_the_exchange_answers_not_canceled_is_retried_slowly_and_reported(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker, caplog: pytest.LogCaptureFixture
) -> None:
    """The exchange holds the order UNMATCHED and answers every cancel ``not_canceled``: the
    kill switch sent the cancel again every 2 s (50 ms at first) until the order's expiry —
    up to 7 days —, silently. Now the pause doubles to a minute, one error names the order,
    and the order is still cancelled once the exchange lets it go."""
    setup_metrics("executor")
    caplog.set_level(logging.WARNING)
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live)
    async with running(ex):
        await leading(ex)
        oid = await _resting_then_kill(pool, clob)
        clob.report(oid, "UNMATCHED")  # its matching delayed: "order can't be canceled"
        before = refused_metric("not_canceled")
        await _kill(pool)
        await wait_for(lambda: now_true(_cancels(clob) > 0))
        await asyncio.sleep(WATCH_SECS)
        sent = _cancels(clob)
        # 0 s, 2 s, 6 s: three at most (it was eight: 50 ms, 100 ms, ... doubling to 2 s)
        assert sent <= 3, f"{sent} cancels in {WATCH_SECS} s"
        # The second refusal in a row is the error: waited for, not expected within the window
        # (on a loaded machine the attempt 2 s after the first may come after it).
        await wait_for(lambda: now_true(refused_metric("not_canceled") - before >= 2))
        await wait_for(lambda: now_true(_errors(caplog, oid)))
        assert len(_errors(caplog, oid)) == 1, _errors(caplog)
        assert await pool.fetchval("SELECT status FROM orderflow_orders") == "OPEN"
        _refused_in_status(await _status(pool), "not_canceled")
        clob.report(oid, "LIVE")  # the exchange lets it go: the kill still cancels it
        await wait_for(lambda: now_true(clob.orders[oid]["status"] == "CANCELED"))
        await wait_for(
            lambda: pool.fetchrow("SELECT * FROM orderflow_orders WHERE status = 'CANCELED'")
        )


async def test_a_kill_with_a_revoked_api_key_retries_slowly_and_says_what_to_do(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker, caplog: pytest.LogCaptureFixture
) -> None:
    """Every cancel is answered 401 (the key was revoked): the kill switch asked again 50 ms,
    100 ms, ... 2 s later for ever, each time with a warning that said only "retrying". A 401
    does not heal by asking again: now the pause doubles to a minute (the key may be fixed),
    one error says the API key is refused and what to do, and the refusals are counted."""
    setup_metrics("executor")
    caplog.set_level(logging.WARNING)
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live)
    async with running(ex):
        await leading(ex)
        oid = await _resting_then_kill(pool, clob)
        keys = dict(clob.creds)
        clob.revoke_keys()
        before = refused_metric("credentials")
        await _kill(pool)
        await wait_for(lambda: now_true(_cancels(clob) > 0))
        await asyncio.sleep(WATCH_SECS)
        sent = _cancels(clob)
        assert sent <= 3, f"{sent} cancels in {WATCH_SECS} s"
        # Two refusals, one error: waited for, not expected within the window (a loaded machine)
        await wait_for(lambda: now_true(refused_metric("credentials") - before >= 2))
        errors = [e for e in _errors(caplog) if "API key" in e]
        assert len(errors) == 1, _errors(caplog)
        assert "POLY_API_KEY" in errors[0]
        _refused_in_status(await _status(pool), "credentials")
        clob.creds.update(keys)  # the key is valid again: the kill gets through
        await wait_for(lambda: now_true(clob.orders[oid]["status"] == "CANCELED"))
