"""A placement answer that says the exchange took the order but not how: ``"success": true``,
our own ``orderID``, no ``errorMsg``, and a ``status`` that is none of the CLOB's documented
``live`` / ``matched`` / ``delayed`` / ``unmatched`` (a new value, another spelling), or a
``"success": false`` without any reason (Polymarket's order docs: ``success`` false is a
server-side error; a refusal's reason is in ``errorMsg``). The SDK reads each as a refusal
("Unknown order failure"), and the executor recorded the order REJECTED — never asked about
again while it rested at the exchange: out of the limits and the kill switch, its fill never
booked. Now such an answer is an order in doubt, with a clear error naming what the answer
lacked: found by its own ids, counted meanwhile, its fills booked once from the trades, never
sent twice. A true refusal (a reason in ``errorMsg``) stays a refusal (the control below)."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from orderflow.execution.live import LiveBroker
from orderflow.telemetry import setup_metrics
from tests.execution.conftest import TOKEN_NO, add_trade, follow, signal_outcomes
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import live_executor, live_strategy, metric_total


def _posts(clob: FakeClob) -> int:
    return clob.requests.count(("POST", "/order"))


@pytest.mark.parametrize(
    "answer",
    [{"status": "posted"}, {"status": "LIVE"}, {"success": False}],
    ids=["unknown-status", "status-spelled-otherwise", "no-success-no-reason"],
)
async def test_a_placement_taken_without_a_known_status_is_in_doubt_and_its_fill_booked(
    pool: asyncpg.Pool,
    dsn: str,
    clob: FakeClob,
    live: LiveBroker,
    answer: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live)
    clob.placement_patch = answer
    order = await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")  # rests
    clob.placement_patch = {}
    assert order is not None and len(clob.orders) == 1
    [oid] = clob.orders
    assert order["status"] == "INTENT" and order["id"] in ex.desk.in_doubt, order["status"]
    [refused] = [r for r in caplog.records if r.getMessage() == "exchange reply refused"]
    assert refused.__dict__["what"] == "placement", refused.__dict__
    # Resting at the exchange, it counts: the whale's next buy of the token sends nothing.
    async with pool.acquire() as conn:
        await add_trade(conn, token_id=TOKEN_NO, outcome_index=1, price="0.30")
    await ex.catch_up()
    await ex.worker.drain()
    assert _posts(clob) == 1
    await ex.maintenance()
    order = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert (order["status"], order["exchange_order_id"]) == ("OPEN", oid)
    clob.fill(oid)  # taken later
    await ex.maintenance()
    await ex.maintenance()
    order = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert order["status"] == "FILLED"
    fills = await pool.fetch("SELECT shares FROM orderflow_fills")
    assert [f["shares"] for f in fills] == [order["shares"]]
    assert await pool.fetchval("SELECT shares FROM orderflow_positions") == order["shares"]
    assert _posts(clob) == 1


async def test_a_refusal_with_its_reason_stays_a_refusal(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Control: an answer with ``success`` false and the exchange's reason is a refusal (it was
    before this change too): REJECTED with the reason, not in doubt."""
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live)
    clob.placement_patch = {"success": False, "errorMsg": "invalid expiration"}  # the answer only
    order = await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")
    assert order is not None
    assert (order["status"], order["id"] in ex.desk.in_doubt) == ("REJECTED", False)
    [(_, status, reason)] = await signal_outcomes(pool)
    assert status == "SKIPPED" and "invalid expiration" in reason, reason


REFUSED = "orderflow_exchange_replies_refused_total"


@pytest.mark.parametrize("field", ["makingAmount", "status", "orderID"])
async def test_a_placement_answer_missing_a_field_is_in_doubt_with_the_field_named(
    pool: asyncpg.Pool,
    dsn: str,
    clob: FakeClob,
    live: LiveBroker,
    field: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An answer the SDK's model refuses (a field missing) leaves the order in doubt, as it did
    before — but the error said only ``order post failed: UnexpectedResponseError``: not which
    field, and the answer was not counted among the exchange's refused replies. Now it names the
    field (never a value) and counts it; the order is adopted, its fill booked once."""
    setup_metrics("executor")
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live)
    before = metric_total(REFUSED)
    clob.placement_patch = {field: None}
    order = await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")  # rests
    clob.placement_patch = {}
    assert order is not None and order["status"] == "INTENT"
    [warning] = [r for r in caplog.records if r.getMessage() == "order in doubt; will reconcile"]
    assert field in warning.__dict__["error"], warning.__dict__["error"]
    assert metric_total(REFUSED) == before + 1
    [oid] = clob.orders
    clob.fill(oid)
    await ex.maintenance()
    await ex.maintenance()
    order = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert (order["status"], order["exchange_order_id"]) == ("FILLED", oid)
    fills = await pool.fetch("SELECT shares FROM orderflow_fills")
    assert [f["shares"] for f in fills] == [order["shares"]]
    assert _posts(clob) == 1
