"""An accepted signal an old leader left without an order intent (it lost the trading lock
between storing the PENDING signal and storing the intent): the new leader closes it during its
leadership, and the old leader, if it gets that far, does not send it.

The old leader checks its lock once a second, so it may still decide — store an accepted signal
and queue its order — after the new leader's start-up repairs. Before, such a signal stayed
PENDING until the next start: nothing sent, nothing closed (and a PENDING exit counts as an exit
under way, so the position's exit was never tried again)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

import asyncpg

from orderflow.execution import order_queries
from orderflow.execution.broker import Broker, Mode
from orderflow.execution.engine import Executor
from orderflow.execution.leader import EXECUTOR_LOCK_KEY, LeaderLock
from orderflow.execution.orders import OrderDesk
from orderflow.execution.paper import PaperBroker
from tests.execution.conftest import (
    MARKET,
    MARKET_B,
    TOKEN_NO,
    TOKEN_YES,
    WHALE,
    add_strategy,
    add_token,
    add_trade,
    add_wallet,
    executor_settings,
    leading,
    running,
    wait_for,
)
from tests.execution.gated_broker import GatedBroker


class SlowStart(OrderDesk):
    """A desk whose first reconciliation (the start-up repair's) waits until let through."""

    reached: asyncio.Event
    gate: asyncio.Event

    async def reconcile(
        self, strategy: str | None = None, gone: Mapping[int, str] | None = None
    ) -> None:
        self.reached.set()
        await self.gate.wait()
        await super().reconcile(strategy, gone)


async def _base(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await add_strategy(conn, "alpha")
        await add_token(conn, TOKEN_YES, MARKET, 0)
        await add_wallet(conn, WHALE, 8.5)


async def _old_leader(pool: asyncpg.Pool, dsn: str, exchange: Broker) -> Executor:
    """A leader with its order worker running, whose lock session has just been killed."""
    old = Executor(pool, dsn, executor_settings(), {"paper": exchange})
    assert await old.lock.try_acquire()
    async with pool.acquire() as conn:
        await old.registry.refresh(conn)
    old.worker.start()
    assert old.lock._conn is not None
    await pool.execute("SELECT pg_terminate_backend($1)", old.lock._conn.get_server_pid())
    return old


def _new_leader(pool: asyncpg.Pool, dsn: str) -> tuple[Executor, SlowStart]:
    brokers: dict[Mode, Broker] = {"paper": PaperBroker(pool)}
    desk = SlowStart(pool, brokers)
    desk.reached, desk.gate = asyncio.Event(), asyncio.Event()
    return Executor(pool, dsn, executor_settings(), brokers, desk=desk), desk


def _signal(pool: asyncpg.Pool) -> Callable[[], Awaitable[asyncpg.Record | None]]:
    async def closed() -> asyncpg.Record | None:
        row = await pool.fetchrow("SELECT status, reason FROM orderflow_signals")
        return row if row is not None and row["status"] != "PENDING" else None

    return closed


async def test_an_old_leaders_orphan_is_closed_during_this_leadership(
    pool: asyncpg.Pool, dsn: str
) -> None:
    await _base(pool)
    exchange = GatedBroker(PaperBroker(pool), "prepare")
    old = await _old_leader(pool, dsn, exchange)
    new, desk = _new_leader(pool, dsn)
    async with running(new):
        await desk.reached.wait()  # the new leader has run its start-up repairs: nothing yet
        # The old leader, before it notices the lost lock, decides a trade: the signal is
        # stored and its order queued, held up building the order.
        async with pool.acquire() as conn:
            await add_trade(conn)
        assert await old.catch_up() == 1
        await exchange.reached.wait()
        assert not await old.lock.check()  # now it notices, and stops placing
        await old.worker.stop()
        assert await pool.fetchval("SELECT status FROM orderflow_signals") == "PENDING"
        desk.gate.set()
        await leading(new)
        row = await wait_for(_signal(pool))
    assert (row["status"], row["reason"]) == ("SKIPPED", "interrupted_before_order")
    assert await pool.fetchval("SELECT count(*) FROM orderflow_orders") == 0


async def test_an_orphan_the_new_leader_closed_is_not_sent_by_the_old_one(
    pool: asyncpg.Pool, dsn: str
) -> None:
    """The old leader's order, held up before its intent, goes on after the new leader closed
    its signal: it must not be sent (before, it was: the signal SKIPPED
    ``interrupted_before_order`` had an order and a position after all)."""
    await _base(pool)
    exchange = GatedBroker(PaperBroker(pool), "prepare")
    old = await _old_leader(pool, dsn, exchange)
    async with pool.acquire() as conn:
        await add_trade(conn)
    assert await old.catch_up() == 1
    await exchange.reached.wait()  # the old leader's order is on its way, not yet stored
    new, desk = _new_leader(pool, dsn)
    desk.gate.set()
    async with running(new):
        await leading(new)
        row = await wait_for(_signal(pool))
        assert (row["status"], row["reason"]) == ("SKIPPED", "interrupted_before_order")
        exchange.gate.set()  # the old leader goes on, not having noticed yet
        await old.worker.drain()
    await old.worker.stop()
    assert await pool.fetchval("SELECT count(*) FROM orderflow_orders") == 0
    assert await pool.fetchval("SELECT count(*) FROM orderflow_positions") == 0
    row = await pool.fetchrow("SELECT status, reason FROM orderflow_signals")
    assert (row["status"], row["reason"]) == ("SKIPPED", "interrupted_before_order")


async def test_a_leader_closes_neither_its_own_signals_nor_any_once_it_lost_the_lock(
    pool: asyncpg.Pool, dsn: str
) -> None:
    """The pass skips what this executor's worker holds (an order held up before its intent),
    and does nothing once the lock's session is gone (the new leader's signals are not an old
    leader's to close)."""
    await _base(pool)
    exchange = GatedBroker(PaperBroker(pool), "prepare")
    ex = Executor(pool, dsn, executor_settings(), {"paper": exchange})
    async with running(ex):
        await leading(ex)
        async with pool.acquire() as conn:
            await add_trade(conn)
        await exchange.reached.wait()
        await ex.maintenance()  # what every pass does, once more while the order is held up
        assert await pool.fetchval("SELECT status FROM orderflow_signals") == "PENDING"
        exchange.gate.set()

        async def sent() -> str | None:
            status: str | None = await pool.fetchval("SELECT status FROM orderflow_orders")
            return status if status not in (None, "INTENT") else None

        # Sent and resting on the paper book (no depth shown): its signal left PENDING, not
        # closed as an orphan.
        assert await wait_for(sent) == "OPEN"
    # An old leader's orphan, and the old leader's own pass before it noticed the lost lock.
    exchange = GatedBroker(PaperBroker(pool), "prepare")
    old = await _old_leader(pool, dsn, exchange)
    async with pool.acquire() as conn:
        await add_token(conn, TOKEN_NO, MARKET_B, 1)
        await add_trade(conn, token_id=TOKEN_NO, market=MARKET_B, outcome_index=1, price="0.30")
    assert await old.catch_up() == 1
    await exchange.reached.wait()
    await old.worker.stop()
    new = LeaderLock(dsn)
    assert await new.try_acquire()  # a new leader has taken over
    try:
        await old.close_orphans()
        # The same before the old leader's client has read its session's end: the session
        # holds no lock any more, whatever the client believes.
        assert old.lock._conn is not None
        assert await old.trader.close_orphans(old.lock._conn.get_server_pid()) == []
    finally:
        await new.release()
    statuses = await pool.fetch("SELECT status FROM orderflow_signals ORDER BY id")
    assert [r["status"] for r in statuses] == ["PENDING", "PENDING"]
    assert await pool.fetchval("SELECT count(*) FROM orderflow_orders") == 1


async def test_only_the_trading_lock_makes_its_session_the_leaders(
    pool: asyncpg.Pool, dsn: str
) -> None:
    """The sweep closes orphans only while the given session holds the trading lock. It asked
    for any advisory lock of that session: one holding another key (a paper matching pass's,
    a tool's) passed for the leader's."""
    await _base(pool)
    exchange = GatedBroker(PaperBroker(pool), "prepare")
    ex = Executor(pool, dsn, executor_settings(), {"paper": exchange})
    async with pool.acquire() as conn:
        await ex.registry.refresh(conn)
        await add_trade(conn)
    ex.worker.start()
    assert await ex.catch_up() == 1
    await exchange.reached.wait()  # accepted, its order held before its intent: an orphan
    other = await asyncpg.connect(dsn)
    try:
        pid = other.get_server_pid()
        await other.execute("SELECT pg_advisory_lock($1)", EXECUTOR_LOCK_KEY + 1)
        async with pool.acquire() as conn:
            assert await order_queries.close_orphans(conn, [], pid, "test") == []
        await other.execute("SELECT pg_advisory_lock($1)", EXECUTOR_LOCK_KEY)
        async with pool.acquire() as conn:
            assert len(await order_queries.close_orphans(conn, [], pid, "test")) == 1
    finally:
        await other.close()
        exchange.gate.set()
        await ex.worker.stop()
