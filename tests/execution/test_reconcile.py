"""No fill lost, none booked twice (issue 15, items 3, 5 and 6): fills come from the account's
trades, partial fills included; an order in doubt stays in doubt until its expiry; a database
error after a successful send leaves the order in doubt, not forgotten."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import asyncpg
import pytest

from orderflow.execution.broker import OrderOutcome
from orderflow.execution.live import LiveBroker
from orderflow.execution.orders import OrderDesk
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
from tests.execution.livekit import Clock, live_executor, live_strategy


async def _fills(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return list(await pool.fetch("SELECT * FROM orderflow_fills ORDER BY id"))


async def test_a_fully_matched_order_gone_from_the_order_endpoint_is_booked_from_the_trades(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Item 3: GET /data/order/{id} answers nothing for a fully matched order (py-clob-client
    issue 217); the fill of a resting order was never booked."""
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live)
    order = await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")
    assert order is not None
    assert order["status"] == "OPEN"
    clob.fill(order["exchange_order_id"])  # a counterparty takes all of it at once
    await ex.maintenance()
    await ex.maintenance()
    order = await pool.fetchrow("SELECT * FROM orderflow_orders")
    [fill] = await _fills(pool)
    assert order["status"] == "FILLED" and fill["shares"] == order["shares"]
    assert fill["fill_key"] == clob.trades[-1]["id"]
    assert (await pool.fetchrow("SELECT status FROM orderflow_signals"))["status"] == "EXECUTED"


