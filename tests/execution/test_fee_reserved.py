"""A BUY that may still take reserves the taker fee it would pay, in the limits' count of what is
live: the strategy's cash (and the day's loss budget) counts it at its limit plus that fee —
an entry on its way or in doubt (live or paper), and a resting paper order (the paper exchange
charges the fee on the levels it takes); a live order resting on the CLOB is a maker's and
pays none.

The stake a decision sizes is the limit plus the fee (``sizing.all_in_price``), but what is
live was counted at the limit alone: each entry on its way left its fee in the cash the next
decision saw, and once they filled, their fees came on top. Until 6 Dec 2026, with a bankroll of
1,000 and a market charging r = 0.25: three entries decided in one batch cost 1,109.13 (a third
entry staked with the first two's fees), an entry in doubt let the next two spend 1,054.56 in
all, and three resting paper entries spent 1,109.13.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from orderflow.execution.book import load_book
from orderflow.execution.engine import Executor
from orderflow.execution.live import LiveBroker
from tests.execution.clob_market import Market
from tests.execution.conftest import (
    WHALE,
    add_strategy,
    add_token,
    add_trade,
    add_wallet,
    fill_resting,
)
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import live_executor, live_strategy
from tests.execution.paperkit import clocked_executor

BANKROLL = Decimal(1000)
# The full Kelly fraction and a whale with a large edge: each stake is half the bankroll (the
# full-Kelly cap) until the cash runs out.
SETTINGS: dict[str, Any] = {
    "bankroll_usd": 1000.0,
    "max_position_usd": 1000.0,
    "kelly_fraction": 1.0,
    "max_daily_loss": 5000.0,
}
FEE = (Decimal("0.25"), Decimal(1))  # the markets' taker fee schedule: r, e


def _market(n: int) -> tuple[str, int]:
    return "0x" + f"{n:02x}" * 32, int("5" * 70) + 2 * n


async def _markets(pool: asyncpg.Pool, clob: FakeClob | None, n: int) -> None:
    """``n`` markets asking 0.50 (at the stand-in, charging :data:`FEE`), and a whale."""
    async with pool.acquire() as conn:
        for i in range(1, n + 1):
            market, token = _market(i)
            if clob is not None:
                clob.add_market(
                    Market(market, (token, token + 1), asks={token: Decimal("0.50")}, fee=FEE)
                )
            await add_token(conn, token, market, 0)
            await add_token(conn, token + 1, market, 1)
        await add_wallet(conn, WHALE, 8.5, edge=0.80, edge_se=0.05)


async def _whale_buys(pool: asyncpg.Pool, *markets: int) -> None:
    async with pool.acquire() as conn:
        for i in markets:
            market, token = _market(i)
            await add_trade(conn, token_id=token, market=market, price="0.50", usdc="600")


async def _spent(pool: asyncpg.Pool) -> Decimal:
    """What the strategy's positions cost, fees included."""
    return Decimal(
        await pool.fetchval("SELECT COALESCE(sum(cost_basis), 0) FROM orderflow_positions")
    )


async def _signals(pool: asyncpg.Pool) -> list[tuple[str, str]]:
    rows = await pool.fetch("SELECT status, reason FROM orderflow_signals ORDER BY id")
    return [(r["status"], r["reason"]) for r in rows]


async def _live(pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker) -> Executor:
    await live_strategy(pool, max_open_positions=10, **SETTINGS)
    await _markets(pool, clob, 3)
    ex = live_executor(pool, dsn, live)
    async with pool.acquire() as conn:
        await ex.registry.refresh(conn)
    return ex


