"""Deleting a TradingStrategy cancels its live orders (issue 15, item 7), end to end: kopf's
real runtime against kmock's Kubernetes emulator writes the strategy row, the executor trades it
live against the CLOB stand-in, and ``kubectl delete`` goes through the finalizer (row killed and
deleted) to the executor's kill switch, which cancels the resting order at the exchange."""

from __future__ import annotations

import asyncpg
import kmock
import pytest

from tests.execution.conftest import running
from tests.execution.livekit import live_executor
from tests.operator.conftest import NAMESPACE, TS, ApiServer, eventually, operator_running
from tests.operator.live_whale import clob_and_whale, rest_a_live_order
from tests.operator.test_runtime import apply, delete, manifest, wait_row

pytestmark = pytest.mark.kmock(cls=ApiServer)


async def test_deleting_a_live_strategy_cancels_its_resting_orders(
    api: kmock.KubernetesEmulator, dsn: str, pool: asyncpg.Pool
) -> None:
    async with clob_and_whale(dsn) as (clob, broker, conn):
        async with operator_running(api, dsn):
            await apply(api, manifest("whale", mode="live", credentialsSecret="poly-creds"))
            await wait_row(conn, "whale", killed=False)
            ex = live_executor(pool, dsn, broker)
            async with running(ex):
                order_id = await rest_a_live_order(ex, conn, clob)
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