async def test_partial_fills_at_placement_and_later_each_booked_once(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Partly matched at placement (booked from the response under its trade id, which the
    trades list again), the rest filled later in two pieces by counterparties."""
    await live_strategy(pool)
    clob.markets[TOKEN_YES].ask_sizes[TOKEN_YES] = Decimal(100)
    ex = live_executor(pool, dsn, live)
    order = await follow(pool, ex, token_id=TOKEN_YES, price="0.50")
    assert order is not None
    assert order["status"] == "OPEN" and order["filled_shares"] == 100
    oid = order["exchange_order_id"]
    clob.fill(oid, Decimal(50))
    await ex.maintenance()
    clob.forgetful = True
    clob.fill(oid)
    for _ in range(3):
        await ex.maintenance()
    order = await pool.fetchrow("SELECT * FROM orderflow_orders")
    fills = await _fills(pool)
    assert [f["shares"] for f in fills] == [100, 50, order["shares"] - 150]
    assert order["status"] == "FILLED" and order["filled_shares"] == order["shares"]
    pos = await pool.fetchrow("SELECT * FROM orderflow_positions")
    assert pos["shares"] == order["shares"]


async def test_an_order_that_expires_partly_filled_is_closed_with_its_fills(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    await live_strategy(pool)
    clock = Clock()
    ex = live_executor(pool, dsn, live, clock=clock)
    order = await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")
    assert order is not None
    clob.fill(order["exchange_order_id"], Decimal(10))
    clob.forgetful = True
    clob.clock_offset = clock.offset.total_seconds() + 600  # both clocks: ten minutes later
    clock.offset = timedelta(minutes=10)
    await ex.maintenance()
    order = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert order["status"] == "CANCELED" and order["status_reason"] == "expired"
    assert [f["shares"] for f in await _fills(pool)] == [10]
    assert (await pool.fetchrow("SELECT status FROM orderflow_signals"))["status"] == "EXECUTED"


async def test_an_order_in_doubt_stays_in_doubt_until_it_shows_up(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Item 6: after a lost response, one 404 from a lagging order endpoint abandoned the
    order, although the signed order stays valid (and fills) until its expiry."""
    await live_strategy(pool)
    clob.lose_next_response = True
    ex = live_executor(pool, dsn, live)
    await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")
    [(oid, placed)] = clob.orders.items()
    assert placed["status"] == "LIVE"
    lagging = clob.fail("GET", "/data/order/", 404, times=3)  # every candidate id, once
    lagging.body = {"error": "order not found"}
    await ex.maintenance()
    order = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert order["status"] == "INTENT" and order["id"] in ex.desk.in_doubt
    # Still exposure: a second buy of the token is refused, not sent.
    async with pool.acquire() as conn:
        await add_trade(conn, token_id=TOKEN_NO, outcome_index=1, price="0.30")
    await ex.catch_up()
    assert len(clob.orders) == 1
    await ex.maintenance()
    order = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert order["status"] == "OPEN" and order["exchange_order_id"] == oid
    clob.fill(oid)
    await ex.maintenance()
    assert await pool.fetchval("SELECT status FROM orderflow_orders") == "FILLED"
    assert sum(f["shares"] for f in await _fills(pool)) == order["shares"]
    assert [m for m, p in clob.requests if p == "/order"] == ["POST"]


async def test_a_database_error_after_the_send_leaves_the_order_in_doubt(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Item 5: the order stayed INTENT and not in doubt: its fill invisible, the same token
    bought again."""
    await live_strategy(pool)

    class FlakyDatabase(OrderDesk):
        failed = False

        async def apply(self, order_id: int, outcome: OrderOutcome, *, sent: bool) -> None:
            if not FlakyDatabase.failed:
                FlakyDatabase.failed = True
                raise asyncpg.exceptions.ConnectionDoesNotExistError("connection lost")
            await super().apply(order_id, outcome, sent=sent)

    ex = live_executor(pool, dsn, live, FlakyDatabase)
    async with running(ex):
        await leading(ex)
        async with pool.acquire() as conn:
            await add_trade(conn, token_id=TOKEN_YES, price="0.50")  # fills at once

        async def booked() -> asyncpg.Record | None:
            return await pool.fetchrow("SELECT * FROM orderflow_orders WHERE status = 'FILLED'")

        order = await wait_for(booked)
        async with pool.acquire() as conn:
            await add_trade(conn, token_id=TOKEN_YES, price="0.50")

        async def second() -> list[asyncpg.Record]:
            return list(await pool.fetch("SELECT * FROM orderflow_signals WHERE id > 1"))

        [again] = await wait_for(second)
    assert FlakyDatabase.failed
    assert (again["status"], again["reason"]) == ("SKIPPED", "position_exists")
    assert len(clob.orders) == 1
    [fill] = await _fills(pool)
    assert fill["shares"] == order["shares"]


async def test_an_unexpected_error_after_the_send_leaves_the_order_in_doubt(
    pool: asyncpg.Pool,
    dsn: str,
    clob: FakeClob,
    live: LiveBroker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The exchange took the order, then reading its answer failed in a way the broker does
    not expect (a field the SDK no longer returns): the intent stayed INTENT but not in doubt,
    so nothing asked the exchange about it until a restart — its fill unbooked, the position
    invisible to the next decision. Any failure between the send and the record now leaves the
    order in doubt, reconciled by the next maintenance pass."""
    await live_strategy(pool)
    send = live.send

    async def garbled(prepared: object) -> OrderOutcome:
        await send(prepared)  # type: ignore[arg-type]
        raise KeyError("makingAmount")

    monkeypatch.setattr(live, "send", garbled)
    ex = live_executor(pool, dsn, live)
    async with running(ex):
        await leading(ex)
        async with pool.acquire() as conn:
            await add_trade(conn, token_id=TOKEN_YES, price="0.50")  # fills at once
        await wait_for(lambda: now_true(len(clob.orders) == 1))  # the exchange has it
        await ex.worker.drain()
        monkeypatch.setattr(live, "send", send)
        await ex.maintenance()

        async def booked() -> asyncpg.Record | None:
            return await pool.fetchrow("SELECT * FROM orderflow_orders WHERE status = 'FILLED'")

        order = await wait_for(booked)
        async with pool.acquire() as conn:
            await add_trade(conn, token_id=TOKEN_YES, price="0.50")

        async def second() -> list[asyncpg.Record]:
            return list(await pool.fetch("SELECT * FROM orderflow_signals WHERE id > 1"))

        [again] = await wait_for(second)
    assert (again["status"], again["reason"]) == ("SKIPPED", "position_exists")
    assert len(clob.orders) == 1
    [fill] = await _fills(pool)
    assert fill["shares"] == order["shares"]


async def test_killed_between_send_and_record_with_the_exchange_down_at_restart(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The process dies after the exchange matched the order and before anything was
    recorded; the next executor starts while the exchange answers 503. The order stays in
    doubt (and counts as exposure) until the exchange answers; then its fill is booked. Nothing
    is sent twice."""
    await live_strategy(pool)

    class Dying(OrderDesk):
        async def apply(self, order_id: int, outcome: OrderOutcome, *, sent: bool) -> None:
            raise SystemExit("kill -9")

    ex = live_executor(pool, dsn, live, Dying)
    async with pool.acquire() as conn:
        await ex.registry.refresh(conn)
        await add_trade(conn, token_id=TOKEN_YES, price="0.50")  # matched at placement
    with pytest.raises(SystemExit):
        await ex.catch_up()
    assert await pool.fetchval("SELECT status FROM orderflow_orders") == "INTENT"
    down = clob.fail("GET", "/data/", 503)
    restarted = live_executor(pool, dsn, live)
    async with running(restarted):
        await leading(restarted)
        order = await pool.fetchrow("SELECT * FROM orderflow_orders")
        assert order["status"] == "INTENT" and order["id"] in restarted.desk.in_doubt
        async with pool.acquire() as conn:
            await add_trade(conn, token_id=TOKEN_YES, price="0.50")

        async def decided() -> asyncpg.Record | None:
            return await pool.fetchrow(
                "SELECT * FROM orderflow_signals WHERE id > 1 AND status <> 'PENDING'"
            )

        again = await wait_for(decided)
        assert again["reason"] == "position_exists"
        down.times = 0  # the exchange is back

        async def filled() -> asyncpg.Record | None:
            return await pool.fetchrow("SELECT * FROM orderflow_orders WHERE status = 'FILLED'")

        order = await wait_for(filled)
    [fill] = await _fills(pool)
    assert fill["shares"] == order["shares"]
    assert [m for m, p in clob.requests if p == "/order"] == ["POST"]


async def test_an_old_leaders_intent_is_reconciled_during_this_leadership(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Split brain: the old leader lost its lock session but, within the second before it
    noticed, stored an intent, sent it (the exchange matched it) and died before recording the
    answer — after the new leader's start-up reconciliation. The new leader only asked about
    intents in doubt in its own process, so that order stayed INTENT, unbooked, until the next
    restart. An intent this desk is not placing is in doubt, whoever stored it."""
    await live_strategy(pool)

    class Dying(OrderDesk):
        async def apply(self, order_id: int, outcome: OrderOutcome, *, sent: bool) -> None:
            raise SystemExit("kill -9")

    new = live_executor(pool, dsn, live)
    async with pool.acquire() as conn:
        await new.registry.refresh(conn)
    await new.close_orphans()  # the new leader's start-up repairs: nothing to repair yet
    await new.desk.reconcile()
    old = live_executor(pool, dsn, live, Dying)
    async with pool.acquire() as conn:
        await old.registry.refresh(conn)
        await add_trade(conn, token_id=TOKEN_YES, price="0.50")  # matched at placement
    with pytest.raises(SystemExit):
        await old.catch_up()
    assert await pool.fetchval("SELECT status FROM orderflow_orders") == "INTENT"
    await new.maintenance()
    order = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert order["status"] == "FILLED"
    [fill] = await _fills(pool)
    assert fill["shares"] == order["shares"]
    assert [m for m, p in clob.requests if p == "/order"] == ["POST"]
