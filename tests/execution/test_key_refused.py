"""POST /order answered 401 (our API key revoked or expired): the exchange refuses the key, not
the order. It was recorded as an ordinary rejection of the order (``order_rejected: http 401``),
and every next entry was sent with the same key and refused the same way, order after order.

Now the first 401 stops the live desk from sending orders with the key: the next ones are
SKIPPED ``credentials_refused`` unsent, one error says what to do (no secret in it), each
refusal is counted (``orderflow_credentials_refused_total``), ``orderflow strategy status`` says
so, and one authenticated read (``GET /auth/api-keys``) is tried again after a pause (2 s
doubling to a minute): once the exchange accepts the key again, orders go out again.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from orderflow.cli.strategy_status import to_text
from orderflow.execution.live import LiveBroker
from orderflow.execution.status import strategy_status
from orderflow.telemetry import setup_metrics
from tests.execution.conftest import add_trade, leading, running, wait_for
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import (
    buys_in_new_markets,
    live_executor,
    live_strategy,
    metric_total,
    new_market,
)


def _posts(clob: FakeClob) -> int:
    return clob.requests.count(("POST", "/order"))


async def _closed(pool: asyncpg.Pool, n: int) -> list[asyncpg.Record] | None:
    rows = await pool.fetch(
        "SELECT status, reason FROM orderflow_signals WHERE status <> 'PENDING' ORDER BY id"
    )
    return list(rows) if len(rows) >= n else None


async def test_orders_are_not_sent_while_the_exchange_refuses_the_api_key(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker, caplog: pytest.LogCaptureFixture
) -> None:
    setup_metrics("executor")
    caplog.set_level(logging.WARNING)
    await live_strategy(pool)
    keys = dict(clob.creds)
    secret = next(iter(keys.values())).secret
    clob.revoke_keys()
    before = metric_total("orderflow_credentials_refused_total")
    ex = live_executor(pool, dsn, live)
    async with running(ex):
        await leading(ex)
        await buys_in_new_markets(pool, clob, 3)
        signals = await wait_for(lambda: _closed(pool, 3))
        # The first entry's balance read met the 401 (nothing sent); the others were not sent
        # with the refused key either.
        assert _posts(clob) == 0, f"{_posts(clob)} orders sent with a refused key"
        assert [(r["status"], r["reason"]) for r in signals] == [
            ("SKIPPED", "credentials_refused")
        ] * 3
        assert (
            await pool.fetchval("SELECT count(*) FROM orderflow_orders WHERE status = 'REJECTED'")
            == 0
        ), "a refused key is no rejection of the order"
        assert metric_total("orderflow_credentials_refused_total") - before >= 1
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and "POLY_API_KEY" in errors[0].getMessage(), errors
        assert all(secret not in repr(r.__dict__) for r in caplog.records)
        async with pool.acquire() as conn:
            status = await strategy_status(
                conn, "live-one", datetime.now(UTC), datetime.now(UTC) - timedelta(hours=1)
            )
        assert status is not None and status.credentials is not None
        assert status.credentials.refusals >= 1
        assert "the exchange refuses the executor's API key" in to_text(status)

        clob.creds.update(keys)  # the exchange accepts the key again
        await asyncio.sleep(2.5)  # past the first pause: the next order checks the key first
        async with pool.acquire() as conn:
            market, token = await new_market(clob, conn, 9)
            await add_trade(conn, token_id=token, market=market, price="0.30")
        await wait_for(
            lambda: pool.fetchval("SELECT count(*) FROM orderflow_orders WHERE status = 'OPEN'")
        )
        assert ("GET", "/auth/api-keys") in clob.requests
        async with pool.acquire() as conn:
            status = await strategy_status(
                conn, "live-one", datetime.now(UTC), datetime.now(UTC) - timedelta(hours=1)
            )
        assert status is not None and status.credentials is None


async def test_a_key_refused_only_for_orders_is_not_tried_at_every_check(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker, caplog: pytest.LogCaptureFixture
) -> None:
    """POST /order answered 401 while the key's reads pass (reported of the real CLOB,
    py-clob-client issues 187 and 209): the check succeeds, yet the order after it is refused.
    The pause still doubles from one refused order to the next, and the error is logged once;
    a check that passes did not reset them, so an order went out every 2 s, each with an error."""
    caplog.set_level(logging.WARNING)
    await live_strategy(pool)
    clob.fail("POST", "/order", 401)
    ex = live_executor(pool, dsn, live)
    async with running(ex):
        await leading(ex)
        async with pool.acquire() as conn:
            for n in range(1, 16):  # an entry every half second for 7 s
                market, token = await new_market(clob, conn, n)
                await add_trade(conn, token_id=token, market=market, price="0.30")
                await asyncio.sleep(0.5)
        await wait_for(lambda: _closed(pool, 15))
    # tried at 0 s, after 2 s and after 4 s more: three at most
    assert _posts(clob) <= 3, f"{_posts(clob)} orders sent in 7 s with a key refused for orders"
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, errors


async def test_a_refusal_an_earlier_executor_recorded_is_cleared_once_the_key_is_accepted(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The executor that met the 401 was restarted with a key the exchange accepts. Its record of
    the refusal (``orderflow_exchange_keys``) stayed until an order of the mode went through:
    ``orderflow strategy status`` and the TradingStrategy's status said the key was refused, for
    as long as no signal came (hours), after it had been fixed. The new executor asks the
    exchange once (its first maintenance pass) and clears it."""
    await live_strategy(pool)
    await pool.execute(
        "INSERT INTO orderflow_exchange_keys (mode, last_error)"
        " VALUES ('live', 'order post failed: http 401')"
    )
    ex = live_executor(pool, dsn, live)
    async with running(ex):
        await leading(ex)
        await ex.maintenance()
        assert ("GET", "/auth/api-keys") in clob.requests
        assert await pool.fetchval("SELECT count(*) FROM orderflow_exchange_keys") == 0
        async with pool.acquire() as conn:
            status = await strategy_status(
                conn, "live-one", datetime.now(UTC), datetime.now(UTC) - timedelta(hours=1)
            )
        assert status is not None and status.credentials is None
        assert _posts(clob) == 0


async def test_a_refusal_an_earlier_executor_recorded_is_confirmed_before_an_order(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Restarted with the key still refused: the first maintenance pass finds it so, and no
    order is sent with it (the record stays, the signals are SKIPPED ``credentials_refused``)."""
    await live_strategy(pool)
    await pool.execute(
        "INSERT INTO orderflow_exchange_keys (mode, last_error)"
        " VALUES ('live', 'order post failed: http 401')"
    )
    clob.revoke_keys()
    ex = live_executor(pool, dsn, live)
    async with running(ex):
        await leading(ex)
        await ex.maintenance()
        await buys_in_new_markets(pool, clob, 1)
        signals = await wait_for(lambda: _closed(pool, 1))
        assert [(r["status"], r["reason"]) for r in signals] == [("SKIPPED", "credentials_refused")]
    assert _posts(clob) == 0
    assert await pool.fetchval("SELECT refusals FROM orderflow_exchange_keys") >= 2
