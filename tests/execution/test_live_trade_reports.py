"""The account's trades reporting a trade again: twice in one answer, with other figures, or not
at all while the order endpoint has forgotten the order.

* Listed twice (the listing's cursor is an offset: a trade matched while the pages are read
  pushes the rest down a place, and the next page repeats one): its fill is booked once, and
  when it fails on chain its reversal takes back its own part once. The settlement's read of one
  trade summed both listings as two parts of it: of a placement matched against three makers,
  one failed trade of 40 shares took back 80 — 40 shares held at the exchange that no position,
  limit or exit knew.
* Reported again with other figures (a changed size): booked once, at the figures it was booked
  with, and a failure reverses exactly those.
* Fully matched, then answered 404 by the order endpoint (not JSON ``null``) while the trades
  lag: the order keeps counting until the trade is listed, then FILLED and booked once.
"""

from __future__ import annotations

from decimal import Decimal

import asyncpg

from orderflow.execution.live import LiveBroker
from tests.execution.conftest import TOKEN_NO, TOKEN_YES, follow
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import live_executor, live_strategy


async def _fills(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return list(await pool.fetch("SELECT * FROM orderflow_fills ORDER BY id"))


async def test_a_trade_listed_twice_is_booked_and_reversed_once(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    await live_strategy(pool)
    clob.markets[TOKEN_YES].ask_lots[TOKEN_YES] = [Decimal(40), Decimal(40), Decimal(1000)]
    ex = live_executor(pool, dsn, live)
    order = await follow(pool, ex, token_id=TOKEN_YES, price="0.50")  # three makers' trades
    assert order is not None and order["status"] == "FILLED"
    first, *_ = (t["id"] for t in clob.trades)
    clob.repeated.add(first)
    await ex.maintenance()
    assert len(await _fills(pool)) == 1  # the placement's, under the three trade ids
    clob.settle(first, "FAILED")
    await ex.maintenance()
    await ex.maintenance()
    fills = await _fills(pool)
    assert [f["shares"] for f in fills] == [order["shares"], 40]
    assert fills[1]["fill_key"] == f"{first}:reversal"
    pos = await pool.fetchrow("SELECT * FROM orderflow_positions")
    assert pos["shares"] == order["shares"] - 40 == clob.holdings[TOKEN_YES]
    assert await pool.fetchval("SELECT filled_shares FROM orderflow_orders") == pos["shares"]


async def test_a_resting_order_s_trade_listed_twice_is_booked_once(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live)
    order = await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")  # rests
    assert order is not None
    clob.repeated.add(clob.fill(order["exchange_order_id"], Decimal(50)))
    await ex.maintenance()
    await ex.maintenance()
    assert [f["shares"] for f in await _fills(pool)] == [50]
    assert await pool.fetchval("SELECT filled_shares FROM orderflow_orders") == 50


async def test_a_trade_reported_again_with_another_size_stays_booked_as_it_was(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live)
    order = await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")  # rests
    assert order is not None
    tid = clob.fill(order["exchange_order_id"], Decimal(50))
    await ex.maintenance()
    [ours] = clob.trade(tid)["maker_orders"]
    ours["matched_amount"] = "60"  # the same trade, another size
    await ex.maintenance()
    await ex.maintenance()
    assert [f["shares"] for f in await _fills(pool)] == [50]
    assert await pool.fetchval("SELECT shares FROM orderflow_positions") == 50
    clob.settle(tid, "FAILED")
    await ex.maintenance()
    fills = await _fills(pool)
    assert [f["shares"] for f in fills] == [50, 50]  # what was booked, exactly
    assert await pool.fetchval("SELECT shares FROM orderflow_positions") == 0


async def test_a_matched_order_answered_404_is_booked_from_the_trades(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    await live_strategy(pool)
    clob.done_as_404 = True
    ex = live_executor(pool, dsn, live)
    order = await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")  # rests
    assert order is not None and order["status"] == "OPEN"
    tid = clob.fill(order["exchange_order_id"])  # taken in full: the endpoint answers 404
    clob.unlisted.add(tid)  # and the trades lag
    await ex.maintenance()
    await ex.maintenance()
    assert await pool.fetchval("SELECT status FROM orderflow_orders") == "OPEN"  # still counts
    clob.unlisted.clear()
    await ex.maintenance()
    order = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert order["status"] == "FILLED"
    assert [f["shares"] for f in await _fills(pool)] == [order["shares"]]
    assert await pool.fetchval("SELECT shares FROM orderflow_positions") == order["shares"]
