"""An order in doubt (sent, its answer lost: the process died or the connection dropped after
the exchange took it) that the exchange shows nowhere past its expiry, with no fill listed yet,
is abandoned (``unknown to the exchange after its expiry``). But "shows nowhere" is also what the
real CLOB answers for a fully matched order (py-clob-client issue 217), and the account's trades
may list that match late (``test_matched_lagging.py``, ``test_outage_fills.py``): an abandoned
intent's fills are asked for as a closed order's are, for
:data:`~orderflow.execution.settlement.LATE_FILLS` of complete passes after it was given up.
Before, an abandoned intent was never asked about again: the fill listed a moment later was never
booked — shares in the wallet that no position, limit or exit knew."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import asyncpg

from orderflow.execution.live import LiveBroker
from tests.execution.conftest import TOKEN_NO, TOKEN_YES, add_trade, follow
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import Clock, live_executor, live_strategy


async def _booked(pool: asyncpg.Pool) -> tuple[Decimal, Decimal, Decimal]:
    """The order's filled shares, the fills' shares, the open position's shares."""
    filled = await pool.fetchval("SELECT filled_shares FROM orderflow_orders")
    fills = await pool.fetchval("SELECT COALESCE(sum(shares), 0) FROM orderflow_fills")
    held = await pool.fetchval(
        "SELECT COALESCE(sum(shares), 0) FROM orderflow_positions WHERE status = 'OPEN'"
    )
    return filled, fills, held


async def test_an_abandoned_intent_whose_match_is_listed_late_is_booked_after_a_restart(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The executor dies after the exchange took its entry (the answer never came: INTENT). The
    order rests and a counterparty takes all of it; the exchange forgets the matched order and
    its trades do not list the match yet. Restarted ten minutes later, past the expiry, the
    intent is abandoned; the trade is listed a moment later, and the restarted executor books
    it — once — and counts the position: the leader's next buy is ``position_exists``."""
    clock = Clock()
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live, clock=clock)
    clob.lose_next_response = True  # taken by the exchange; its answer lost
    order = await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")  # rests
    assert order is not None and order["status"] == "INTENT"
    [oid] = clob.orders
    trade = clob.fill(oid)  # all of it, while the executor is down
    clob.unlisted.add(trade)  # matched; not in the account's trades yet
    clob.clock_offset = 600  # ten minutes later, past the expiry (300 s)
    clock.offset = timedelta(minutes=10)
    restarted = live_executor(pool, dsn, live, clock=clock)
    await restarted.desk.reconcile()
    row = await pool.fetchrow("SELECT status, status_reason FROM orderflow_orders")
    assert row["status"] == "ABANDONED", dict(row)
    clob.unlisted.clear()  # listed now
    clock.offset = timedelta(minutes=11)
    await restarted.maintenance()
    shares = Decimal(order["shares"])
    assert await _booked(pool) == (shares, shares, shares)
    row = await pool.fetchrow("SELECT status, exchange_order_id FROM orderflow_orders")
    assert (row["status"], row["exchange_order_id"]) == ("FILLED", oid)
    assert await pool.fetchval("SELECT status FROM orderflow_signals") == "EXECUTED"
    # Booked once, whatever passes and restarts follow.
    again = live_executor(pool, dsn, live, clock=clock)
    await again.maintenance()
    await again.maintenance()
    assert await _booked(pool) == (shares, shares, shares)
    # The position counts: the leader's next buy of the market is refused, not sent.
    async with pool.acquire() as conn:
        await again.registry.refresh(conn)
        await add_trade(conn, token_id=TOKEN_YES, price="0.50", at=clock())
    await again.catch_up()
    reasons = await pool.fetch("SELECT reason FROM orderflow_signals ORDER BY id")
    assert [r["reason"] for r in reasons][1:] == ["position_exists"]
    assert clob.requests.count(("POST", "/order")) == 1


async def test_an_intent_never_sent_is_still_abandoned_and_nothing_is_booked(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The twin: the process died before the POST (the intent stored, nothing sent). Restarted
    past its expiry it is abandoned, never sent, and the look-back after it books nothing; the
    signal is SKIPPED ``order_not_sent`` and the market is free again."""
    clock = Clock()
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live, clock=clock)
    clob.fail("POST", "/order", 503, times=1)  # answered unprocessed: nothing placed, in doubt
    order = await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")
    assert order is not None and order["status"] == "INTENT"
    assert clob.orders == {}
    clob.clock_offset = 600
    clock.offset = timedelta(minutes=10)
    restarted = live_executor(pool, dsn, live, clock=clock)
    for minutes in (10, 20, 40):
        clock.offset = timedelta(minutes=minutes)
        await restarted.maintenance()
    row = await pool.fetchrow("SELECT status, filled_shares FROM orderflow_orders")
    assert (row["status"], row["filled_shares"]) == ("ABANDONED", 0)
    signal = await pool.fetchrow("SELECT status, reason FROM orderflow_signals")
    assert (signal["status"], signal["reason"]) == ("SKIPPED", "order_not_sent")
    assert await pool.fetchval("SELECT count(*) FROM orderflow_fills") == 0
    assert clob.requests.count(("POST", "/order")) == 1
