"""Orders the exchange closes on its own, or closes while a fill races the close: what filled is
booked once, the rest stops counting, and nothing is sent again in its place but what the
strategy decides anew.

* The order heartbeat rate limited (429) with a ``Retry-After`` longer than the exchange's dead
  man's switch: the exchange cancels every resting order of the key. A partly filled entry is
  closed CANCELED with its fill, the rest no longer counts (the next entry goes out under
  ``max_open_positions``); a resting exit cancelled so is tried again and sells. Also on an
  exchange that forgets the orders it cancelled (``forgetful``: the real CLOB answers nothing
  for a done order), where an order we know was sent that is shown nowhere stayed OPEN until its
  expiry: on main, the exit still ``('SELL', 'OPEN')`` a minute after the lapse, not tried
  again, and the partly filled entry never closed. The heartbeat now tells reconciliation when
  the switch lapsed: such an order is closed CANCELED ``heartbeat_lapsed``.
* The exchange's validity monitor cancelling a resting BUY the wallet can no longer pay for (a
  withdrawal).
* A partial fill racing a kill's cancel, its trade listed after the cancel's answer.
* A GTD order expiring, partly filled, while the executor is down.
"""

from __future__ import annotations

from datetime import timedelta
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
from tests.execution.livekit import Clock, live_executor, live_strategy, new_market

SWITCH_SECS = 3.0  # the stand-in's dead man's switch, shortened from the exchange's 10 s
BEAT_EVERY_SECS = 0.2  # ORDER_HEARTBEAT_SECS


def _posts(clob: FakeClob) -> int:
    return clob.requests.count(("POST", "/order"))


