"""An order from a region the CLOB does not serve: ``POST /order`` answered 403 ``Trading
restricted in your region, please refer to available regions - …/geoblock`` (checked before the
order's auth; reads and cancels pass). In its close-only countries only orders that buy are
refused, so held positions can still be closed.

The executor took every 403 for a refused API key: it stopped sending any order of the mode —
the exits a close-only region allows included (SKIPPED ``credentials_refused``, unsent) —, and its
error told the user to check or re-derive the key and restart, which no key change heals. Now
the order is REJECTED with the exchange's reason (``region_refused: …``), the key is not marked
refused, the exits go out, and one error says what it is: this machine's region or IP.
"""

from __future__ import annotations

import logging
from decimal import Decimal

import asyncpg
import pytest

from orderflow.execution.live import LiveBroker
from orderflow.telemetry import setup_metrics
from tests.execution.conftest import TOKEN_YES, add_trade, signal_outcomes
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import Clock, live_executor, live_strategy, metric_total, new_market


async def test_a_close_only_region_refuses_the_entries_and_lets_the_exits_out(
    pool: asyncpg.Pool,
    dsn: str,
    clob: FakeClob,
    live: LiveBroker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    setup_metrics("executor")
    await live_strategy(pool)
    clob.markets[TOKEN_YES].bids[TOKEN_YES] = Decimal("0.49")
    ex = live_executor(pool, dsn, live, clock=Clock())
    async with pool.acquire() as conn:
        await ex.registry.refresh(conn)
        await add_trade(conn, token_id=TOKEN_YES, price="0.50")  # ask 0.50: fills at once
    await ex.catch_up()
    assert await signal_outcomes(pool) == [("BUY", "EXECUTED", "filled")]

    clob.geoblock = "close_only"
    before = metric_total("orderflow_orders_region_refused_total")
    caplog.set_level(logging.WARNING)
    async with pool.acquire() as conn:
        market, token = await new_market(clob, conn, 1, ask="0.30")
        await ex.registry.refresh(conn)
        await add_trade(conn, token_id=token, market=market, price="0.30")  # another entry
    await ex.catch_up()
    await ex.worker.drain()
    entry = (await signal_outcomes(pool))[-1]
    assert entry[:2] == ("BUY", "SKIPPED") and "region_refused" in entry[2], entry
    assert "Trading restricted in your region" in entry[2], entry
    assert await pool.fetchval("SELECT count(*) FROM orderflow_exchange_keys") == 0, (
        "a geoblock is no refusal of the API key"
    )
    assert metric_total("orderflow_orders_region_refused_total") - before == 1

    async with pool.acquire() as conn:  # the leader sells: the exit is allowed in the region
        await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.49")
    await ex.catch_up()
    await ex.worker.drain()
    assert (await signal_outcomes(pool))[-1] == ("SELL", "EXECUTED", "filled")
    assert (
        await pool.fetchval(
            "SELECT status FROM orderflow_positions WHERE token_id = $1", Decimal(TOKEN_YES)
        )
        == "CLOSED"
    )

    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, errors
    assert "region" in errors[0] and "POLY_API_KEY" not in errors[0], errors


async def test_a_blocked_region_rejects_each_order_and_logs_once(
    pool: asyncpg.Pool,
    dsn: str,
    clob: FakeClob,
    live: LiveBroker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every order refused (a fully blocked country): each is REJECTED with the exchange's
    reason, one error is logged for the process, not one per order."""
    caplog.set_level(logging.WARNING)
    await live_strategy(pool)
    clob.geoblock = "blocked"
    ex = live_executor(pool, dsn, live, clock=Clock())
    async with pool.acquire() as conn:
        markets = [await new_market(clob, conn, n, ask="0.30") for n in range(1, 4)]
        await ex.registry.refresh(conn)
        for market, token in markets:
            await add_trade(conn, token_id=token, market=market, price="0.30")
    await ex.catch_up()
    await ex.worker.drain()
    outcomes = await signal_outcomes(pool)
    assert len(outcomes) == 3
    assert all(o[1] == "SKIPPED" and "region_refused" in o[2] for o in outcomes), outcomes
    assert await pool.fetchval("SELECT count(*) FROM orderflow_exchange_keys") == 0
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "region" in errors[0], errors


async def test_a_cloudflare_block_is_reported_as_the_machines_ip(
    pool: asyncpg.Pool,
    dsn: str,
    clob: FakeClob,
    live: LiveBroker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The exchange's edge blocks this machine's IP (an HTML page, ``server: cloudflare``, 403 on
    every request): the key watch holds the orders back as for a refused key (reads fail too,
    so no check passes), and its error now carries the SDK's words, "blocked by Cloudflare" —
    it said only ``http 403`` and to check the key."""
    caplog.set_level(logging.WARNING)
    await live_strategy(pool)
    clob.fail("POST", "/order", 403, cloudflare=True)
    ex = live_executor(pool, dsn, live, clock=Clock())
    async with pool.acquire() as conn:
        market, token = await new_market(clob, conn, 1, ask="0.30")
        await ex.registry.refresh(conn)
        await add_trade(conn, token_id=token, market=market, price="0.30")
    await ex.catch_up()
    await ex.worker.drain()
    assert (await signal_outcomes(pool))[-1] == ("BUY", "SKIPPED", "credentials_refused")
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, errors
    assert "blocked by Cloudflare" in errors[0].__dict__["error"], errors[0].__dict__
    assert "not the key" in errors[0].getMessage()
