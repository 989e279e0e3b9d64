"""A strategy halted by settings that no longer validate opens nothing new, as a paused one: its
resting entries (BUY) are cancelled, live and paper (tests/execution/test_pause_cancels.py, the
"invalid settings" cases), also when it was halted while no executor ran; its resting exits
(SELL) stay, and its entries are kept once its settings are fixed (docs/executor.md "Pause,
kill").

Until 6 Dec 2026 such a halt only refused new decisions and the orders still queued: the entry
resting on the book stayed there and filled after the halt (measured: the live entry's 233.75
shares at 0.31; the paper entry's 400.16 at 0.51; halted while the executor was down, 233.75).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import asyncpg

from orderflow.execution.live import LiveBroker
from tests.execution.conftest import (
    add_trade,
    leading,
    now_true,
    running,
    wait_for,
)
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import live_executor, live_strategy, new_market
from tests.execution.test_pause_cancels import (
    BREAK,
    _entry_and_exit_resting,
    _left_live,
)

FIX = (
    "UPDATE orderflow_strategies SET settings = settings || '{\"kelly_fraction\": 0.25}',"
    " generation = generation + 1"
)


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
