"""An unkilled strategy keeps the orders it places while its old kill switch is still at work.

docs/operator.md: ``killed: false`` afterwards trades the strategy again. The kill switch
(``orderflow.execution.switch.KillSwitch``) runs, per strategy, until no order of the strategy is
left open; a killed strategy's order whose cancel the exchange refuses (``not_canceled``: an order
it holds ``UNMATCHED``) keeps it going — by design, never given up. Its attempts never asked
whether the strategy was still killed: unkilled meanwhile, every order the strategy placed was
cancelled by the old kill's next attempt and booked ``strategy_killed`` (measured: the new entry
CANCELED at the exchange within 6 s). Now each attempt reads the strategy's orders only while the
row says killed (``switch_queries.killed_orders_in``), and ends once it does not.
"""

from __future__ import annotations

import asyncio

import asyncpg

from orderflow.execution.live import LiveBroker
from tests.execution.conftest import TOKEN_NO, add_trade, leading, now_true, running, wait_for
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import buys_in_new_markets, live_executor, live_strategy

WATCH_SECS = 6.0  # the kill switch attempts at most 2 s apart for an order it has not asked yet


def _cancels(clob: FakeClob) -> int:
    return clob.requests.count(("DELETE", "/orders"))


async def test_an_unkilled_strategy_keeps_its_new_orders_while_an_old_cancel_is_refused(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    await live_strategy(pool, max_open_positions=10)
    ex = live_executor(pool, dsn, live)
    async with running(ex):
        await leading(ex)
        async with pool.acquire() as conn:
            # NO trades at 0.30 but asks at 0.90: the live order rests on the book.
            await add_trade(conn, token_id=TOKEN_NO, outcome_index=1, price="0.30")
        first = await wait_for(
            lambda: pool.fetchrow("SELECT * FROM orderflow_orders WHERE status = 'OPEN'")
        )
        old = str(first["exchange_order_id"])
        clob.report(old, "UNMATCHED")  # the exchange answers its cancels not_canceled
        state = ex.registry.states["live-one"]
        await pool.execute(
            "UPDATE orderflow_strategies SET killed = true, generation = generation + 1"
        )
        await wait_for(lambda: now_true(_cancels(clob) > 0))  # the kill's cancel, refused
        await pool.execute(
            "UPDATE orderflow_strategies SET killed = false, generation = generation + 1"
        )
        await wait_for(lambda: now_true(not state.killed))
        # Trading again: the whale buys in a new market, and the entry rests at the exchange.
        await buys_in_new_markets(pool, clob, 1)
        second = await wait_for(
            lambda: pool.fetchrow(
                "SELECT * FROM orderflow_orders WHERE id <> $1 AND exchange_order_id IS NOT NULL",
                first["id"],
            )
        )
        new = str(second["exchange_order_id"])
        await wait_for(lambda: now_true(new in clob.orders))
        await asyncio.sleep(WATCH_SECS)
        at_exchange = clob.orders[new]["status"]
        row = await pool.fetchrow(
            "SELECT o.status, s.reason FROM orderflow_orders o"
            " JOIN orderflow_signals s ON s.id = o.signal_id WHERE o.id = $1",
            second["id"],
        )
        assert row is not None
        killed_now = await pool.fetchval("SELECT killed FROM orderflow_strategies")
    assert killed_now is False
    assert at_exchange == "LIVE", (
        f"the unkilled strategy's new entry was cancelled by the old kill: at the exchange"
        f" {at_exchange}, stored {row['status']} ({row['reason']})"
    )
