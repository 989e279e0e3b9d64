"""Live mode at its boundary: the official SDK against a local, verifying CLOB stand-in."""

from __future__ import annotations

import dataclasses
import logging
from datetime import timedelta
from decimal import Decimal

import asyncpg
import pytest
from eth_account import Account

from orderflow.execution.credentials import LiveCredentials
from orderflow.execution.live import LiveBroker
from orderflow.execution.live_connect import open_live_broker
from orderflow.execution.orders import OrderDesk
from tests.execution.conftest import (
    TOKEN_NO,
    TOKEN_YES,
    add_trade,
    follow,
    leading,
    running,
    wait_for,
)
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import KEY, Clock, live_executor, live_strategy

ADDRESS = Account.from_key(KEY).address


async def test_live_order_signed_authenticated_and_filled(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live)
    await follow(pool, ex, price="0.50")
    assert clob.rejections == []
    assert ("POST", "/auth/api-key") in clob.requests  # API key derived with L1 auth
    [(order_id, placed)] = clob.orders.items()
    sent = placed["order"]
    assert sent["signer"] == ADDRESS and sent["maker"] == ADDRESS and sent["signatureType"] == 0
    assert sent["side"] == "BUY" and int(sent["tokenId"]) == TOKEN_YES
    assert placed["price"] == Decimal("0.51") and placed["order_type"] == "GTD"
    row = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert row["mode"] == "live" and row["status"] == "FILLED"
    assert row["exchange_order_id"] == order_id and order_id in row["candidate_order_ids"]
    assert row["client_order_id"] == str(sent["salt"])
    assert Decimal(sent["takerAmount"]) / 10**6 == row["shares"]
    fill = await pool.fetchrow("SELECT * FROM orderflow_fills")
    assert fill["mode"] == "live" and fill["shares"] == row["shares"]
    assert fill["usdc"] == Decimal(sent["makerAmount"]) / 10**6
    sig = await pool.fetchrow("SELECT status, reason FROM orderflow_signals")
    assert (sig["status"], sig["reason"]) == ("EXECUTED", "filled")
    # Secrets never reach the logs or the database.
    secret = clob.creds[ADDRESS.lower()].secret
    for text in (caplog.text, str(dict(row))):
        assert KEY[2:] not in text and secret not in text


