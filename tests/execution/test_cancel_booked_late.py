"""A cancel the exchange took whose booking failed (a deadlock, a dropped connection): the
order is cancelled there and still OPEN here. The switch tries again: the exchange now answers
``order can't be canceled`` for it. Live, against the CLOB stand-in: the unheld exit of
``test_exit_trade_failed.py`` (the buy failed on chain after the exchange took the exit)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from orderflow.execution.live import LiveBroker
from tests.execution.conftest import TOKEN_YES, add_trade, wait_for
from tests.execution.exitkit import a_pass, sells_sent
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import holding_yes


def _fails_once(book: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """``book``, whose first call raises as a deadlock does, after the exchange cancelled."""
    calls = 0

    async def booked(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise asyncpg.DeadlockDetectedError("deadlock detected")
        return await book(*args)

    return booked


async def test_a_cancel_taken_whose_booking_failed_is_booked_at_the_next_attempt(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """CI (7 Dec 2026): a deadlock booked the first cancel's answer away; the order stayed OPEN
    with its cancel refused and paced, and no pass closed it within 30 s."""
    clob.monitor_lags = True
    ex = await holding_yes(pool, dsn, clob, live)
    [entry] = clob.trades
    clob.markets[TOKEN_YES].bids.pop(TOKEN_YES)  # the exit rests
    async with pool.acquire() as conn:
        await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.49")
    await ex.catch_up()
    await ex.worker.drain()
    assert sells_sent(clob) == 1
    ex.desk.cancels.book = _fails_once(ex.desk.cancels.book)
    clob.settle(entry["id"], "FAILED")
    for _ in range(3):  # the reversal, then the switch's cancels (its first booking fails)
        await a_pass(pool, ex)

    async def closed() -> tuple[str, str] | None:
        row = await pool.fetchrow(
            "SELECT status, status_reason FROM orderflow_orders WHERE side = 'SELL'"
        )
        assert row is not None
        return None if row["status"] == "OPEN" else (row["status"], row["status_reason"])

    assert await wait_for(closed) == ("CANCELED", "trade_failed")
    await a_pass(pool, ex)
    assert sells_sent(clob) == 1  # nothing to sell: no exit again
