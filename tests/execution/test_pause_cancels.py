"""A pause stops new exposure: the paused strategy's resting entries (BUY) are cancelled, live and
paper, also when the exchange fails the cancel for a while or the executor restarts while the
strategy is paused. Its resting exits (SELL) stay: a pause stops new positions, it does not
freeze risk (docs/executor.md "Pause, kill").

Until 6 Dec 2026 a pause only refused new decisions and the orders still queued: an entry resting
on the book stayed there, and a counterparty taking it after the pause opened the position the
user had paused the strategy to avoid (measured: the live entry's 233.75 shares bought at 0.31
after the pause; the paper entry's 400.16 at 0.51; after a restart while paused, 233.75).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal

import asyncpg
import pytest

from orderflow.execution.engine import Executor
from orderflow.execution.live import LiveBroker
from orderflow.execution.strategies import StrategyState
from tests.execution.conftest import (
    TOKEN_YES,
    add_trade,
    follow,
    leading,
    now_true,
    reveal,
    running,
    wait_for,
)
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import live_executor, live_strategy, new_market
from tests.execution.paperkit import clocked_executor, whale_buys

# A bound on the wait for the pause's cancel (it lands within a maintenance pass, 0.5 s here):
# not a figure asserted, the time after which the counterparty comes.
PAUSE_SECS = 5.0
PAUSE = "UPDATE orderflow_strategies SET paused = $1, generation = generation + 1"
# Settings that no longer validate halt the strategy: it opens nothing new, as a paused one
# (tests/execution/test_halt_cancels.py).
BREAK = (
    "UPDATE orderflow_strategies SET settings = settings || '{\"kelly_fraction\": 5}',"
    " generation = generation + 1"
)


@dataclass(frozen=True)
class Stop:
    """What stops a strategy's new exposure: the row's change, and how the executor shows it."""

    name: str
    change: Callable[[asyncpg.Pool], Awaitable[object]]
    seen: Callable[[StrategyState], bool]


STOPS = [
    Stop("paused", lambda pool: pool.execute(PAUSE, True), lambda state: state.paused),
    # until 6 Dec 2026 a halt kept the resting entries (the same 233.75 and 400.16 shares bought)
    Stop("invalid settings", lambda pool: pool.execute(BREAK), lambda s: s.error is not None),
]


async def _entry_and_exit_resting(
    pool: asyncpg.Pool, ex: Executor, clob: FakeClob
) -> tuple[asyncpg.Record, asyncpg.Record]:
    """A live strategy holds YES and its exit (the leader sold) rests unmet; the whale buys in
    another market whose book asks 0.90, and the entry rests at 0.31. The entry and the exit."""
    await follow(pool, ex, token_id=TOKEN_YES, price="0.50")  # filled at the ask
    clob.markets[TOKEN_YES].bids.pop(TOKEN_YES, None)  # nobody bids: the exit rests
    async with pool.acquire() as conn:
        await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.49")
    await ex.catch_up()
    async with pool.acquire() as conn:
        market, token = await new_market(clob, conn, 1, ask="0.90")
        await add_trade(conn, token_id=token, market=market, price="0.30")
    await ex.catch_up()
    entry = await pool.fetchrow("SELECT * FROM orderflow_orders WHERE token_id = $1", token)
    exit_ = await pool.fetchrow("SELECT * FROM orderflow_orders WHERE side = 'SELL'")
    assert entry["status"] == exit_["status"] == "OPEN"
    assert clob.orders[entry["exchange_order_id"]]["status"] == "LIVE"
    return entry, exit_


async def _left_live(clob: FakeClob, exchange_id: str) -> None:
    """Wait (at most PAUSE_SECS) for the order to leave the book."""
    with contextlib.suppress(AssertionError):
        await wait_for(
            lambda: now_true(clob.orders[exchange_id]["status"] != "LIVE"), timeout=PAUSE_SECS
        )


async def _counterparty(clob: FakeClob, *exchange_ids: str) -> None:
    """A counterparty takes each of these orders still resting on the book."""
    for oid in exchange_ids:
        if clob.orders[oid]["status"] == "LIVE":
            clob.fill(oid)


async def _bought_after_pause(pool: asyncpg.Pool, order_id: int) -> tuple[Decimal, str, str]:
    """The entry's filled shares, its status and its signal's reason."""
    row = await pool.fetchrow(
        "SELECT o.filled_shares, o.status, s.reason FROM orderflow_orders o"
        " JOIN orderflow_signals s ON s.id = o.signal_id WHERE o.id = $1",
        order_id,
    )
    return row["filled_shares"], row["status"], row["reason"]


@pytest.mark.parametrize("stop", STOPS, ids=lambda s: s.name)
async def test_a_pause_cancels_the_resting_entry_and_keeps_the_exit(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker, stop: Stop
) -> None:
    await live_strategy(pool, max_open_positions=10)
    ex = live_executor(pool, dsn, live)
    entry, exit_ = await _entry_and_exit_resting(pool, ex, clob)
    async with running(ex):
        await leading(ex)
        await stop.change(pool)
        await wait_for(lambda: now_true(stop.seen(ex.registry.states["live-one"])))
        await _left_live(clob, entry["exchange_order_id"])
        exit_at_exchange = clob.orders[exit_["exchange_order_id"]]["status"]
        await _counterparty(clob, entry["exchange_order_id"], exit_["exchange_order_id"])
    await ex.desk.reconcile()
    bought, status, reason = await _bought_after_pause(pool, entry["id"])
    assert bought == 0, (
        f"the {stop.name} strategy's resting entry filled after it: {bought} shares bought at"
        f" {entry['price']} ({status}, {reason})"
    )
    assert (status, reason) == ("CANCELED", "strategy_paused")
    assert clob.orders[entry["exchange_order_id"]]["status"] == "CANCELED"
    # The exit stayed on the book through the pause, and sold the position.
    assert exit_at_exchange == "LIVE"
    sold = await pool.fetchval("SELECT status FROM orderflow_orders WHERE id = $1", exit_["id"])
    held = await pool.fetchval(
        "SELECT status FROM orderflow_positions WHERE token_id = $1", Decimal(TOKEN_YES)
    )
    assert (sold, held) == ("FILLED", "CLOSED")


@pytest.mark.parametrize("stop", STOPS, ids=lambda s: s.name)
async def test_a_pause_cancels_a_resting_paper_entry(
    pool: asyncpg.Pool, dsn: str, stop: Stop
) -> None:
    ex, _ = clocked_executor(pool, dsn)
    await whale_buys(pool, ex)
    await ex.catch_up()
    entry = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert entry["status"] == "OPEN" and entry["mode"] == "paper"
    async with running(ex):
        await leading(ex)
        await stop.change(pool)
        await wait_for(lambda: now_true(stop.seen(ex.registry.states["alpha"])))

        async def closed() -> bool:
            status = await pool.fetchval(
                "SELECT status FROM orderflow_orders WHERE id = $1", entry["id"]
            )
            return bool(status != "OPEN")

        with contextlib.suppress(AssertionError):
            await wait_for(closed, timeout=PAUSE_SECS)
    # Sellers show up at the entry's limit: the chain reveals an ask it would have taken.
    async with pool.acquire() as conn:
        await reveal(conn, price=str(entry["price"]), shares=str(entry["shares"]))
    await ex.desk.reconcile()
    bought, status, reason = await _bought_after_pause(pool, entry["id"])
    assert bought == 0, (
        f"the {stop.name} strategy's resting paper entry filled after it: {bought} shares"
        f" bought at {entry['price']} ({status}, {reason})"
    )
    assert (status, reason) == ("CANCELED", "strategy_paused")


@pytest.mark.parametrize("stop", STOPS, ids=lambda s: s.name)
async def test_paused_while_the_executor_was_down_and_the_exchange_fails_the_cancel(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker, stop: Stop
) -> None:
    """Paused (or halted) while no executor ran: the restarted executor, which reads the row
    as it is (no change seen), cancels the resting entry, through 503s on its first cancels
    (the pause switch tries again with backoff)."""
    await live_strategy(pool, max_open_positions=10)
    first = live_executor(pool, dsn, live)
    entry, exit_ = await _entry_and_exit_resting(pool, first, clob)
    await stop.change(pool)  # the executor is down
    failing = clob.fail("DELETE", "/orders", 503, times=2)
    restarted = live_executor(pool, dsn, live)
    async with running(restarted):
        await leading(restarted)
        await _left_live(clob, entry["exchange_order_id"])
        await _counterparty(clob, entry["exchange_order_id"])
    await restarted.desk.reconcile()
    bought, status, reason = await _bought_after_pause(pool, entry["id"])
    assert bought == 0, (
        f"{stop.name} while the executor was down: its resting entry filled after the restart,"
        f" {bought} shares at {entry['price']} ({status}, {reason})"
    )
    assert failing.times == 0  # both 503s were met, and the cancel tried again
    assert (status, reason) == ("CANCELED", "strategy_paused")
    assert clob.orders[exit_["exchange_order_id"]]["status"] == "LIVE"


async def test_a_resumed_strategy_keeps_its_new_entries_while_an_old_cancel_is_refused(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The pause's cancel of an order the exchange holds UNMATCHED is refused, so its switch
    goes on asking (paced); resumed, the switch ends and the strategy's new entry stays on the
    book (the pause switch cancels only while the row says paused, as the kill switch does)."""
    await live_strategy(pool, max_open_positions=10)
    ex = live_executor(pool, dsn, live)
    entry, _ = await _entry_and_exit_resting(pool, ex, clob)
    old = str(entry["exchange_order_id"])
    clob.report(old, "UNMATCHED")  # the exchange answers its cancels not_canceled
    async with running(ex):
        await leading(ex)
        state = ex.registry.states["live-one"]
        await pool.execute(PAUSE, True)
        await wait_for(lambda: now_true(("DELETE", "/orders") in clob.requests))
        await pool.execute(PAUSE, False)
        await wait_for(lambda: now_true(not state.paused))
        async with pool.acquire() as conn:
            market, token = await new_market(clob, conn, 2, ask="0.90")
            await add_trade(conn, token_id=token, market=market, price="0.30")
        second = await wait_for(
            lambda: pool.fetchrow(
                "SELECT * FROM orderflow_orders WHERE token_id = $1 AND status = 'OPEN'",
                Decimal(token),
            )
        )
        await asyncio.sleep(PAUSE_SECS)  # the old switch, were it still at work, would cancel it
        at_exchange = clob.orders[second["exchange_order_id"]]["status"]
    assert at_exchange == "LIVE", f"the resumed strategy's new entry was cancelled: {at_exchange}"
