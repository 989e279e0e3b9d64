"""A strategy halted by settings that no longer validate opens nothing new, as a paused one: its
resting entries (BUY) are cancelled, live and paper, also when it was halted while no executor
ran; its resting exits (SELL) stay, and its entries are kept once its settings are fixed
(docs/executor.md "Pause, kill").

Until 6 Dec 2026 such a halt only refused new decisions and the orders still queued: the entry
resting on the book stayed there and filled after the halt (measured: the live entry's 233.75
shares at 0.31; the paper entry's 400.16 at 0.51; halted while the executor was down, 233.75).
"""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal

import asyncpg

from orderflow.execution.live import LiveBroker
from tests.execution.conftest import (
    add_trade,
    leading,
    now_true,
    reveal,
    running,
    wait_for,
)
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import live_executor, live_strategy, new_market
from tests.execution.paperkit import clocked_executor, whale_buys
from tests.execution.test_pause_cancels import (
    PAUSE_SECS,
    _bought_after_pause,
    _counterparty,
    _entry_and_exit_resting,
    _left_live,
)

BREAK = (
    "UPDATE orderflow_strategies SET settings = settings || '{\"kelly_fraction\": 5}',"
    " generation = generation + 1"
)
FIX = (
    "UPDATE orderflow_strategies SET settings = settings || '{\"kelly_fraction\": 0.25}',"
    " generation = generation + 1"
)


async def test_invalid_settings_cancel_the_resting_entry_and_keep_the_exit(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    await live_strategy(pool, max_open_positions=10)
    ex = live_executor(pool, dsn, live)
    entry, exit_ = await _entry_and_exit_resting(pool, ex, clob)
    async with running(ex):
        await leading(ex)
        await pool.execute(BREAK)
        await wait_for(lambda: now_true(ex.registry.states["live-one"].error is not None))
        await _left_live(clob, entry["exchange_order_id"])
        exit_at_exchange = clob.orders[exit_["exchange_order_id"]]["status"]
        await _counterparty(clob, entry["exchange_order_id"])
    await ex.desk.reconcile()
    bought, status, reason = await _bought_after_pause(pool, entry["id"])
    assert bought == 0, (
        f"the halted strategy's resting entry filled after the halt: {bought} shares bought at"
        f" {entry['price']} ({status}, {reason})"
    )
    assert (status, reason) == ("CANCELED", "strategy_paused")
    assert exit_at_exchange == "LIVE"  # its exit stays on the book


async def test_invalid_settings_cancel_a_resting_paper_entry(pool: asyncpg.Pool, dsn: str) -> None:
    ex, _ = clocked_executor(pool, dsn)
    await whale_buys(pool, ex)
    await ex.catch_up()
    entry = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert entry["status"] == "OPEN" and entry["mode"] == "paper"
    async with running(ex):
        await leading(ex)
        await pool.execute(BREAK)
        await wait_for(lambda: now_true(ex.registry.states["alpha"].error is not None))

        async def closed() -> bool:
            status = await pool.fetchval(
                "SELECT status FROM orderflow_orders WHERE id = $1", entry["id"]
            )
            return bool(status != "OPEN")

        with contextlib.suppress(AssertionError):
            await wait_for(closed, timeout=PAUSE_SECS)
    async with pool.acquire() as conn:  # sellers at the entry's limit
        await reveal(conn, price=str(entry["price"]), shares=str(entry["shares"]))
    await ex.desk.reconcile()
    bought, status, reason = await _bought_after_pause(pool, entry["id"])
    assert bought == 0, (
        f"the halted strategy's resting paper entry filled after the halt: {bought} shares"
        f" bought at {entry['price']} ({status}, {reason})"
    )
    assert (status, reason) == ("CANCELED", "strategy_paused")


async def test_halted_while_the_executor_was_down(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Settings broken while no executor ran: the restarted one reads the row as it is (no
    change seen), and its maintenance cancels the resting entry."""
    await live_strategy(pool, max_open_positions=10)
    first = live_executor(pool, dsn, live)
    entry, exit_ = await _entry_and_exit_resting(pool, first, clob)
    await pool.execute(BREAK)  # the executor is down
    restarted = live_executor(pool, dsn, live)
    async with running(restarted):
        await leading(restarted)
        await _left_live(clob, entry["exchange_order_id"])
        await _counterparty(clob, entry["exchange_order_id"])
    await restarted.desk.reconcile()
    bought, status, reason = await _bought_after_pause(pool, entry["id"])
    assert bought == 0, (
        f"halted while the executor was down: its resting entry filled after the restart,"
        f" {bought} shares at {entry['price']} ({status}, {reason})"
    )
    assert (status, reason) == ("CANCELED", "strategy_paused")
    assert clob.orders[exit_["exchange_order_id"]]["status"] == "LIVE"


async def test_fixed_settings_keep_the_new_entries(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Halted, then fixed: the switch ends, and the strategy's next entry stays on the book."""
    await live_strategy(pool, max_open_positions=10)
    ex = live_executor(pool, dsn, live)
    entry, _ = await _entry_and_exit_resting(pool, ex, clob)
    async with running(ex):
        await leading(ex)
        state = ex.registry.states["live-one"]
        await pool.execute(BREAK)
        await _left_live(clob, entry["exchange_order_id"])
        await pool.execute(FIX)
        await wait_for(lambda: now_true(state.error is None))
        async with pool.acquire() as conn:
            market, token = await new_market(clob, conn, 2, ask="0.90")
            await add_trade(conn, token_id=token, market=market, price="0.30")
        second = await wait_for(
            lambda: pool.fetchrow(
                "SELECT * FROM orderflow_orders WHERE token_id = $1 AND status = 'OPEN'",
                Decimal(token),
            )
        )
        await asyncio.sleep(2.0)  # a few maintenance passes (0.5 s here)
        at_exchange = clob.orders[second["exchange_order_id"]]["status"]
    assert at_exchange == "LIVE", f"the fixed strategy's new entry was cancelled: {at_exchange}"
