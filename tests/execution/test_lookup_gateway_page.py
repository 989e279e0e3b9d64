"""``GET /data/order/{id}`` answered 404 with an HTML page — a gateway's or the exchange's edge's
answer (``clob_faults``: ``cloudflare``), not the CLOB's. The CLOB's own 404 for an order it
no longer shows is its JSON error (``{"error": "order not found"}``, the stand-in's
``done_as_404``); an HTML page says nothing of the order: a failed read, the order left as it
is and asked about again at the next pass.

Before (until 7 Dec 2026) any 404 was "not shown": an order still live at the exchange, past its
expiry by our clock (which runs ahead of the exchange's), was closed CANCELED ``expired``
without the cancel an order shown open past its expiry gets — out of the exposure and the kill
switch while the exchange could still fill it (``test_expiry_skew.py``'s failure, by another
road)."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest

from orderflow.execution.live import LiveBroker
from tests.execution.conftest import TOKEN_NO, follow
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import Clock, live_executor, live_strategy

AHEAD = 60  # seconds our clock runs ahead of the exchange's
LATER = 335  # past the expiry (300 s) and its grace (30 s) by our clock, not the exchange's


@pytest.mark.parametrize(
    "page",
    ["html", "text", "json-other", None],
    ids=["html-page", "plain-text", "json-other-words", "clob-json"],
)
async def test_a_lookup_answered_by_a_gateway_page_is_a_failed_read(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker, page: str | None
) -> None:
    """A gateway's 404 — an HTML page, a plain-text body (Go's ``404 page not found``), or a
    JSON ``error`` in other words than the CLOB's for an order it does not show — says nothing
    of the order: a failed read. ``plain-text`` and ``json-other-words`` failed until 7 Dec 2026
    (session 45): any body the SDK did not word itself was taken for the exchange's own, and
    the live order was closed CANCELED ``expired`` without its cancel (``assert ('CANCELED' ==
    'OPEN'``). ``clob-json``, the control: the CLOB's own 404 for an order it no longer shows
    (here a cancelled one, ``done_as_404``) still closes the order."""
    clob.clock_offset = -AHEAD
    clock = Clock()
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live, clock=clock)
    await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")  # rests
    oid = await pool.fetchval("SELECT exchange_order_id FROM orderflow_orders")
    assert clob.live_orders() == [oid]
    clock.offset = timedelta(seconds=LATER)
    clob.clock_offset = LATER - AHEAD
    if page is not None:
        fault = clob.fail(
            "GET",
            "/data/order/",
            404,
            times=1,
            cloudflare=page == "html",
            text="404 page not found" if page == "text" else None,
        )
        fault.body = {"error": "not found"}  # a gateway's JSON, not the CLOB's words
        await ex.maintenance()
        row = await pool.fetchrow("SELECT status FROM orderflow_orders")
        assert row["status"] == "OPEN" and clob.live_orders() == [oid]  # nothing known: as is
        await ex.maintenance()  # the lookup reads: open past its expiry, cancelled, closed
    else:
        clob.done_as_404 = True
        assert (await live.cancel([oid])).canceled == (oid,)
        await ex.maintenance()
    assert clob.live_orders() == []
    row = await pool.fetchrow("SELECT status, status_reason FROM orderflow_orders")
    assert (row["status"], row["status_reason"]) == ("CANCELED", "expired")
