"""The kill and the pause always work (issue 15, items 1, 7 and 9): with the exchange failing or
slow, when a strategy is deleted, and for orders already queued; the executor keeps running and
the other strategies keep trading."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import asyncpg
import pytest

from orderflow.execution.live import LiveBroker
from tests.execution.conftest import (
    MARKET_B,
    TOKEN_NO,
    TOKEN_YES,
    add_strategy,
    add_trade,
    fill_when_resting,
    leading,
    now_true,
    running,
    wait_for,
)
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import (
    Clock,
    buys_in_new_markets,
    live_executor,
    live_strategy,
)


async def _resting(pool: asyncpg.Pool, clob: FakeClob, n: int = 1) -> list[str]:
    """Wait for ``n`` live orders resting at the exchange; their ids."""

    async def rows() -> list[asyncpg.Record] | None:
        found = await pool.fetch(
            "SELECT * FROM orderflow_orders WHERE status = 'OPEN' AND mode = 'live'"
        )
        return list(found) if len(found) >= n else None

    found = await wait_for(rows)
    ids = [r["exchange_order_id"] for r in found]
    assert all(clob.orders[i]["status"] == "LIVE" for i in ids)
    return ids


async def _kill(pool: asyncpg.Pool, name: str) -> None:
    await pool.execute(
        "UPDATE orderflow_strategies SET killed = true, generation = generation + 1"
        " WHERE name = $1",
        name,
    )


async def three_decided(pool: asyncpg.Pool, clob: FakeClob) -> None:
    """The whale buys in three new markets; wait until all three are accepted (PENDING) and the
    first order is on its way to the (slow) exchange."""
    await buys_in_new_markets(pool, clob, 3)

    async def decided() -> bool:
        n = await pool.fetchval("SELECT count(*) FROM orderflow_signals WHERE status = 'PENDING'")
        return bool(n == 3 and clob.pending.get("/order", 0) > 0)

    await wait_for(decided)


async def test_a_kill_while_the_exchange_fails_never_crashes_the_executor(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Item 1: the cancel answered 503 then 429 escaped the loop and stopped every strategy."""
    await live_strategy(pool)
    async with pool.acquire() as conn:
        await add_strategy(conn, "paper-two")
    ex = live_executor(pool, dsn, live)
    async with running(ex) as task:
        await leading(ex)
        async with pool.acquire() as conn:
            # NO trades at 0.30 but asks at 0.90: the live order rests on the book.
            await add_trade(conn, token_id=TOKEN_NO, outcome_index=1, price="0.30")
        [order_id] = await _resting(pool, clob)
        failing = clob.fail("DELETE", "/orders", 503, times=3)
        limited = clob.fail("DELETE", "/orders", 429, times=2)
        await _kill(pool, "live-one")
        await wait_for(lambda: now_true(failing.times == 0 and limited.times == 0))
        # Still running, and the other strategy still trades.
        assert not task.done()
        async with pool.acquire() as conn:
            await add_trade(conn, token_id=TOKEN_NO + 7, market=MARKET_B, price="0.40")

        await fill_when_resting(pool, ex, TOKEN_NO + 7)  # an ask at the paper order's limit

        async def traded() -> asyncpg.Record | None:
            return await pool.fetchrow(
                "SELECT * FROM orderflow_signals WHERE strategy = 'paper-two'"
                " AND status = 'EXECUTED' AND token_id = $1",
                TOKEN_NO + 7,
            )

        await wait_for(traded)
        # The kill got through once the exchange recovered.

        async def cancelled() -> asyncpg.Record | None:
            return await pool.fetchrow("SELECT * FROM orderflow_orders WHERE status = 'CANCELED'")

        row = await wait_for(cancelled)
        assert not task.done()
    assert row["exchange_order_id"] == order_id and clob.orders[order_id]["status"] == "CANCELED"


