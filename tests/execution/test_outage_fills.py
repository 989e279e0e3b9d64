"""A fill of an order closed before an outage is booked however long the outage lasted.

The desk asks for the late fills of an order closed short of its size (a fill from before its
close may reach the account's trades after it) for 15 minutes — of the time its fills were read,
not of the wall clock: an executor down for an hour (or the exchange's trade listing failing for
an hour) never asked in those 15 minutes, and at the restart the order, gone from the order
endpoint (the real CLOB forgets a done order), was no longer asked about either. Its fill was
never booked: shares held in the wallet that no position, cash, limit or P&L knew.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest

from orderflow.execution import live_trades
from orderflow.execution.live import LiveBroker
from tests.execution.conftest import MARKET, TOKEN_NO, follow, resolve, reveal
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import Clock, live_executor, live_strategy
from tests.execution.paperkit import clocked_executor, exit_resting, whale_buys


async def _booked(pool: asyncpg.Pool) -> tuple[Decimal, Decimal, Decimal]:
    """What the books hold: the order's filled shares, the fills' shares, the position's."""
    filled = await pool.fetchval("SELECT filled_shares FROM orderflow_orders")
    fills = await pool.fetchval("SELECT COALESCE(sum(shares), 0) FROM orderflow_fills")
    held = await pool.fetchval("SELECT COALESCE(sum(shares), 0) FROM orderflow_positions")
    return filled, fills, held


async def test_a_fill_listed_late_is_booked_after_an_hour_down(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """A resting entry is half taken just before its expiry, and the account's trades do not list
    that trade yet when the order is closed (gone from the order endpoint: CANCELED expired). The
    executor then stops for an hour; the trade is listed meanwhile. Restarted, it never asked
    about the order again (closed more than 15 minutes ago): the 45 shares the wallet holds were
    no position of the strategy."""
    clob.forgetful = True  # the real CLOB answers nothing for a done order
    clock = Clock()
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live, clock=clock)
    order = await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")  # rests
    assert order is not None and order["status"] == "OPEN"
    oid = str(order["exchange_order_id"])
    half = (Decimal(order["shares"]) / 2).quantize(Decimal("0.01"))
    trade = clob.fill(oid, half)
    clob.unlisted.add(trade)  # matched; not in the account's trades yet
    clob.clock_offset = 600  # ten minutes later: expired at the exchange (300 s)
    clock.offset = timedelta(minutes=10)
    await ex.maintenance()
    row = await pool.fetchrow("SELECT status, status_reason FROM orderflow_orders")
    assert (row["status"], row["status_reason"]) == ("CANCELED", "expired")
    # The executor stops; an hour later the trade is listed and it starts again.
    clob.unlisted.clear()
    clob.clock_offset = 600 + 3600
    clock.offset = timedelta(minutes=70)
    restarted = live_executor(pool, dsn, live, clock=clock)
    await restarted.desk.reconcile()
    await restarted.maintenance()
    assert await _booked(pool) == (half, half, half)
    # Booked once: more passes, and another restart, add nothing.
    clock.offset = timedelta(minutes=100)
    again = live_executor(pool, dsn, live, clock=clock)
    await again.maintenance()
    await again.maintenance()
    assert await _booked(pool) == (half, half, half)
    assert await pool.fetchval("SELECT status FROM orderflow_signals") == "EXECUTED"


