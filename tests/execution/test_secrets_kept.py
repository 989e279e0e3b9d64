"""No secret of the executor's — the private key, the API key, secret and passphrase — reaches
its log (DEBUG, JSON: every field of every record), its /metrics or the rows it writes, over a
live run through ``orderflow execute`` that meets the failures whose messages carry the
exchange's words: an order placed and resting, the API key revoked (POST /order, the key check
and the kill switch's cancels answered 401), the exchange failing (503)."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import pytest
from eth_account import Account
from prometheus_client import generate_latest

from orderflow.cli import build_parser
from orderflow.execution.live import LiveBroker
from tests.execution.conftest import TOKEN_NO, add_trade, wait_for
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import KEY, buys_in_new_markets, live_strategy

_ROWS = (
    "SELECT o::text FROM orderflow_orders o",
    "SELECT s::text FROM orderflow_signals s",
    "SELECT k::text FROM orderflow_exchange_keys k",
    "SELECT f::text FROM orderflow_fills f",
)


async def test_no_secret_in_the_log_metrics_or_rows_of_a_live_run_that_meets_failures(
    pool: asyncpg.Pool,
    env: str,
    clob: FakeClob,
    live: LiveBroker,  # logged in once: the exchange knows the key the executor is given
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    creds = clob.creds[Account.from_key(KEY).address.lower()]
    secrets = {
        "private key": KEY[2:],
        "api key": creds.key,
        "api secret": creds.secret,
        "passphrase": creds.passphrase,
    }
    await live_strategy(pool)
    for name, value in {
        "POLY_PRIVATE_KEY": KEY,
        "POLY_API_KEY": creds.key,
        "POLY_API_SECRET": creds.secret,
        "POLY_API_PASSPHRASE": creds.passphrase,
        "POLY_CLOB_URL": clob.url,
        "LOG_LEVEL": "DEBUG",
        "LOG_FORMAT": "json",
        "HEALTH_PORT": "0",
        "EXECUTOR_HEARTBEAT_SECS": "0.2",
        "EXECUTOR_MAINTENANCE_SECS": "0.5",
    }.items():
        monkeypatch.setenv(name, value)
    args = build_parser().parse_args(["execute"])
    task = asyncio.create_task(args.handler(args))

    async def running(check: object) -> object:
        if task.done():
            raise AssertionError(f"execute stopped: {task.result()!r}")
        return check

    try:
        async with pool.acquire() as conn:
            await add_trade(conn, token_id=TOKEN_NO, outcome_index=1, price="0.30")  # rests

        async def resting() -> asyncpg.Record | None:
            await running(None)
            return await pool.fetchrow("SELECT * FROM orderflow_orders WHERE status = 'OPEN'")

        await wait_for(resting)
        clob.revoke_keys()  # every authenticated route answers 401 now
        await buys_in_new_markets(pool, clob, 1)

        async def refused() -> asyncpg.Record | None:
            await running(None)
            return await pool.fetchrow(
                "SELECT * FROM orderflow_signals WHERE reason = 'credentials_refused'"
            )

        await wait_for(refused)
        await pool.execute("UPDATE orderflow_strategies SET killed = true WHERE name = 'live-one'")

        async def cancel_refused() -> bool:
            await running(None)
            n = await pool.fetchval("SELECT max(cancel_refusals) FROM orderflow_orders")
            return bool(n)

        await wait_for(cancel_refused)
        clob.fail("DELETE", "/", 503, times=3)
        clob.fail("GET", "/", 503, times=3)
        await asyncio.sleep(1.5)  # a few passes meet the 503s
        metrics = generate_latest().decode()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    log = capfd.readouterr().err
    assert "refuses our API key" in log and "http 401" in log  # met what it was meant to
    rows = [str(r[0]) for q in _ROWS for r in await pool.fetch(q)]
    for what, text in {"log": log, "metrics": metrics, "rows": "\n".join(rows)}.items():
        for name, value in secrets.items():
            assert value not in text, f"the {name} is in the {what}"
