"""The heartbeat's lapse on an exchange that forgets the orders it cancels.

The order heartbeat rate limited (429) with a ``Retry-After`` longer than the exchange's dead
man's switch: the exchange cancels every resting order of the key. An exchange that keeps done
orders shows them CANCELED and reconciliation closes them (``test_live_exchange_cancels.py``).
The real CLOB answers nothing for a done order (the stand-in's ``forgetful``), and an order we
know was sent that the exchange shows nowhere stayed OPEN until its expiry: counted, and an
exit so cancelled "under way" — the position its leader had left not offered for sale again
until then (``order_ttl_secs``: 5 minutes by default, up to a week). On main both tests below
timed out: the exit ``('SELL', 'OPEN')`` a minute after the lapse, the entry never closed.
Now the heartbeat tells reconciliation when the switch lapsed, and an order resting then that the
exchange shows nowhere is closed CANCELED ``heartbeat_lapsed``, its late fills still asked for."""

from __future__ import annotations

from decimal import Decimal

import asyncpg
import pytest

from orderflow.execution import order_heartbeat
from orderflow.execution.live import LiveBroker
from tests.execution.conftest import (
    TOKEN_NO,
    TOKEN_YES,
    add_trade,
    follow,
    leading,
    now_true,
    running,
    wait_for,
)
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import live_executor, live_strategy, new_market
from tests.execution.test_live_exchange_cancels import BEAT_EVERY_SECS, SWITCH_SECS, _resting


@pytest.fixture(autouse=True)
def _short_switch(clob: FakeClob, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stand-in's switch shortened from the exchange's 10 s, and our side's word for it."""
    clob.heartbeat_timeout = SWITCH_SECS
    clob.forgetful = True
    monkeypatch.setattr(order_heartbeat, "SWITCH_SECS", SWITCH_SECS)


async def test_an_exit_the_lapse_cancelled_is_tried_again_though_forgotten(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live, ORDER_HEARTBEAT_SECS=BEAT_EVERY_SECS)
    await follow(pool, ex, token_id=TOKEN_YES, price="0.50")  # the ask: held
    async with running(ex):
        await leading(ex)
        async with pool.acquire() as conn:  # the leader sells; nobody bids: our exit rests
            await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.49")
        oid = await _resting(pool, clob, "SELL")
        await wait_for(lambda: now_true(clob.heartbeats))
        clob.rate_limit("POST", "/v1/heartbeats", 2 * SWITCH_SECS)
        await wait_for(lambda: now_true(clob.heartbeat_cancels == [oid]))
        clob.markets[TOKEN_YES].bids[TOKEN_YES] = Decimal("0.49")

        async def sold() -> bool:
            status = await pool.fetchval("SELECT status FROM orderflow_positions")
            return bool(status == "CLOSED")

        await wait_for(sold, timeout=60)
    orders = await pool.fetch(
        "SELECT side, status, status_reason FROM orderflow_orders ORDER BY id"
    )
    assert [tuple(o) for o in orders] == [
        ("BUY", "FILLED", None),
        ("SELL", "CANCELED", "heartbeat_lapsed"),
        ("SELL", "FILLED", None),
    ]


async def test_an_entry_the_lapse_cancelled_stops_counting_though_forgotten(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """A resting entry, 10 shares of it filled, cancelled by the lapse: closed CANCELED with its
    10 shares, and the rest no longer counts: the next entry goes out under
    ``max_open_positions = 2``."""
    await live_strategy(pool, max_open_positions=2)
    ex = live_executor(pool, dsn, live, ORDER_HEARTBEAT_SECS=BEAT_EVERY_SECS)
    async with running(ex):
        await leading(ex)
        async with pool.acquire() as conn:
            await add_trade(conn, token_id=TOKEN_NO, outcome_index=1, price="0.30")
        oid = await _resting(pool, clob, "BUY")
        await wait_for(lambda: now_true(clob.heartbeats))
        clob.fill(oid, Decimal(10))
        clob.rate_limit("POST", "/v1/heartbeats", 2 * SWITCH_SECS)
        await wait_for(lambda: now_true(clob.heartbeat_cancels == [oid]))

        async def closed() -> asyncpg.Record | None:
            return await pool.fetchrow("SELECT * FROM orderflow_orders WHERE status = 'CANCELED'")

        row = await wait_for(closed)
        assert (row["filled_shares"], row["status_reason"]) == (10, "heartbeat_lapsed")
        async with pool.acquire() as conn:
            market, token = await new_market(clob, conn, 1)
            await add_trade(conn, token_id=token, market=market, price="0.30")
        await wait_for(lambda: now_true(clob.requests.count(("POST", "/order")) == 2))
    [pos] = await pool.fetch("SELECT * FROM orderflow_positions")
    assert pos["shares"] == 10 and pos["token_id"] == TOKEN_NO
