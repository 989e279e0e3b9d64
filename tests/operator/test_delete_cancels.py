"""Deleting a TradingStrategy cancels its live orders (issue 15, item 7), end to end: kopf's
real runtime against kmock's Kubernetes emulator writes the strategy row, the executor trades it
live against the CLOB stand-in, and ``kubectl delete`` goes through the finalizer (row killed and
deleted) to the executor's kill switch, which cancels the resting order at the exchange."""

from __future__ import annotations

import asyncpg
import kmock
import pytest

from orderflow import db
from tests.execution.conftest import (
    MARKET,
    TOKEN_NO,
    TOKEN_YES,
    WHALE,
    add_token,
    add_trade,
    add_wallet,
    leading,
    running,
)
from tests.execution.livekit import live_executor, login, start_clob
from tests.operator.conftest import NAMESPACE, TS, ApiServer, eventually, operator_running
from tests.operator.test_runtime import apply, delete, manifest, wait_row

pytestmark = pytest.mark.kmock(cls=ApiServer)


async def test_deleting_a_live_strategy_cancels_its_resting_orders(
    api: kmock.KubernetesEmulator, dsn: str, pool: asyncpg.Pool
) -> None:
    clob = await start_clob()
    broker = await login(clob)
    conn = await db.connect(dsn)
    try:
        await add_token(conn, TOKEN_YES, MARKET, 0)
        await add_token(conn, TOKEN_NO, MARKET, 1)
        await add_wallet(conn, WHALE, 8.5)
        async with operator_running(api, dsn):
            await apply(api, manifest("whale", mode="live", credentialsSecret="poly-creds"))
            await wait_row(conn, "whale", killed=False)
            ex = live_executor(pool, dsn, broker)
            async with running(ex):
                await leading(ex)

                async def known() -> bool:
                    return "whale" in ex.registry.states

                await eventually(known, bool, what="the executor to run the strategy")
                # NO trades at 0.30, asks at 0.90: the live order rests on the book.
                await add_trade(conn, token_id=TOKEN_NO, outcome_index=1, price="0.30")

                async def resting() -> list[str]:
                    return clob.live_orders()

                [order_id] = await eventually(resting, bool, what="a resting live order")
                await delete(api, "whale")

                async def gone() -> bool:
                    return bool(api.objects[TS, NAMESPACE, "whale"].deleted)

                await eventually(gone, bool, what="the resource to be deleted")

                async def cancelled() -> str:
                    return str(clob.orders[order_id]["status"])

                await eventually(cancelled, lambda s: s == "CANCELED", what="the cancel")

                async def booked() -> str:
                    return str(await conn.fetchval("SELECT status FROM orderflow_orders"))

                await eventually(booked, lambda s: s == "CANCELED", what="the cancel booked")
        row = await conn.fetchrow("SELECT * FROM orderflow_strategies WHERE name = 'whale'")
        assert row["killed"] and row["deleted_at"] is not None
        status = await conn.fetchval("SELECT status FROM orderflow_orders")
        assert status == "CANCELED"
    finally:
        await conn.close()
        await broker.close()
        await clob.stop()