async def test_the_stand_in_refuses_bad_signatures_and_bad_hmac(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The checks are real: a tampered order or a wrong API secret is refused."""
    await live_strategy(pool)

    class Tampering(LiveBroker):
        async def prepare(self, request):  # type: ignore[no-untyped-def]
            prepared = await super().prepare(request)
            forged = Account.from_key("0x" + "77" * 32)
            other = await LiveBroker.prepare(self, request)
            bad = dataclasses.replace(
                prepared.handle, salt=other.handle.salt
            )  # signature no longer matches
            del forged
            return dataclasses.replace(prepared, handle=bad)

    tampering = Tampering(live.client)
    ex = live_executor(pool, dsn, tampering)
    await follow(pool, ex)
    assert clob.rejections == ["invalid signature"] and clob.orders == {}
    sig = await pool.fetchrow("SELECT status, reason FROM orderflow_signals")
    assert sig["status"] == "SKIPPED" and sig["reason"].startswith("order_rejected")

    wrong = LiveCredentials(
        POLY_PRIVATE_KEY=KEY,
        POLY_CLOB_URL=clob.url,
        POLY_API_KEY=clob.creds[ADDRESS.lower()].key,
        POLY_API_SECRET="c2VjcmV0LWJ1dC13cm9uZw==",
        POLY_API_PASSPHRASE=clob.creds[ADDRESS.lower()].passphrase,
    )
    broker = await open_live_broker(wrong)  # the SDK re-derives after the 401
    await broker.close()
    assert "bad HMAC signature" in clob.rejections


async def test_crash_between_storing_and_sending_is_not_resent(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    await live_strategy(pool)

    class Crashing(OrderDesk):
        async def before_send(self, order_id: int) -> None:
            raise SystemExit("power cut")

    ex = live_executor(pool, dsn, live, Crashing)
    async with pool.acquire() as conn:
        await ex.registry.refresh(conn)
        await add_trade(conn)
    with pytest.raises(SystemExit):
        await ex.catch_up()
    row = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert row["status"] == "INTENT" and len(row["candidate_order_ids"]) == 3
    assert clob.orders == {}
    # Restart: the intent is reconciled with the exchange, which has not seen it. The signed
    # order stays valid until its expiry, so it stays in doubt (and counts as exposure) ...
    clock = Clock()
    ex2 = live_executor(pool, dsn, live, clock=clock)
    async with running(ex2):
        await leading(ex2)
        row = await pool.fetchrow("SELECT * FROM orderflow_orders")
        assert row["status"] == "INTENT" and row["id"] in ex2.desk.in_doubt
        # ... until its expiry has passed and the trades show no fill: abandoned, never resent.
        clock.offset = timedelta(minutes=10)

        async def abandoned() -> asyncpg.Record | None:
            return await pool.fetchrow("SELECT * FROM orderflow_orders WHERE status = 'ABANDONED'")

        row = await wait_for(abandoned)
    assert clob.orders == {}
    sig = await pool.fetchrow("SELECT status, reason FROM orderflow_signals")
    assert (sig["status"], sig["reason"]) == ("SKIPPED", "order_not_sent")
    assert [r for r in clob.requests if r[0] == "GET" and r[1].startswith("/data/order/")]


async def test_lost_response_is_reconciled_not_resent(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    await live_strategy(pool)
    clob.lose_next_response = True
    ex = live_executor(pool, dsn, live)
    await follow(pool, ex)
    assert len(clob.orders) == 1
    row = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert row["status"] == "INTENT" and row["id"] in ex.desk.in_doubt
    ex2 = live_executor(pool, dsn, live)
    async with running(ex2):
        await leading(ex2)
    row = await pool.fetchrow("SELECT * FROM orderflow_orders")
    [order_id] = clob.orders
    assert row["status"] == "FILLED" and row["exchange_order_id"] == order_id
    assert len(clob.orders) == 1 and [m for m, p in clob.requests if p == "/order"] == ["POST"]
    fill = await pool.fetchrow("SELECT * FROM orderflow_fills")
    assert fill["shares"] == row["shares"]
    sig = await pool.fetchrow("SELECT status FROM orderflow_signals")
    assert sig["status"] == "EXECUTED"


async def test_kill_cancels_open_live_orders(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live)
    async with running(ex):
        await leading(ex)
        async with pool.acquire() as conn:
            # NO trades at 0.30 but asks at 0.90: the order rests on the book.
            await add_trade(conn, token_id=TOKEN_NO, outcome_index=1, price="0.30")

        async def open_order() -> asyncpg.Record | None:
            return await pool.fetchrow("SELECT * FROM orderflow_orders WHERE status = 'OPEN'")

        row = await wait_for(open_order)
        assert clob.orders[row["exchange_order_id"]]["status"] == "LIVE"
        await pool.execute(
            "UPDATE orderflow_strategies SET killed = true, generation = generation + 1"
        )

        async def cancelled() -> asyncpg.Record | None:
            return await pool.fetchrow("SELECT * FROM orderflow_orders WHERE status = 'CANCELED'")

        row = await wait_for(cancelled)
    assert clob.orders[row["exchange_order_id"]]["status"] == "CANCELED"
    sig = await pool.fetchrow("SELECT status, reason FROM orderflow_signals")
    assert (sig["status"], sig["reason"]) == ("SKIPPED", "strategy_killed")


def test_live_credentials_are_validated_without_echoing_secrets() -> None:
    from orderflow.config import load
    from orderflow.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        load(LiveCredentials, POLY_PRIVATE_KEY="0xdeadbeef-secret", POLY_API_KEY="only-one")
    assert "POLY_API_SECRET" in str(err.value) and "deadbeef" not in str(err.value)
    with pytest.raises(ConfigError):
        load(LiveCredentials, POLY_PRIVATE_KEY=KEY, POLY_SIGNATURE_TYPE="2")
    assert not load(LiveCredentials, POLY_PRIVATE_KEY=" ").present


async def test_a_resting_order_filled_later_is_booked_by_reconciliation(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live)
    row = await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")
    assert row is not None
    assert (
        row["status"] == "OPEN" and await pool.fetchval("SELECT count(*) FROM orderflow_fills") == 0
    )
    assert (await pool.fetchrow("SELECT status FROM orderflow_signals"))["status"] == "PENDING"
    # Someone sells into it at the exchange: half now, the rest later. The exchange's order
    # endpoint forgets the order once it is fully matched; the trades have every fill.
    placed = clob.orders[row["exchange_order_id"]]
    clob.fill(row["exchange_order_id"], placed["shares"] / 2)
    await ex.maintenance()
    assert (await pool.fetchrow("SELECT status FROM orderflow_signals"))["status"] == "EXECUTED"
    clob.fill(row["exchange_order_id"])
    await ex.maintenance()
    await ex.maintenance()  # nothing new: booked once
    row = await pool.fetchrow("SELECT * FROM orderflow_orders")
    fills = await pool.fetch("SELECT shares, price FROM orderflow_fills ORDER BY id")
    assert row["status"] == "FILLED" and len(fills) == 2
    assert sum(f["shares"] for f in fills) == row["shares"]
    pos = await pool.fetchrow("SELECT * FROM orderflow_positions")
    assert pos["shares"] == row["shares"] and pos["status"] == "OPEN"
