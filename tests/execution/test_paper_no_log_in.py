"""An executor whose strategies are all paper makes no authenticated call to the CLOB, even with
a private key in its environment: it logs in when a strategy first trades live.

Before, ``orderflow execute`` logged in at start-up whenever ``POLY_PRIVATE_KEY`` was set (the
API key derived from the private key) and then sent the order heartbeat every few seconds while
it led: the exchange's dead man's switch, armed for the key, cancels every open order of the
key once the beats stop — the orders its owner placed by hand included — when this paper-only
executor stopped, lost its network or its leadership."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import pytest

from orderflow.cli import build_parser
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
    wait_for,
)
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import KEY

SWITCH = (
    'UPDATE orderflow_strategies SET settings = settings || \'{"mode": "live"}\'::jsonb,'
    " generation = generation + 1 WHERE name = $1"
)


def _authenticated(clob: FakeClob) -> list[tuple[str, str]]:
    """The requests that need our key: logging in, the order heartbeat, orders, the account."""
    public = ("/book", "/books", "/tick-size", "/neg-risk", "/fee-rate", "/clob-markets", "/time")
    return [(m, p) for m, p in clob.requests if not p.startswith(public)]


async def test_a_paper_only_executor_does_not_log_in_until_a_strategy_trades_live(
    pool: asyncpg.Pool, env: str, clob: FakeClob, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with pool.acquire() as conn:
        await add_strategy(conn, "paper-two", quote_from="tape")
        await add_token(conn, TOKEN_YES, MARKET, 0)
        await add_token(conn, TOKEN_NO, MARKET, 1)
        await add_wallet(conn, WHALE, 8.5)
    for name, value in {
        "POLY_PRIVATE_KEY": KEY,
        "POLY_CLOB_URL": clob.url,
        "HEALTH_PORT": "0",
        "EXECUTOR_STRATEGIES": "paper-two",
        "EXECUTOR_HEARTBEAT_SECS": "0.2",
        "EXECUTOR_MAINTENANCE_SECS": "0.2",
        "ORDER_HEARTBEAT_SECS": "0.2",
        "EXECUTOR_LEADER_RETRY_SECS": "0.2",
    }.items():
        monkeypatch.setenv(name, value)
    args = build_parser().parse_args(["execute"])
    task = asyncio.create_task(args.handler(args))
    try:

        async def running(sql: str) -> asyncpg.Record | None:
            if task.done():
                raise AssertionError(f"execute stopped: {task.result()!r}")
            return await pool.fetchrow(sql)

        await wait_for(
            lambda: running("SELECT 1 FROM orderflow_executor_heartbeats WHERE is_leader")
        )
        async with pool.acquire() as conn:
            await add_trade(conn, token_id=TOKEN_YES + 11, market=MARKET_B, price="0.40")
        paper = await wait_for(lambda: running("SELECT * FROM orderflow_orders"))
        assert paper["mode"] == "paper"
        for _ in range(4):  # a few maintenance passes and order heartbeats' worth
            await wait_for(lambda: running("SELECT 1 FROM orderflow_executor_heartbeats"))
            await asyncio.sleep(0.2)
        assert _authenticated(clob) == [], "a paper-only executor called the CLOB with our key"

        # Switched to live, the strategy's next entry logs in and is sent.
        await pool.execute(SWITCH, "paper-two")
        async with pool.acquire() as conn:
            await add_trade(conn, token_id=TOKEN_YES, price="0.40")
        live = await wait_for(
            lambda: running(
                "SELECT * FROM orderflow_orders WHERE mode = 'live' AND status = 'OPEN'"
            )
        )
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert live["exchange_order_id"] in clob.orders
    assert ("POST", "/order") in clob.requests