async def test_entries_decided_in_one_batch_reserve_their_fees(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    ex = await _live(pool, dsn, clob, live)
    await _whale_buys(pool, 1, 2, 3)
    await ex.catch_up()  # one batch: each entry on its way when the next is decided
    await ex.maintenance()
    spent = await _spent(pool)
    assert spent <= BANKROLL, (
        f"three entries of one batch spent {spent} of a {BANKROLL} bankroll: {await _signals(pool)}"
    )
    assert (await _signals(pool))[-1] == ("SKIPPED", "bankroll_spent")


async def test_an_entry_in_doubt_reserves_its_fee(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The first entry's answer is lost (in doubt, INTENT): the exchange matched it in full."""
    ex = await _live(pool, dsn, clob, live)
    clob.lose_next_response = True
    await _whale_buys(pool, 1)
    await ex.catch_up()
    assert await pool.fetchval("SELECT status FROM orderflow_orders") == "INTENT"
    for n in (2, 3):
        await _whale_buys(pool, n)
        await ex.catch_up()
    await ex.desk.reconcile()
    spent = await _spent(pool)
    assert spent <= BANKROLL, (
        f"entries decided beside one in doubt spent {spent} of a {BANKROLL} bankroll:"
        f" {await _signals(pool)}"
    )


async def test_resting_paper_entries_reserve_their_fees(pool: asyncpg.Pool, dsn: str) -> None:
    ex, _ = clocked_executor(pool, dsn)
    async with pool.acquire() as conn:
        await add_strategy(conn, "alpha", taker_fee_rate=float(FEE[0]), **SETTINGS)
    await _markets(pool, None, 3)
    async with pool.acquire() as conn:
        await ex.registry.refresh(conn)
    for n in (1, 2, 3):
        await _whale_buys(pool, n)
        await ex.catch_up()  # each rests on the paper exchange before the next
    await fill_resting(pool, ex)  # sellers at every resting entry's limit: each fills
    spent = await _spent(pool)
    assert spent <= BANKROLL, (
        f"resting paper entries spent {spent} of a {BANKROLL} bankroll: {await _signals(pool)}"
    )
    assert (await _signals(pool))[-1] == ("SKIPPED", "bankroll_spent")


@pytest.mark.parametrize("message", ["", "order match delayed due to market conditions"])
async def test_a_delayed_entry_reserves_its_fee(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker, message: str
) -> None:
    """The first entry is answered ``delayed`` (stored OPEN at once; with the delay's message,
    in doubt and adopted OPEN by the next reconciliation): the exchange holds its matching, and
    when the delay ends it takes the ask, paying the taker fee."""
    ex = await _live(pool, dsn, clob, live)
    clob.delayed_next = True
    clob.delay_message = message
    await _whale_buys(pool, 1)
    await ex.catch_up()
    await ex.desk.reconcile()
    first = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert first["status"] == "OPEN"
    assert clob.orders[first["exchange_order_id"]]["status"] == "DELAYED"
    for n in (2, 3):
        await _whale_buys(pool, n)
        await ex.catch_up()
    clob.release(first["exchange_order_id"])  # it meets the book as a taker
    await ex.desk.reconcile()
    spent = await _spent(pool)
    assert spent <= BANKROLL, (
        f"entries decided beside a delayed one spent {spent} of a {BANKROLL} bankroll:"
        f" {await _signals(pool)}"
    )


async def test_a_delayed_entry_released_to_rest_is_a_maker(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Released with nothing to take (the ask gone above its limit), the delayed entry rests on
    the book, a maker's: its fee, reserved while delayed, is no longer (a control of the fix's
    other side: the fee of a resting order was never reserved)."""
    ex = await _live(pool, dsn, clob, live)
    state = ex.registry.states["live-one"]
    clob.delayed_next = True
    await _whale_buys(pool, 1)
    await ex.catch_up()
    await ex.desk.reconcile()
    first = await pool.fetchrow("SELECT * FROM orderflow_orders")
    cost = Decimal(first["shares"]) * Decimal(first["price"])
    _, token = _market(1)
    clob.markets[token].asks[token] = Decimal("0.90")
    clob.release(first["exchange_order_id"])
    assert clob.orders[first["exchange_order_id"]]["status"] == "LIVE"
    await ex.desk.reconcile()
    async with pool.acquire() as conn:
        book = await load_book(conn, state, datetime.now(UTC))
    assert book.cash is not None
    assert BANKROLL - book.cash == cost, (BANKROLL - book.cash, cost)


async def test_an_entry_shown_with_an_unknown_status_still_reserves_its_fee(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The delayed entry is shown by the order endpoint with a status the executor does not
    know (``PENDING``: Polymarket's notice of June 2026 calls a taker order in its delay window
    "locked as pending"). It was kept open as a maker's — its fee no longer reserved — and the
    entries decided meanwhile overspent when its delay ended and it took the ask: an unknown
    status is no proof the order rests, so it reserves the fee as a held one does."""
    ex = await _live(pool, dsn, clob, live)
    clob.delayed_next = True
    await _whale_buys(pool, 1)
    await ex.catch_up()
    first = await pool.fetchrow("SELECT * FROM orderflow_orders")
    oid = first["exchange_order_id"]
    clob.report(oid, "PENDING")
    await ex.desk.reconcile()
    assert await pool.fetchval("SELECT status FROM orderflow_orders") == "OPEN"
    for n in (2, 3):
        await _whale_buys(pool, n)
        await ex.catch_up()
    clob.report(oid, "DELAYED")
    clob.release(oid)  # it meets the book as a taker
    await ex.desk.reconcile()
    spent = await _spent(pool)
    assert spent <= BANKROLL, (
        f"entries decided beside one of unknown status spent {spent} of a {BANKROLL} bankroll:"
        f" {await _signals(pool)}"
    )
