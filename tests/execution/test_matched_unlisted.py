"""An order closed at the exchange with part of it matched whose trades the account's trades do
not list yet: what the exchange says matched keeps counting in the strategy's limits until the
trades list it (or its late fills stop being asked for).

The order endpoint shows a closed order's ``size_matched``; the desk closed the order CANCELED
with the fills the trades listed (none yet) and from then on counted nothing of it: the shares
the exchange had matched for us were in no position and no live order, so the next entry into
the same market went out (``position_exists`` did not see them; nor would
``max_market_exposure_usd``, ``max_open_positions`` or the day's loss)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import asyncpg

from orderflow.execution import order_queries
from orderflow.execution.live import LiveBroker
from tests.execution.conftest import TOKEN_NO, TOKEN_YES, follow
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import age_exits, live_executor, live_strategy, resting_exit


async def test_shares_matched_before_a_close_count_until_their_trades_are_listed(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live)
    order = await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")  # rests
    assert order is not None and order["status"] == "OPEN"
    oid = str(order["exchange_order_id"])
    trade = clob.fill(oid, Decimal(60))  # a counterparty takes 60 shares of it ...
    clob.unlisted.add(trade)  # ... which the account's trades do not list yet
    clob.report(oid, "CANCELED")  # and the exchange closes the rest (its validity monitor)
    await ex.maintenance()
    row = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert (row["status"], row["filled_shares"], row["matched_shares"]) == ("CANCELED", 0, 60)

    # The leader buys NO again: the strategy holds 60 NO at the exchange, one position per
    # market refuses the entry.
    await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")
    orders = await pool.fetchval("SELECT count(*) FROM orderflow_orders")
    reasons = [r["reason"] for r in await pool.fetch("SELECT reason FROM orderflow_signals")]
    assert orders == 1, reasons

    clob.unlisted.clear()  # listed now: booked once, and the position counts it from then on
    await ex.maintenance()
    row = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert (row["status"], row["filled_shares"]) == ("CANCELED", 60)
    held = await pool.fetchval("SELECT sum(shares) FROM orderflow_positions")
    assert held == 60


async def test_an_exit_tried_again_sells_only_what_the_exchange_left_unsold(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The exit rested; a counterparty took 100 shares of it, which the account's trades do not
    list yet, and it expired. The next try sells what the wallet still holds, not the whole
    position the books show (a SELL larger than what is held, refused by the exchange)."""
    ex, clock, held, sell = await resting_exit(pool, dsn, clob, live)
    assert sell["status"] == "OPEN"
    clob.unlisted.add(clob.fill(sell["exchange_order_id"], Decimal(100)))
    clob.clock_offset += 600  # ten minutes later, the exit has expired at the exchange ...
    assert clob.live_orders() == []
    clob.clock_offset = 0  # (the broker signs expirations with the real time)
    clock.offset += timedelta(minutes=10)  # ... and on our clock
    clob.markets[TOKEN_YES].bids[TOKEN_YES] = Decimal("0.48")  # a bid again
    await ex.maintenance()  # closes the expired exit
    first = await pool.fetchrow("SELECT * FROM orderflow_orders WHERE side = 'SELL'")
    assert (first["status"], first["filled_shares"], first["matched_shares"]) == (
        "CANCELED",
        0,
        100,
    )
    await age_exits(pool, timedelta(minutes=1))  # the pause has passed
    await ex.maintenance()  # tries again
    await ex.worker.drain()
    sells = await pool.fetch("SELECT * FROM orderflow_orders WHERE side = 'SELL' ORDER BY id")
    reasons = [r["reason"] for r in await pool.fetch("SELECT reason FROM orderflow_signals")]
    assert [(s["status"], s["shares"]) for s in sells[1:]] == [("FILLED", held - 100)], reasons

    clob.unlisted.clear()  # listed now: the first exit's 100 booked, the position closed
    await ex.maintenance()
    row = await pool.fetchrow("SELECT status, shares FROM orderflow_positions")
    assert (row["status"], row["shares"]) == ("CLOSED", 0)