async def test_a_fill_of_a_cancelled_order_is_booked_when_the_trades_read_again(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """A resting entry is half taken, then cancelled (the strategy killed: the cancel went
    through) while the account's trades answer 503 — for an hour, the executor running all
    along. When they answer again the order, closed an hour ago, was no longer asked about."""
    clob.forgetful = True
    clock = Clock()
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live, clock=clock)
    order = await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")  # rests
    assert order is not None and order["status"] == "OPEN"
    oid = str(order["exchange_order_id"])
    await ex.maintenance()  # the executor's passes, as every 2 s
    half = (Decimal(order["shares"]) / 2).quantize(Decimal("0.01"))
    clob.fill(oid, half)
    down = clob.fail("GET", "/data/trades", 503)
    await pool.execute("UPDATE orderflow_strategies SET killed = true, generation = generation + 1")
    async with pool.acquire() as conn:
        await ex.registry.refresh(conn)
    await ex.desk.cancels.cancel_strategy("live-one")
    assert clob.orders[oid]["status"] == "CANCELED"
    row = await pool.fetchrow("SELECT status, filled_shares FROM orderflow_orders")
    assert (row["status"], row["filled_shares"]) == ("CANCELED", 0)
    for minutes in (5, 20, 40, 60):  # maintenance keeps failing to read the trades
        clock.offset = timedelta(minutes=minutes)
        clob.clock_offset = minutes * 60
        await ex.maintenance()
    down.times = 0  # the listing answers again
    await ex.maintenance()
    assert await _booked(pool) == (half, half, half)
    await ex.maintenance()
    assert await _booked(pool) == (half, half, half)


async def test_a_paper_order_that_met_a_level_while_the_executor_was_down_fills(
    pool: asyncpg.Pool, dsn: str
) -> None:
    """The paper exchange alike: an entry rests, the executor stops, the listener (still
    running) stores a level at its limit within its life, and the executor starts an hour
    later. The paper exchange matched only orders closed less than 15 minutes before now, so
    the order expired unfilled — a fill the exchange would have made while we were away."""
    ex, clock = clocked_executor(pool, dsn)
    await whale_buys(pool, ex)
    assert await ex.catch_up() == 1
    await ex.maintenance()  # resting; the executor's passes, as every 2 s
    accepted, expires = await pool.fetchrow(
        "SELECT accepted_at, expires_at FROM orderflow_paper_orders"
    )
    async with pool.acquire() as conn:  # during the outage: a seller at our limit
        await reveal(conn, price="0.51", shares="10", at=accepted + (expires - accepted) / 2)
    clock.offset = timedelta(hours=1)
    restarted, _ = clocked_executor(pool, dsn, clock=clock)
    await restarted.desk.reconcile()
    await restarted.maintenance()
    order = await pool.fetchrow("SELECT status, filled_shares FROM orderflow_orders")
    assert (order["status"], order["filled_shares"]) == ("CANCELED", Decimal(10))
    assert await pool.fetchval("SELECT sum(shares) FROM orderflow_positions") == 10
    assert await pool.fetchval("SELECT status FROM orderflow_signals") == "EXECUTED"


