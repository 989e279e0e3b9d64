"""The running executor: NOTIFY, polling fallback, settings without restart, pause, kill,
heartbeats, one trader among two executors, and the trace from trade to order."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import asyncpg
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from orderflow import db
from orderflow.execution.engine import Executor
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
    follow,
    leading,
    now_true,
    running,
    wait_for,
)


async def _base(pool: asyncpg.Pool, **settings: object) -> None:
    async with pool.acquire() as conn:
        await add_strategy(conn, "alpha", **settings)
        await add_token(conn, TOKEN_YES, MARKET, 0)
        await add_token(conn, TOKEN_NO, MARKET_B, 1)
        await add_wallet(conn, WHALE, 8.5)


def _signals(
    pool: asyncpg.Pool, where: str = "true"
) -> Callable[[], Awaitable[list[asyncpg.Record]]]:
    """Signals decided and, if accepted, sent: a paper order rests on the paper book until
    depth the chain shows fills it (these tests show none), its signal PENDING meanwhile."""

    async def count() -> list[asyncpg.Record]:
        rows = await pool.fetch(
            "SELECT s.*, o.status AS order_status FROM orderflow_signals s"
            " LEFT JOIN orderflow_orders o ON o.signal_id = s.id"
            f" WHERE (s.status <> 'PENDING' OR o.status = 'OPEN') AND {where} ORDER BY s.id"
        )
        return list(rows)

    return count


async def test_notify_wakes_the_executor_and_polling_covers_lost_notifications(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    await _base(pool)
    # Polling far away: only the notification can deliver the first trade in time.
    ex = make_executor(EXECUTOR_POLL_INTERVAL_SECS=600.0)
    async with running(ex):
        await leading(ex)
        async with pool.acquire() as conn:
            await add_trade(conn)
        rows = await wait_for(_signals(pool))
        assert rows[0]["order_status"] == "OPEN"
    # Notifications lost (trigger disabled): the 3-second fallback (here 0.3 s) still finds it.
    async with pool.acquire() as conn:
        await conn.execute("ALTER TABLE orderflow_trades DISABLE TRIGGER orderflow_trades_notify")
    ex2 = make_executor(EXECUTOR_POLL_INTERVAL_SECS=0.3)
    async with running(ex2):
        await leading(ex2)
        async with pool.acquire() as conn:
            await add_trade(conn, token_id=TOKEN_NO, market=MARKET_B, outcome_index=1, price="0.30")
        rows = await wait_for(_signals(pool, f"s.token_id = {TOKEN_NO}"))
        assert rows[0]["order_status"] == "OPEN"
    assert await pool.fetchval("SELECT count(*) FROM orderflow_signals") == 2


async def test_settings_pause_and_kill_apply_without_restart_and_survive_it(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    await _base(pool)
    ex = make_executor(EXECUTOR_POLL_INTERVAL_SECS=600.0, EXECUTOR_STRATEGY_REFRESH_SECS=600.0)
    async with running(ex):
        await leading(ex)
        # A settings change through the table (what the operator and the CLI write).
        await pool.execute(
            "UPDATE orderflow_strategies SET settings = settings || '{\"min_whale_score\": 9.0}',"
            " generation = generation + 1 WHERE name = 'alpha'"
        )

        async def applied() -> bool:
            return ex.registry.states["alpha"].settings.min_whale_score == 9.0

        await wait_for(applied)
        async with pool.acquire() as conn:
            await add_trade(conn)  # score 8.5 < 9: no signal now
        await pool.execute(
            "UPDATE orderflow_strategies SET paused = true, generation = generation + 1"
            " WHERE name = 'alpha'"
        )
        await wait_for(lambda: now_true(ex.registry.states["alpha"].paused))
        await pool.execute(
            "UPDATE orderflow_strategies SET settings = settings || '{\"min_whale_score\": 7.0}',"
            " generation = generation + 1 WHERE name = 'alpha'"
        )
        await wait_for(lambda: now_true(ex.registry.states["alpha"].settings.min_whale_score == 7))
        async with pool.acquire() as conn:
            await add_trade(conn)
        rows = await wait_for(_signals(pool))
        assert [(r["status"], r["reason"]) for r in rows] == [("SKIPPED", "strategy_paused")]
    # Restart: still paused (the flag lives in the database).
    ex2 = make_executor()
    async with running(ex2):
        await leading(ex2)
        async with pool.acquire() as conn:
            await add_trade(conn, token_id=TOKEN_NO, market=MARKET_B, outcome_index=1)
        rows = await wait_for(_signals(pool, f"s.token_id = {TOKEN_NO}"))
        assert rows[0]["reason"] == "strategy_paused"
        # Kill while paused, then resume: still no order, the kill wins.
        await pool.execute(
            "UPDATE orderflow_strategies SET killed = true, paused = false,"
            " generation = generation + 1 WHERE name = 'alpha'"
        )
        await wait_for(lambda: now_true(ex2.registry.states["alpha"].killed))
        async with pool.acquire() as conn:
            await add_trade(conn, token_id=TOKEN_NO, market=MARKET_B, outcome_index=1, price="0.35")
        rows = await wait_for(_signals(pool, "reason = 'strategy_killed'"))
        assert rows[0]["status"] == "SKIPPED"
    assert await pool.fetchval("SELECT count(*) FROM orderflow_orders") == 0


async def test_two_executors_one_trader_and_takeover(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    await _base(pool)
    first = make_executor(EXECUTOR_INSTANCE_ID="first")
    second = make_executor(EXECUTOR_INSTANCE_ID="second")

    async def roles() -> list[tuple[str, bool]]:
        rows = await pool.fetch(
            "SELECT instance_id, is_leader FROM orderflow_executor_heartbeats ORDER BY instance_id"
        )
        return [(r["instance_id"], r["is_leader"]) for r in rows]

    first_task = asyncio.create_task(first.run())
    try:
        await leading(first)
        async with running(second):

            async def first_leads() -> bool:
                return await roles() == [("first", True), ("second", False)]

            await wait_for(first_leads)
            async with pool.acquire() as conn:
                await add_trade(conn)
            await wait_for(_signals(pool))
            assert not second.is_leader and first.is_leader
            # The leader goes away (its session, and with it the lock): the standby takes over.
            first_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await first_task
            await leading(second)

            async def second_leads() -> bool:
                return await roles() == [("first", False), ("second", True)]

            await wait_for(second_leads)
            async with pool.acquire() as conn:
                await add_trade(conn, token_id=TOKEN_NO, market=MARKET_B, outcome_index=1)
            await wait_for(_signals(pool, f"s.token_id = {TOKEN_NO}"))
    finally:
        first_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await first_task
    assert await pool.fetchval("SELECT count(*) FROM orderflow_signals") == 2
    assert await pool.fetchval("SELECT count(*) FROM orderflow_orders") == 2


async def test_one_trace_from_listener_insert_to_order(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(TracerProvider())
    await _base(pool)
    ex = make_executor()
    async with pool.acquire() as conn:
        await ex.registry.refresh(conn)
        parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        await add_trade(conn, traceparent=parent)
    await ex.catch_up()
    sig = await pool.fetchrow("SELECT traceparent FROM orderflow_signals")
    order = await pool.fetchrow("SELECT traceparent FROM orderflow_orders")
    trace_id = parent.split("-")[1]
    assert sig["traceparent"].split("-")[1] == trace_id
    assert order["traceparent"].split("-")[1] == trace_id
    assert sig["traceparent"] != parent and order["traceparent"] != sig["traceparent"]


async def test_leader_that_loses_its_session_steps_down_and_recovers(
    pool: asyncpg.Pool, dsn: str
) -> None:
    await _base(pool)
    own_pool = await db.create_pool(dsn, min_size=1, max_size=4)
    ex = Executor(own_pool, dsn, executor_settings(), {"paper": PaperBroker(own_pool)})
    try:
        async with running(ex):
            await leading(ex)
            # Every session of the executor dies (a database restart, a network cut).
            await pool.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND application_name = ''"
                " AND pid <> ALL($1::int[])",
                [c._con.get_server_pid() for c in pool._holders if c._con is not None],
            )
            async with pool.acquire() as conn:
                await add_trade(conn)
            rows = await wait_for(_signals(pool), timeout=30)
            assert rows[0]["order_status"] == "OPEN" and ex.is_leader
    finally:
        await own_pool.close()


async def test_a_trade_committed_after_a_later_id_is_not_missed(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    await _base(pool)
    ex = make_executor(EXECUTOR_POLL_INTERVAL_SECS=0.3)
    async with running(ex):
        await leading(ex)
        slow = await pool.acquire()
        try:
            tx = slow.transaction()
            await tx.start()
            # Another wallet: the wallet-stats trigger would otherwise serialise the two inserts.
            other = "0x" + "a2" * 20
            await add_wallet(slow, other, 8.5)
            early_id = await add_trade(
                slow, wallet=other, token_id=TOKEN_NO, market=MARKET_B, outcome_index=1
            )
            async with pool.acquire() as conn:
                late_id = await add_trade(conn)  # a higher id, committed first
            assert late_id > early_id
            await wait_for(_signals(pool))
            assert ex.registry.states["alpha"].cursor >= late_id
            await tx.commit()
        finally:
            await pool.release(slow)
        rows = await wait_for(_signals(pool, f"s.token_id = {TOKEN_NO}"))
        assert rows[0]["order_status"] == "OPEN"
    assert await pool.fetchval("SELECT count(*) FROM orderflow_signals") == 2


async def test_signal_and_order_metrics_are_exported(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    from prometheus_client import generate_latest

    from orderflow.telemetry import setup_metrics

    setup_metrics("executor")
    await _base(pool)
    ex = make_executor()
    await follow(pool, ex)
    lines = generate_latest().decode().splitlines()

    def sample(name: str, *labels: str) -> list[str]:
        return [ln for ln in lines if ln.startswith(name + "{") and all(x in ln for x in labels)]

    assert sample("orderflow_signals_total", 'status="PENDING"', 'type="FOLLOW_WHALE"')
    assert sample("orderflow_orders_total", 'mode="paper"', 'status="OPEN"')
    assert sample("orderflow_signal_latency_seconds_bucket")