async def test_the_wallet_squaring_and_the_limits_end_the_late_fill_window_on_one_clock(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The exit's 100 shares matched at the exchange are never listed by its trades (the
    exchange forgot them). Once the late-fill window is over on the executor's clock (a complete
    pass LATE_FILLS after the close), the limits count them no more — and the wallet's squaring,
    which reads the same window, books the 100 the wallet no longer holds (sold, never listed).
    Until 7 Dec 2026 the squaring's window ran on the database's clock (``statement_timestamp()``)
    and the limits' on the executor's: an executor's clock ahead of the database's left the
    shares "on their way" for the squaring after the limits had let them go, and the position
    kept 100 shares the wallet did not hold."""
    ex, clock, held, sell = await resting_exit(pool, dsn, clob, live)
    clob.unlisted.add(clob.fill(sell["exchange_order_id"], Decimal(100)))  # never listed
    clob.clock_offset += 600
    assert clob.live_orders() == []
    clob.clock_offset = 0
    clock.offset += timedelta(minutes=10)
    clob.markets[TOKEN_YES].bids[TOKEN_YES] = Decimal("0.48")
    await ex.maintenance()  # closes the expired exit: CANCELED, 100 matched, none listed
    await age_exits(pool, timedelta(minutes=1))
    await ex.maintenance()  # the retry sells what the wallet holds
    await ex.worker.drain()
    row = await pool.fetchrow("SELECT status, shares FROM orderflow_positions")
    assert (row["status"], row["shares"]) == ("OPEN", 100)
    assert clob.holdings.get(TOKEN_YES, Decimal(0)) == 0 < held

    for trade in clob.trades:  # every trade mined: nothing of ours on its way on chain
        clob.settle(trade["id"], "MINED")
    clock.offset += timedelta(hours=2)  # the window over, the wallet's audit due, on our clock
    await ex.maintenance()  # a complete pass: the window ends (the fill watermark)
    await ex.maintenance()  # the audit reads the wallet
    async with pool.acquire() as conn:
        counted = await order_queries.matched_unlisted(conn, "live-one", clock())
    assert counted == []  # the limits count the 100 no more ...
    row = await pool.fetchrow("SELECT status, shares FROM orderflow_positions")
    moved = await pool.fetchval("SELECT coalesce(sum(shares), 0) FROM orderflow_wallet_moves")
    assert (row["status"], row["shares"], moved) == ("CLOSED", 0, 100)  # ... nor the books


async def test_a_failed_trade_of_an_exit_is_not_taken_for_shares_matched_unlisted(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The resting exit's 100 shares are matched, listed, booked — then their trade FAILS on
    chain: the sale is reversed, the shares are back in the wallet. The exchange's order
    endpoint still shows them in the order's ``size_matched`` (py-clob-client-v2 issue 34:
    ``size_matched`` and MATCHED for matches that never settle), and the exit expires. The next
    try sells every share the wallet holds: the failed 100 are listed (FAILED), not "matched,
    not listed yet". Until 7 Dec 2026 (session 45) the close took ``size_matched`` against the
    fills net of the reversal, counted the 100 as sold unlisted, and the retry sold 100 short:
    ``assert [('FILLED', Decimal('300.160000'))] == [('FILLED', Decimal('400.160000'))]``."""
    ex, clock, held, sell = await resting_exit(pool, dsn, clob, live)
    assert sell["status"] == "OPEN"
    trade = clob.fill(sell["exchange_order_id"], Decimal(100))
    await ex.maintenance()  # the 100 booked
    assert await pool.fetchval("SELECT shares FROM orderflow_positions") == held - 100
    clob.settle(trade, "FAILED")  # the sale never settles: the shares are the wallet's again
    await ex.maintenance()  # reversed
    assert await pool.fetchval("SELECT shares FROM orderflow_positions") == held
    clob.clock_offset += 600  # ten minutes later, the exit has expired at the exchange ...
    assert clob.live_orders() == []
    clob.clock_offset = 0
    clock.offset += timedelta(minutes=10)  # ... and on our clock
    clob.markets[TOKEN_YES].bids[TOKEN_YES] = Decimal("0.48")  # a bid again
    await ex.maintenance()  # closes the expired exit
    first = await pool.fetchrow("SELECT * FROM orderflow_orders WHERE side = 'SELL'")
    assert (first["status"], first["filled_shares"]) == ("CANCELED", 0)
    await age_exits(pool, timedelta(minutes=1))  # the pause has passed
    await ex.maintenance()  # tries again
    await ex.worker.drain()
    sells = await pool.fetch("SELECT * FROM orderflow_orders WHERE side = 'SELL' ORDER BY id")
    reasons = [r["reason"] for r in await pool.fetch("SELECT reason FROM orderflow_signals")]
    assert [(s["status"], s["shares"]) for s in sells[1:]] == [("FILLED", held)], reasons