async def test_an_order_in_doubt_through_an_hour_down_is_adopted_and_the_kill_cancels_it(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The same outage with the order in doubt (sent, its answer lost: INTENT) and living two
    hours: half of it is taken and the strategy killed while the executor is down. Restarted,
    the intent is adopted, its fill booked once, the kill cancels the rest at the exchange, and
    nothing is sent again (an audit's check: passes on main too)."""
    clob.forgetful = True
    clock = Clock()
    await live_strategy(pool, orderTtlSecs=7200)
    ex = live_executor(pool, dsn, live, clock=clock)
    clob.lose_next_response = True
    order = await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")
    assert order is not None and order["status"] == "INTENT"
    [oid] = clob.orders
    half = (Decimal(order["shares"]) / 2).quantize(Decimal("0.01"))
    clob.fill(oid, half)  # while the executor is down ...
    await pool.execute("UPDATE orderflow_strategies SET killed = true, generation = generation + 1")
    clob.clock_offset = 3600  # ... for an hour
    clock.offset = timedelta(hours=1)
    restarted = live_executor(pool, dsn, live, clock=clock)
    async with pool.acquire() as conn:
        await restarted.registry.refresh(conn)
    await restarted.desk.reconcile()
    await restarted.maintenance()
    await restarted.kills.wait()
    await restarted.maintenance()
    assert clob.orders[oid]["status"] == "CANCELED"
    row = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert (row["status"], row["exchange_order_id"]) == ("CANCELED", oid)
    assert await _booked(pool) == (half, half, half)
    assert clob.requests.count(("POST", "/order")) == 1
    assert await pool.fetchval("SELECT status FROM orderflow_signals") == "EXECUTED"


async def test_an_exit_that_filled_while_down_is_booked_before_the_resolution_settles(
    pool: asyncpg.Pool, dsn: str
) -> None:
    """Our exit rests; while the executor is down a bid at its limit takes it, then the market
    resolves NO (YES pays 0). Restarted an hour later, the position is closed by its sale, not
    paid out at 0 for shares it had sold (the sale then a sell of shares outside the book)."""
    ex, clock = clocked_executor(pool, dsn)
    sell = await exit_resting(pool, ex)
    await ex.maintenance()  # the executor's passes, as every 2 s
    async with pool.acquire() as conn:
        await reveal(
            conn,
            met="SELL",
            price=str(sell["price"]),
            shares=str(sell["shares"]),
            at=datetime.now(UTC) - timedelta(milliseconds=1),
        )
        await resolve(conn, MARKET, ["0", "1"])  # after the bid
    clock.offset = timedelta(hours=1)
    restarted, _ = clocked_executor(pool, dsn, clock=clock)
    async with pool.acquire() as conn:
        await restarted.registry.refresh(conn)
    await restarted.maintenance()
    await restarted.maintenance()
    rows = await pool.fetch("SELECT status, close_reason FROM orderflow_positions ORDER BY id")
    assert [(r["status"], r["close_reason"]) for r in rows] == [("CLOSED", "exit")]
    sold = await pool.fetchval("SELECT sum(shares) FROM orderflow_fills WHERE side = 'SELL'")
    assert sold == sell["shares"]


async def test_two_days_down_with_more_trades_than_one_read_holds(
    pool: asyncpg.Pool,
    dsn: str,
    clob: FakeClob,
    live: LiveBroker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As the first test, down for two days, while the wallet traded 30 times by other means
    (its owner's own orders, say): the read at the restart, from before the outage, is more
    pages than one read may take (``MAX_TRADE_PAGES``, 10 here: 2 trades a page) — a failed
    read at every pass, nothing of the mode ever booked. It is made again a day at a time
    (``after``/``before``), and books our fill once."""
    monkeypatch.setattr(live_trades, "MAX_TRADE_PAGES", 10)
    clob.forgetful = True
    clock = Clock()
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live, clock=clock)
    order = await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")  # rests
    assert order is not None and order["status"] == "OPEN"
    oid = str(order["exchange_order_id"])
    half = (Decimal(order["shares"]) / 2).quantize(Decimal("0.01"))
    trade = clob.fill(oid, half)
    clob.unlisted.add(trade)
    clob.clock_offset = 600
    clock.offset = timedelta(minutes=10)
    await ex.maintenance()
    assert await pool.fetchval("SELECT status FROM orderflow_orders") == "CANCELED"
    # Two days pass: everything so far happened two days before now (the broker reads the
    # machine's clock, so the past moves back rather than the clocks forward).
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "UPDATE orderflow_orders SET created_at = created_at - interval '2 days',"
            " updated_at = updated_at - interval '2 days',"
            " closed_at = closed_at - interval '2 days'"
        )
        await conn.execute(
            "UPDATE orderflow_fill_watermarks SET complete_at = complete_at - interval '2 days'"
        )
    ours = clob.trade(trade)
    ours["match_time"] = str(int(ours["match_time"]) - 2 * 86_400)
    for n in range(30):  # the wallet's other trades, over the two days
        other = copy.deepcopy(ours)
        other["id"] = f"manual-{n}"
        other["match_time"] = str(int(ours["match_time"]) + 600 + n * 5_700)
        other["maker_orders"][0]["order_id"] = "0x" + f"{n:064x}"
        clob.trades.append(other)
    clob.unlisted.clear()
    clob.clock_offset = 0
    clock.offset = timedelta(0)
    restarted = live_executor(pool, dsn, live, clock=clock)
    await restarted.desk.reconcile()
    await restarted.maintenance()
    assert await _booked(pool) == (half, half, half)
