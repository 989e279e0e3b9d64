"""An executor (re)started while the CLOB does not answer still starts: it cannot log in to the
exchange yet, and it keeps trying. Until then it sends no live order; a killed strategy's order
the exchange holds is cancelled as soon as the exchange answers again, without a restart.

Before, ``orderflow execute`` logged in once at start-up and exited 1 (`cannot authenticate with
the CLOB`) when the exchange did not answer: the order of a strategy killed while the executor
was down stayed live at the exchange until a later restart found the exchange up (in Kubernetes,
the crash loop's back-off: up to five minutes after it was back), and the paper strategies did
not trade meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg
import pytest

from orderflow.cli import build_parser
from orderflow.execution.broker import (
    CancelResult,
    CredentialsRefusedError,
    ExchangeBusyError,
    OrderOutcome,
)
from orderflow.execution.credentials import LiveCredentials
from orderflow.execution.live import LiveBroker
from orderflow.execution.live_connect import connect_live_broker
from orderflow.execution.live_pending import PendingLiveBroker
from orderflow.execution.orders import OrderDesk
from tests.execution.conftest import (
    MARKET_B,
    TOKEN_NO,
    TOKEN_YES,
    add_strategy,
    add_trade,
    now_true,
    wait_for,
)
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import KEY, live_executor, live_strategy


class _Dying(OrderDesk):
    """The process dies after the exchange answered the order, before anything is recorded."""

    async def apply(self, order_id: int, outcome: OrderOutcome, *, sent: bool) -> None:
        raise SystemExit("kill -9")


_FOREVER = 1_000_000  # a fault's default number of answers


def _posts(clob: FakeClob) -> int:
    return sum(1 for m, p in clob.requests if (m, p) == ("POST", "/order"))


async def test_a_kill_while_executor_and_exchange_were_down_cancels_once_the_exchange_is_back(
    pool: asyncpg.Pool,
    dsn: str,
    env: str,
    clob: FakeClob,
    live: LiveBroker,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await live_strategy(pool)
    async with pool.acquire() as conn:
        await add_strategy(conn, "paper-two")
    first = live_executor(pool, dsn, live, _Dying)
    async with pool.acquire() as conn:
        await first.registry.refresh(conn)
        await add_trade(conn, token_id=TOKEN_NO, outcome_index=1, price="0.30")  # rests
    with pytest.raises(SystemExit):
        await first.catch_up()
    [(exchange_id, placed)] = clob.orders.items()
    assert placed["status"] == "LIVE"  # the exchange holds it; we only have the intent
    assert await pool.fetchval("SELECT status FROM orderflow_orders") == "INTENT"
    # Killed while the executor is down; the exchange goes down too.
    await pool.execute("UPDATE orderflow_strategies SET killed = true WHERE name = 'live-one'")
    down = [clob.fail(method, "/", 503) for method in ("GET", "POST", "DELETE")]
    for name, value in {
        "POLY_PRIVATE_KEY": KEY,
        "POLY_CLOB_URL": clob.url,
        "HEALTH_PORT": "0",
        "EXECUTOR_HEARTBEAT_SECS": "0.2",
        "EXECUTOR_MAINTENANCE_SECS": "0.5",
        "EXECUTOR_LEADER_RETRY_SECS": "0.2",
    }.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.INFO)
    args = build_parser().parse_args(["execute"])
    task = asyncio.create_task(args.handler(args))
    try:

        async def leading() -> asyncpg.Record | None:
            if task.done():
                raise AssertionError(f"execute stopped: {task.result()!r}")
            return await pool.fetchrow(
                "SELECT * FROM orderflow_executor_heartbeats WHERE is_leader"
            )

        await wait_for(leading)
        # A paper strategy trades meanwhile.
        async with pool.acquire() as conn:
            await add_trade(conn, token_id=TOKEN_YES + 11, market=MARKET_B, price="0.40")
        paper = await wait_for(
            lambda: pool.fetchrow(
                "SELECT * FROM orderflow_orders WHERE strategy = 'paper-two' AND status = 'OPEN'"
            )
        )
        assert paper["mode"] == "paper"
        # The exchange is asked (and does not answer) while the executor leads.
        await wait_for(lambda: now_true(sum(_FOREVER - f.times for f in down) >= 3))
        assert _posts(clob) == 1 and clob.orders[exchange_id]["status"] == "LIVE"
        for fault in down:
            fault.times = 0  # the exchange is back

        async def cancelled() -> bool:
            if task.done():
                raise AssertionError(f"execute stopped: {task.result()!r}")
            return bool(clob.orders[exchange_id]["status"] == "CANCELED")

        await wait_for(cancelled)
        row = await wait_for(
            lambda: pool.fetchrow("SELECT * FROM orderflow_orders WHERE status = 'CANCELED'")
        )
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert row["strategy"] == "live-one"
    assert (row["exchange_order_id"], row["status_reason"]) == (exchange_id, "strategy_killed")
    assert _posts(clob) == 1  # nothing sent again, nothing new
    assert KEY[2:] not in caplog.text


async def test_the_live_broker_logs_in_once_the_exchange_answers_and_says_when_it_refuses(
    clob: FakeClob,
) -> None:
    """Until it is logged in, every call fails as the exchange not answering does, or as a
    refused key does (the kill switch then paces its cancels and says what to do)."""
    down = [clob.fail(method, "/", 503) for method in ("GET", "POST", "DELETE")]
    broker = await connect_live_broker(
        LiveCredentials(POLY_PRIVATE_KEY=KEY, POLY_CLOB_URL=clob.url)
    )
    try:
        assert isinstance(broker, PendingLiveBroker)
        with pytest.raises(ExchangeBusyError) as busy:
            await broker.cancel(["0x01"])
        assert not isinstance(busy.value, CredentialsRefusedError)
        assert await broker.market_rules(TOKEN_NO) is None  # the strategy's settings apply
        for fault in down:
            fault.times = 0
        refused = [clob.fail(method, "/auth", 401) for method in ("GET", "POST")]

        async def refusing() -> bool:
            try:
                await broker.cancel(["0x01"])
            except CredentialsRefusedError:
                return True
            except ExchangeBusyError:
                return False
            raise AssertionError("logged in with a refused key")

        await wait_for(refusing)
        for fault in refused:
            fault.times = 0

        async def logged_in() -> CancelResult | None:
            with contextlib.suppress(ExchangeBusyError):
                return await broker.cancel(["0x01"])
            return None

        result = await wait_for(logged_in)
        assert "0x01" in result.not_canceled  # asked, and answered
    finally:
        await broker.close()
