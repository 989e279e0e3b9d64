"""A placement's answer that does not say what the exchange did with the order.

* The exchange took the order and the answer is an error all the same (a gateway's 504 whose
  upstream took it, a 500 after the insert): the order is in doubt, found by its own ids (the
  EIP-712 hashes stored with the intent before the send) and never sent again — an entry and an
  exit alike, one POST each, the fill booked once.
* A placement answered ``"status": "delayed"``: the order rests in the exchange's delay, then
  meets the book as a taker; its fill comes from the trades, with the taker's fee.
* A placement whose answer carries Polymarket's delay or execution message (``order match
  delayed due to market conditions``, ``could not run the execution``), which the SDK reads as a
  refusal: the exchange holds the order. It was recorded REJECTED and never asked about again:
  400.16 shares bought at the exchange that no position, limit or exit knew, and the token free
  for another entry. Now in doubt, adopted, its fill booked once.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

import asyncpg
import pytest

from orderflow.execution.live import LiveBroker
from tests.execution.conftest import TOKEN_NO, TOKEN_YES, add_trade, follow
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import live_executor, live_strategy


def _posts(clob: FakeClob) -> int:
    return clob.requests.count(("POST", "/order"))


async def _fills(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return list(await pool.fetch("SELECT * FROM orderflow_fills ORDER BY id"))


@pytest.mark.parametrize("status", [502, 504])
async def test_an_entry_the_exchange_took_behind_an_error_is_booked_and_not_sent_again(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker, status: int
) -> None:
    await live_strategy(pool)
    clob.answer_next_order = status
    ex = live_executor(pool, dsn, live)
    order = await follow(pool, ex, token_id=TOKEN_YES, price="0.50")  # the ask: matched
    assert order is not None and order["status"] == "INTENT"
    assert order["id"] in ex.desk.in_doubt and len(clob.orders) == 1
    # The whale buys again before the intent is settled: it counts, nothing is sent.
    async with pool.acquire() as conn:
        await add_trade(conn, token_id=TOKEN_YES, price="0.50")
    await ex.catch_up()
    assert _posts(clob) == 1
    await ex.maintenance()
    await ex.maintenance()
    order = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert order["status"] == "FILLED"
    assert order["exchange_order_id"] == next(iter(clob.orders))
    assert [f["shares"] for f in await _fills(pool)] == [order["shares"]]
    pos = await pool.fetchrow("SELECT * FROM orderflow_positions")
    assert pos["shares"] == order["shares"]
    assert _posts(clob) == 1 and await pool.fetchval("SELECT count(*) FROM orderflow_orders") == 1


async def test_an_exit_the_exchange_took_behind_an_error_is_not_sent_twice(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    await live_strategy(pool)
    clob.markets[TOKEN_YES].bids[TOKEN_YES] = Decimal("0.49")
    ex = live_executor(pool, dsn, live)
    await follow(pool, ex, token_id=TOKEN_YES, price="0.50")
    clob.answer_next_order = 504
    async with pool.acquire() as conn:
        await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.49")
    await ex.catch_up()
    for _ in range(3):  # the exit in doubt is under way: never tried again meanwhile
        await ex.maintenance()
        await ex.worker.drain()
    assert _posts(clob) == 2  # the entry, the exit
    sell = await pool.fetchrow("SELECT * FROM orderflow_orders WHERE side = 'SELL'")
    assert sell["status"] == "FILLED"
    pos = await pool.fetchrow("SELECT * FROM orderflow_positions")
    assert (pos["status"], pos["shares"]) == ("CLOSED", 0)


async def test_a_delayed_order_taken_later_books_its_taker_fill(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    await live_strategy(pool)
    clob.markets[TOKEN_YES].fee = (Decimal("0.02"), Decimal(1))
    clob.delayed_next = True
    ex = live_executor(pool, dsn, live)
    order = await follow(pool, ex, token_id=TOKEN_YES, price="0.50")
    assert order is not None and order["status"] == "OPEN"
    await ex.maintenance()
    assert await pool.fetchval("SELECT status FROM orderflow_orders") == "OPEN"  # DELAYED
    clob.release(order["exchange_order_id"])
    await ex.maintenance()
    await ex.maintenance()
    order = await pool.fetchrow("SELECT * FROM orderflow_orders")
    [fill] = await _fills(pool)
    assert order["status"] == "FILLED" and fill["shares"] == order["shares"]
    price = fill["price"]  # a taker's fee: the market's schedule, r x p(1 - p) a share
    assert fill["fee"] == (fill["shares"] * Decimal("0.02") * price * (1 - price)).quantize(
        Decimal("0.00001"), rounding=ROUND_DOWN
    )


async def test_a_placement_answered_with_the_delay_s_message_is_in_doubt_not_rejected(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    await live_strategy(pool)
    clob.delayed_next = True
    clob.delay_message = "order match delayed due to market conditions"
    ex = live_executor(pool, dsn, live)
    order = await follow(pool, ex, token_id=TOKEN_YES, price="0.50")
    assert order is not None
    assert order["status"] == "INTENT", (order["status"], order["status_reason"])
    [oid] = clob.orders
    clob.release(oid)  # the delay ends: it takes the ask
    # The whale buys again: the order in doubt holds the token, nothing more is sent.
    async with pool.acquire() as conn:
        await add_trade(conn, token_id=TOKEN_YES, price="0.50")
    await ex.catch_up()
    await ex.maintenance()
    await ex.maintenance()
    order = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert (order["status"], order["exchange_order_id"]) == ("FILLED", oid)
    assert [f["shares"] for f in await _fills(pool)] == [order["shares"]]
    pos = await pool.fetchrow("SELECT * FROM orderflow_positions")
    assert pos["shares"] == order["shares"]
    assert _posts(clob) == 1
    signals = await pool.fetch("SELECT status, reason FROM orderflow_signals ORDER BY id")
    assert signals[0]["status"] == "EXECUTED", signals


async def test_an_order_taken_though_its_execution_failed_is_adopted(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Answered ``could not run the execution`` (the insert done, the match not run): the order
    rests, and a counterparty takes it later."""
    await live_strategy(pool)
    clob.placement_patch = {"success": False, "errorMsg": "could not run the execution"}
    ex = live_executor(pool, dsn, live)
    order = await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")  # rests
    clob.placement_patch = {}
    assert order is not None and order["status"] == "INTENT"
    [oid] = clob.orders
    await ex.maintenance()
    assert await pool.fetchval("SELECT status FROM orderflow_orders") == "OPEN"
    clob.fill(oid)
    await ex.maintenance()
    order = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert order["status"] == "FILLED"
    assert [f["shares"] for f in await _fills(pool)] == [order["shares"]]
    assert _posts(clob) == 1