async def test_deleting_a_strategy_cancels_its_live_orders(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Item 7: the operator's finalizer marks the row killed and deleted; the executor dropped
    the strategy without cancelling anything."""
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live)
    async with running(ex):
        await leading(ex)
        async with pool.acquire() as conn:
            await add_trade(conn, token_id=TOKEN_NO, outcome_index=1, price="0.30")
        [order_id] = await _resting(pool, clob)
        await pool.execute(
            "UPDATE orderflow_strategies SET killed = true, deleted_at = now(),"
            " generation = generation + 1 WHERE name = 'live-one'"
        )
        await wait_for(lambda: now_true(clob.orders[order_id]["status"] == "CANCELED"))

        async def booked() -> bool:
            status: str | None = await pool.fetchval("SELECT status FROM orderflow_orders")
            return status == "CANCELED"

        await wait_for(booked)


async def test_a_kill_is_not_held_up_by_slow_reconciliation(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Item 9: order lookups ran one after another inside the trading loop, so a kill waited
    for all of them. The cancel now reaches the exchange while the lookups are still pending,
    in one request for every open order."""
    await live_strategy(pool, max_open_positions=10)
    ex = live_executor(pool, dsn, live, EXECUTOR_MAINTENANCE_SECS=0.2)
    async with running(ex):
        await leading(ex)
        await buys_in_new_markets(pool, clob, 4)
        ids = await _resting(pool, clob, 4)
        clob.path_delays["/data/order/"] = 5.0  # a slow exchange, for lookups
        await wait_for(lambda: now_true(clob.pending.get("/data/order/", 0) > 0))
        lookups_done = clob.answered.get("/data/order/", 0)
        await _kill(pool, "live-one")
        await wait_for(lambda: now_true(all(clob.orders[i]["status"] == "CANCELED" for i in ids)))
        # Every cancel went out before a single slow lookup of that maintenance pass answered.
        assert clob.answered.get("/data/order/", 0) == lookups_done
        cancels = [r for r in clob.requests if r == ("DELETE", "/orders")]
        assert len(cancels) == 1
        clob.path_delays.clear()


async def test_a_pause_stops_orders_already_queued(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Item 9: four queued orders reached the exchange seconds after a pause. Each queued order
    now re-checks pause, kill and age just before it is sent; what went out before the pause
    rests, and the pause cancels it (``test_pause_cancels.py``)."""
    await live_strategy(pool, max_open_positions=10)
    ex = live_executor(pool, dsn, live)
    async with running(ex):
        await leading(ex)
        clob.path_delays["/order"] = 1.0  # each order takes a second to place
        await buys_in_new_markets(pool, clob, 5)
        await wait_for(lambda: now_true(clob.pending.get("/order", 0) > 0))
        await pool.execute(
            "UPDATE orderflow_strategies SET paused = true, generation = generation + 1"
        )
        await wait_for(lambda: now_true(ex.registry.states["live-one"].paused))
        await asyncio.sleep(0.3)  # an order whose check passed before the pause may still land
        posted = clob.requests.count(("POST", "/order"))
        await ex.worker.drain()
        await asyncio.sleep(0.2)
        assert clob.requests.count(("POST", "/order")) == posted
        unsent = await pool.fetchval(
            "SELECT count(*) FROM orderflow_signals s WHERE reason = 'strategy_paused'"
            " AND NOT EXISTS (SELECT 1 FROM orderflow_orders o WHERE o.signal_id = s.id"
            "                  AND o.sent_at IS NOT NULL)"
        )
        assert unsent == 5 - posted
        clob.path_delays.clear()

        async def all_cancelled() -> bool:  # the entries that went out, cancelled by the pause
            n = await pool.fetchval(
                "SELECT count(*) FROM orderflow_signals WHERE reason = 'strategy_paused'"
            )
            return bool(n == 5)

        await wait_for(all_cancelled)
    assert clob.live_orders() == []


async def test_a_queued_order_that_grew_stale_is_not_sent(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Signal age is checked again just before sending: an order queued behind a slow
    exchange past ``max_signal_age_secs`` is dropped (SKIPPED ``stale``), not sent late."""
    await live_strategy(pool, max_open_positions=10)
    clock = Clock()
    ex = live_executor(pool, dsn, live, clock=clock)
    async with running(ex):
        await leading(ex)
        clob.path_delays["/order"] = 1.0
        await buys_in_new_markets(pool, clob, 2)
        await wait_for(lambda: now_true(clob.pending.get("/order", 0) > 0))
        clock.offset = timedelta(minutes=10)  # the second one has waited far too long
        await ex.worker.drain()
        clob.path_delays.clear()
    assert clob.requests.count(("POST", "/order")) == 1
    rows = await pool.fetch("SELECT status, reason FROM orderflow_signals ORDER BY id")
    assert [r["reason"] for r in rows][1] == "stale"


@pytest.mark.parametrize(
    ("switch", "reason"), [("killed", "strategy_killed"), ("paused", "strategy_paused")]
)
async def test_an_order_queued_before_a_kill_is_not_sent_after_it_is_lifted(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker, switch: str, reason: str
) -> None:
    """The check just before sending looked only at the switch's value *now*: an order queued
    behind a slow exchange before a kill (or a pause) went out once the strategy was unkilled
    (resumed) while it still waited, although it was decided before the kill. Each queued order
    now carries how many kills and pauses its strategy had when it was decided."""
    await live_strategy(pool, max_open_positions=10)
    ex = live_executor(pool, dsn, live)
    async with running(ex):
        await leading(ex)
        clob.path_delays["/order"] = 2.0  # the first order takes two seconds to place
        await three_decided(pool, clob)  # all three accepted; the first on its way, two queued
        state = ex.registry.states["live-one"]
        await pool.execute(
            f"UPDATE orderflow_strategies SET {switch} = true, generation = generation + 1"
        )
        await wait_for(lambda: now_true(getattr(state, switch)))
        await pool.execute(
            f"UPDATE orderflow_strategies SET {switch} = false, generation = generation + 1"
        )
        await wait_for(lambda: now_true(not getattr(state, switch)))
        assert clob.pending.get("/order", 0) == 1  # still the first one
        await ex.worker.drain()
        clob.path_delays.clear()
        assert clob.requests.count(("POST", "/order")) == 1
    rows = await pool.fetch("SELECT status, reason FROM orderflow_signals ORDER BY id")
    assert [(r["status"], r["reason"]) for r in rows][1:] == [("SKIPPED", reason)] * 2


@pytest.mark.parametrize(
    ("switch", "reason"), [("killed", "strategy_killed"), ("paused", "strategy_paused")]
)
async def test_a_switch_the_trading_loop_has_not_seen_stops_queued_orders(
    pool: asyncpg.Pool,
    dsn: str,
    clob: FakeClob,
    live: LiveBroker,
    monkeypatch: pytest.MonkeyPatch,
    switch: str,
    reason: str,
) -> None:
    """The check just before sending read the strategy's switches as the registry held them,
    and only the trading loop refreshes the registry: while that loop was busy (a large batch,
    a full order queue), orders already queued went out after the kill was in the database.
    The desk now reads the kill and the pause from the database just before it sends."""
    await live_strategy(pool, max_open_positions=10)
    ex = live_executor(pool, dsn, live)
    async with running(ex):
        await leading(ex)
        clob.path_delays["/order"] = 1.0  # each order takes a second to place
        await three_decided(pool, clob)  # all three accepted; the first on its way, two queued

        async def busy(*_: object) -> list[object]:  # the loop has not come round to it
            return []

        async def busy_one(*_: object) -> None:
            return None

        monkeypatch.setattr(ex.registry, "refresh", busy)
        monkeypatch.setattr(ex.registry, "refresh_one", busy_one)
        await pool.execute(
            f"UPDATE orderflow_strategies SET {switch} = true, generation = generation + 1"
        )
        await ex.worker.drain()
        clob.path_delays.clear()
        assert not getattr(ex.registry.states["live-one"], switch)
        assert clob.requests.count(("POST", "/order")) == 1
    rows = await pool.fetch("SELECT status, reason FROM orderflow_signals ORDER BY id")
    assert [(r["status"], r["reason"]) for r in rows][1:] == [("SKIPPED", reason)] * 2


async def test_a_kill_while_the_placement_answer_is_on_its_way_books_each_fill_once(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The exchange matched the order against two makers and its answer was still on its way
    when the kill came: the kill's cancel and reconciliation booked the two trades from the
    account's trades, then the late placement answer booked them again under their joined key
    (the position held twice the shares the exchange filled)."""
    await live_strategy(pool)
    market = clob.markets[TOKEN_YES]
    market.ask_sizes[TOKEN_YES] = Decimal(100)
    market.ask_lots[TOKEN_YES] = [Decimal(60), Decimal(40)]
    clob.response_delays["/order"] = 2.0
    ex = live_executor(pool, dsn, live)
    async with running(ex):
        await leading(ex)
        async with pool.acquire() as conn:
            await add_trade(conn, token_id=TOKEN_YES, price="0.50")
        await wait_for(lambda: now_true(len(clob.orders) == 1))  # placed; the answer is late
        [oid] = clob.orders
        await _kill(pool, "live-one")
        await wait_for(lambda: now_true(clob.orders[oid]["status"] == "CANCELED"))
        await ex.worker.drain()
        await ex.kills.wait()
        await ex.desk.reconcile()
    fills = await pool.fetch("SELECT * FROM orderflow_fills ORDER BY id")
    assert sum(f["shares"] for f in fills) == 100
    pos = await pool.fetchrow("SELECT * FROM orderflow_positions")
    order = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert pos["shares"] == 100 and order["filled_shares"] == 100
    assert order["status"] == "CANCELED"


async def test_a_kill_rate_limited_waits_as_the_exchange_asks_and_still_cancels(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The cancel is answered 429 with ``Retry-After: 2``: the kill switch asked again 50 ms,
    100 ms, 200 ms... later (every answer 429 again, each a request more against the limit);
    it now waits what the exchange asked, then cancels. Nothing is placed meanwhile."""
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live)
    async with running(ex):
        await leading(ex)
        async with pool.acquire() as conn:
            await add_trade(conn, token_id=TOKEN_NO, outcome_index=1, price="0.30")
        [order_id] = await _resting(pool, clob)
        limit = clob.rate_limit("DELETE", "/orders", 2.0)
        await _kill(pool, "live-one")
        await wait_for(lambda: now_true(limit.refused > 0))
        async with pool.acquire() as conn:  # the leader buys again while the kill waits
            await add_trade(conn, token_id=TOKEN_YES, price="0.50")
        row = await wait_for(
            lambda: pool.fetchrow("SELECT * FROM orderflow_orders WHERE status = 'CANCELED'")
        )
    assert row["exchange_order_id"] == order_id and clob.orders[order_id]["status"] == "CANCELED"
    assert limit.refused == 1
    assert [m for m, p in clob.requests if p == "/order"] == ["POST"]  # the entry only
