"""The late-fill window of a closed order runs on one clock, the executor's: its close time, the
window's "now" and the fill watermark (the start of the last complete reconciliation pass).

Until 7 Dec 2026 (session 45) the close was stamped by the database's clock
(``updated_at = clock_timestamp()``) while the window's "now" and the watermark were the
executor's: an executor's clock 20 minutes ahead of the database's ended the window before it
began (a fill listed after the close was never asked for: lost), one 20 minutes behind kept it
open 20 minutes past its end (the shares matched, never listed, held in the limits)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import asyncpg
import pytest

from orderflow.execution import order_queries
from orderflow.execution.engine import Executor
from orderflow.execution.live import LiveBroker
from orderflow.execution.settlement import LATE_FILLS
from tests.execution.conftest import TOKEN_NO, follow
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import Clock, live_executor, live_strategy

SKEWS = [timedelta(minutes=20), timedelta(hours=3)]


async def _closed_with_unlisted(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker, skew: timedelta
) -> tuple[Clock, Executor, str]:
    """A resting entry, 60 of it matched (not listed yet), then CANCELED by the exchange; the
    executor's clock ``skew`` off the database's."""
    await live_strategy(pool)
    clock = Clock()
    ex = live_executor(pool, dsn, live, clock=clock)
    order = await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")  # rests
    assert order is not None and order["status"] == "OPEN"
    clock.offset = skew  # (the signal's freshness read on it too: skewed once the order rests)
    oid = str(order["exchange_order_id"])
    trade = clob.fill(oid, Decimal(60))
    clob.unlisted.add(trade)
    clob.report(oid, "CANCELED")
    await ex.maintenance()  # closed: CANCELED, 60 matched, none listed
    row = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert (row["status"], row["filled_shares"], row["matched_shares"]) == ("CANCELED", 0, 60)
    return clock, ex, trade


@pytest.mark.parametrize("skew", SKEWS)
async def test_a_late_fill_is_booked_with_the_executor_clock_ahead_of_the_database(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker, skew: timedelta
) -> None:
    clock, ex, trade = await _closed_with_unlisted(pool, dsn, clob, live, skew)
    async with pool.acquire() as conn:  # held in the limits while its trades may be listed
        counted = await order_queries.matched_unlisted(conn, "live-one", clock())
    assert [r["remaining"] for r in counted] == [60]
    clob.unlisted.discard(trade)  # listed a minute after the close
    clock.offset += timedelta(minutes=1)
    await ex.maintenance()
    row = await pool.fetchrow("SELECT status, filled_shares FROM orderflow_orders")
    held = await pool.fetchval("SELECT COALESCE(sum(shares), 0) FROM orderflow_positions")
    assert (row["status"], row["filled_shares"], held) == ("CANCELED", 60, 60)


@pytest.mark.parametrize("skew", SKEWS)
async def test_the_window_ends_on_the_executor_clock_behind_the_database(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker, skew: timedelta
) -> None:
    clock, ex, _ = await _closed_with_unlisted(pool, dsn, clob, live, -skew)
    async with pool.acquire() as conn:
        counted = await order_queries.matched_unlisted(conn, "live-one", clock())
    assert [r["remaining"] for r in counted] == [60]
    clock.offset += LATE_FILLS + timedelta(minutes=1)  # the window over on the executor's clock
    await ex.maintenance()  # a complete pass: the watermark moves
    async with pool.acquire() as conn:
        counted = await order_queries.matched_unlisted(conn, "live-one", clock())
        asked = await order_queries.orders_to_reconcile(conn, clock())
    assert (counted, asked) == ([], [])
