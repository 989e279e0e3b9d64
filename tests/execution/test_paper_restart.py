"""A paper order in doubt is settled like a live one: never resent, adopted or abandoned.

An intent stored and never sent (the process died before the send) is unknown to the paper
exchange: it stays in doubt, counting as exposure, until its expiry has passed, then it is
abandoned. An order the paper exchange accepted whose answer was lost is found by its client id
(its only candidate id) and adopted, and fills from what is revealed afterwards.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import asyncpg
import pytest

from orderflow.execution.broker import OrderInDoubtError, OrderOutcome, PreparedOrder
from orderflow.execution.orders import OrderDesk
from orderflow.execution.paper import PaperBroker
from tests.execution.conftest import (
    reveal,
)
from tests.execution.livekit import Clock
from tests.execution.paperkit import clocked_executor, whale_buys


class AnswerLost(PaperBroker):
    """The paper exchange accepts the order; its answer never reaches the desk."""

    async def send(self, order: PreparedOrder) -> OrderOutcome:
        await super().send(order)
        raise OrderInDoubtError("the answer was lost")


async def test_an_intent_never_sent_is_abandoned_after_its_expiry(
    pool: asyncpg.Pool, dsn: str
) -> None:
    class Crashing(OrderDesk):
        async def before_send(self, order_id: int) -> None:
            raise SystemExit("power cut")

    ex, clock = clocked_executor(pool, dsn, desk=Crashing)
    await whale_buys(pool, ex)
    with pytest.raises(SystemExit):
        await ex.catch_up()
    # Restart: unknown to the paper exchange, but valid until its expiry: in doubt.
    again, _ = clocked_executor(pool, dsn, clock)
    await again.desk.reconcile()
    row = await pool.fetchrow("SELECT id, status FROM orderflow_orders")
    assert row["status"] == "INTENT" and row["id"] in again.desk.in_doubt
    clock.offset = timedelta(minutes=10)
    await again.desk.reconcile()
    assert await pool.fetchval("SELECT status FROM orderflow_orders") == "ABANDONED"
    assert await pool.fetchval("SELECT count(*) FROM orderflow_paper_orders") == 0
    sig = await pool.fetchrow("SELECT status, reason FROM orderflow_signals")
    assert (sig["status"], sig["reason"]) == ("SKIPPED", "order_not_sent")


async def test_an_order_whose_answer_was_lost_is_adopted_and_fills(
    pool: asyncpg.Pool, dsn: str
) -> None:
    clock = Clock()
    ex, _ = clocked_executor(pool, dsn, clock, AnswerLost(pool, clock=clock))
    await whale_buys(pool, ex)
    await ex.catch_up()
    row = await pool.fetchrow("SELECT id, status FROM orderflow_orders")
    assert row["status"] == "INTENT" and row["id"] in ex.desk.in_doubt
    async with pool.acquire() as conn:
        await reveal(conn, price="0.51", shares="10")
    again, _ = clocked_executor(pool, dsn, clock)
    await again.desk.reconcile()
    order = await pool.fetchrow("SELECT * FROM orderflow_orders")
    key = await pool.fetchval("SELECT order_key FROM orderflow_paper_orders")
    assert order["status"] == "OPEN" and order["exchange_order_id"] == key
    assert order["filled_shares"] == Decimal(10)