async def _fills(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return list(await pool.fetch("SELECT * FROM orderflow_fills ORDER BY id"))


async def _resting(pool: asyncpg.Pool, clob: FakeClob, side: str) -> str:
    async def found() -> str | None:
        oid = await pool.fetchval(
            "SELECT exchange_order_id FROM orderflow_orders WHERE status = 'OPEN' AND side = $1",
            side,
        )
        return oid if oid and clob.orders[oid]["status"] == "LIVE" else None

    oid: str = await wait_for(found)
    return oid


@pytest.fixture(params=[False, True], ids=["keeps", "forgets"])
def forgetful(
    request: pytest.FixtureRequest, clob: FakeClob, monkeypatch: pytest.MonkeyPatch
) -> bool:
    """The stand-in's switch shortened, and our side's word for it; the stand-in keeping the
    orders it cancelled, or forgetting them."""
    clob.heartbeat_timeout = SWITCH_SECS
    clob.forgetful = bool(request.param)
    monkeypatch.setattr(order_heartbeat, "SWITCH_SECS", SWITCH_SECS)
    return clob.forgetful


async def test_an_entry_the_lapsed_heartbeat_cancelled_is_closed_with_its_fill(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker, forgetful: bool
) -> None:
    await live_strategy(pool, max_open_positions=2)
    ex = live_executor(pool, dsn, live, ORDER_HEARTBEAT_SECS=BEAT_EVERY_SECS)
    async with running(ex):
        await leading(ex)
        async with pool.acquire() as conn:
            await add_trade(conn, token_id=TOKEN_NO, outcome_index=1, price="0.30")
        oid = await _resting(pool, clob, "BUY")
        await wait_for(lambda: now_true(clob.heartbeats))
        clob.fill(oid, Decimal(10))
        clob.rate_limit("POST", "/v1/heartbeats", 4 * SWITCH_SECS)
        await wait_for(lambda: now_true(clob.heartbeat_cancels == [oid]))

        async def closed() -> asyncpg.Record | None:
            return await pool.fetchrow("SELECT * FROM orderflow_orders WHERE status = 'CANCELED'")

        row = await wait_for(closed)
        assert row["filled_shares"] == 10
        assert row["status_reason"] == ("heartbeat_lapsed" if forgetful else None)
        # One position of two: the cancelled rest no longer counts, the next entry goes out.
        async with pool.acquire() as conn:
            market, token = await new_market(clob, conn, 1)
            await add_trade(conn, token_id=token, market=market, price="0.30")
        await wait_for(lambda: now_true(_posts(clob) == 2))
    assert [f["shares"] for f in await _fills(pool)] == [10]
    [pos] = await pool.fetch("SELECT * FROM orderflow_positions")
    assert pos["shares"] == 10 and pos["token_id"] == TOKEN_NO


async def test_an_exit_the_lapsed_heartbeat_cancelled_is_tried_again(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker, forgetful: bool
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
        ("SELL", "CANCELED", "heartbeat_lapsed" if forgetful else None),
        ("SELL", "FILLED", None),
    ]


@pytest.mark.parametrize("reasons", [False, True], ids=["canceled", "canceled-with-reason"])
async def test_a_buy_the_exchange_cancels_for_a_withdrawal_stops_counting(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker, reasons: bool
) -> None:
    """``canceled-with-reason``: the exchange shows the order ``CANCELED_NOT_ENOUGH_BALANCE``
    (the stand-in's ``cancel_reasons``; tests/execution/test_order_cancel_reasons.py), which was
    unknown until 7 Dec 2026 and kept the BUY OPEN, counted, until its expiry."""
    clob.cancel_reasons = reasons
    await live_strategy(pool)
    clob.collateral = Decimal(1000)
    ex = live_executor(pool, dsn, live)
    order = await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")  # rests
    assert order is not None and order["status"] == "OPEN"
    assert clob.withdraw(Decimal(990)) == [order["exchange_order_id"]]
    await ex.maintenance()
    row = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert (row["status"], row["filled_shares"], row["may_take"]) == ("CANCELED", 0, False)
    assert await pool.fetchval("SELECT status FROM orderflow_signals") == "SKIPPED"
    assert _posts(clob) == 1


async def test_a_partial_fill_listed_after_a_kill_s_cancel_is_booked_once(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live)
    order = await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")  # rests
    assert order is not None
    clob.unlisted.add(clob.fill(order["exchange_order_id"], Decimal(10)))  # listed late
    await pool.execute("UPDATE orderflow_strategies SET killed = true, generation = generation + 1")
    assert await ex.desk.cancels.cancel_strategy("live-one") == 0
    row = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert (row["status"], row["status_reason"]) == ("CANCELED", "strategy_killed")
    clob.unlisted.clear()
    await ex.maintenance()
    await ex.maintenance()
    row = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert (row["status"], row["filled_shares"]) == ("CANCELED", 10)
    assert [f["shares"] for f in await _fills(pool)] == [10]
    assert await pool.fetchval("SELECT shares FROM orderflow_positions") == 10
    assert _posts(clob) == 1


async def test_an_order_that_expired_partly_filled_while_down_is_closed_with_its_fill(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    await live_strategy(pool)
    clock = Clock()
    ex = live_executor(pool, dsn, live, clock=clock)
    order = await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")  # rests
    assert order is not None
    clob.fill(order["exchange_order_id"], Decimal(10))
    clob.clock_offset = 3600  # an hour down, both clocks
    clock.offset = timedelta(hours=1)
    again = live_executor(pool, dsn, live, clock=clock)
    await again.maintenance()
    row = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert (row["status"], row["status_reason"], row["filled_shares"]) == (
        "CANCELED",
        "expired",
        10,
    )
    assert [f["shares"] for f in await _fills(pool)] == [10]
    assert _posts(clob) == 1


async def test_an_order_the_exchange_still_holds_after_a_lapse_is_not_closed(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The exchange holds our entry ``UNMATCHED`` (its delayed matching failed, kept: it may
    still fill), which an exchange that forgets done orders also shows nowhere; the heartbeat's
    switch lapses and cancels what rests — not this one. Shown nowhere after a lapse is no proof
    it is done: the lapse's close asks the exchange first (a cancel: refused, it holds the
    order), and it stays OPEN, counting; its fill is booked when it comes. Until 7 Dec 2026 it
    was closed CANCELED ``heartbeat_lapsed`` on the lapse and the missing answer alone, and a
    fill after the 15-minute look-back would never have been booked."""
    clob.heartbeat_timeout = SWITCH_SECS
    clob.forgetful = True
    order_heartbeat.SWITCH_SECS = SWITCH_SECS
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live, ORDER_HEARTBEAT_SECS=BEAT_EVERY_SECS)
    try:
        async with running(ex):
            await leading(ex)
            async with pool.acquire() as conn:
                await add_trade(conn, token_id=TOKEN_NO, outcome_index=1, price="0.30")
            oid = await _resting(pool, clob, "BUY")
            await wait_for(lambda: now_true(clob.heartbeats))
            clob.report(oid, "UNMATCHED")
            clob.rate_limit("POST", "/v1/heartbeats", 2 * SWITCH_SECS)
            sent = await pool.fetchval("SELECT sent_at FROM orderflow_orders")

            def lapsed_since_sent() -> bool:  # (the start's registration is one too: earlier)
                return bool(ex.desk.reconciler.lapsed.get("live", sent) > sent)

            await wait_for(lambda: now_true(lapsed_since_sent()))
            passes = clob.requests.count(("GET", "/data/trades"))
            await wait_for(
                lambda: now_true(clob.requests.count(("GET", "/data/trades")) > passes + 2)
            )
            row = await pool.fetchrow("SELECT status, status_reason FROM orderflow_orders")
            assert (row["status"], row["status_reason"]) == ("OPEN", None)
            clob.fill(oid)

            async def booked() -> bool:
                return bool(await pool.fetchval("SELECT count(*) FROM orderflow_fills"))

            await wait_for(booked)
    finally:
        order_heartbeat.SWITCH_SECS = 10.0
    row = await pool.fetchrow("SELECT status, filled_shares, shares FROM orderflow_orders")
    assert row["status"] == "FILLED" and row["filled_shares"] == row["shares"]
    assert _posts(clob) == 1
