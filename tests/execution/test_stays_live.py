"""A live strategy stays live (issue 15, item 4): when its stored settings stop validating it is
halted with its last valid settings, never reverted to the paper defaults; its exits go where its
positions are; the other strategies keep trading; ``orderflow execute`` still starts."""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal

import asyncpg
import pytest

from orderflow.cli import build_parser
from orderflow.execution.live import LiveBroker
from tests.execution.conftest import (
    MARKET_B,
    TOKEN_YES,
    add_strategy,
    add_trade,
    fill_when_resting,
    follow,
    leading,
    running,
    wait_for,
)
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import live_executor, live_strategy

BREAK = (
    "UPDATE orderflow_strategies SET settings = settings || '{\"kelly_fraction\": 5}',"
    " generation = generation + 1 WHERE name = $1"
)


async def test_an_invalid_live_strategy_exits_live_after_a_failover(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The exit of a live position was filled on paper by an executor that met the invalid
    row first (restart, failover): the row was closed, the real shares stayed."""
    await live_strategy(pool)
    async with pool.acquire() as conn:
        await add_strategy(conn, "paper-two")
    first = live_executor(pool, dsn, live)
    await follow(pool, first, token_id=TOKEN_YES, price="0.50")  # bought live, filled
    assert (
        await pool.fetchval("SELECT status FROM orderflow_orders WHERE strategy = 'live-one'")
        == "FILLED"
    )
    await pool.execute(BREAK, "live-one")
    clob.markets[TOKEN_YES].bids[TOKEN_YES] = Decimal("0.48")  # someone bids: the exit fills
    standby = live_executor(pool, dsn, live)  # takes over, never saw valid settings itself
    async with running(standby):
        await leading(standby)
        state = standby.registry.states["live-one"]
        assert state.error is not None and state.settings.mode == "live"
        async with pool.acquire() as conn:
            await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.48")

        async def exited() -> asyncpg.Record | None:
            return await pool.fetchrow(
                "SELECT * FROM orderflow_positions WHERE strategy = 'live-one'"
                " AND status = 'CLOSED'"
            )

        await wait_for(exited)
        # Halted for new positions, while the other strategy keeps trading.
        async with pool.acquire() as conn:
            await add_trade(conn, token_id=TOKEN_YES + 11, market=MARKET_B, price="0.40")

        await fill_when_resting(pool, standby, TOKEN_YES + 11)  # an ask at its limit

        async def other() -> list[asyncpg.Record] | None:
            found = await pool.fetch(
                "SELECT strategy, status, reason FROM orderflow_signals WHERE token_id = $1"
                " AND status <> 'PENDING' ORDER BY strategy",
                TOKEN_YES + 11,
            )
            return list(found) if len(found) == 2 else None

        rows = await wait_for(other)
    sells = await pool.fetch(
        "SELECT * FROM orderflow_orders WHERE side = 'SELL' AND strategy = 'live-one'"
    )
    assert [(s["mode"], s["status"]) for s in sells] == [("live", "FILLED")]
    assert [o["order"]["side"] for o in clob.orders.values()] == ["BUY", "SELL"]
    assert not await pool.fetchval(
        "SELECT count(*) FROM orderflow_fills WHERE mode = 'paper' AND strategy = 'live-one'"
    )
    by = {r["strategy"]: (r["status"], r["reason"]) for r in rows}
    assert by["paper-two"] == ("EXECUTED", "filled")
    assert by["live-one"] == ("SKIPPED", "strategy_paused")


async def test_execute_starts_with_an_invalid_strategy_row(
    env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One invalid row made `orderflow execute` exit 1 at start-up."""
    monkeypatch.setenv("HEALTH_PORT", "0")
    monkeypatch.setenv("EXECUTOR_HEARTBEAT_SECS", "0.2")
    conn = await asyncpg.connect(env)
    try:
        from orderflow.migrate import migrate

        await migrate(conn)
        await conn.execute(
            "INSERT INTO orderflow_strategies (name, settings) VALUES"
            " ('good', '{}'), ('broken', '{\"kelly_fraction\": 5}')"
        )
        args = build_parser().parse_args(["execute"])
        task = asyncio.create_task(args.handler(args))
        try:

            async def leader() -> asyncpg.Record | None:
                if task.done():
                    raise AssertionError(f"execute stopped: {task.result()!r}")
                return await conn.fetchrow(
                    "SELECT strategies FROM orderflow_executor_heartbeats WHERE is_leader"
                )

            row = await wait_for(leader)
            assert row["strategies"] == ["broken", "good"]
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    finally:
        await conn.close()
