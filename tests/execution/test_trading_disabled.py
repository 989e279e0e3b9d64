"""The exchange with trading disabled: Polymarket's 503 ``Trading is currently disabled. Check
polymarket.com for updates`` — "The exchange is temporarily paused. No orders (including
cancels) are accepted" (docs.polymarket.com/resources/error-codes). Like cancel-only, such an
answer placed nothing; unlike it, the SDK names no trading restriction for it (it reads only
``cancel-only`` and ``post_only_mode`` out of a 503), so the executor took it for any 503: an
order in doubt, asked about until its expiry — an exit, under way all that time, was not tried
again for the order's whole life (``order_ttl_secs``, 5 minutes to 7 days), and each entry sent
into the pause counted in the limits as long. The stand-in's trading state
(``FakeClob.trading``, :mod:`tests.execution.clob_faults`) refuses orders and cancels so."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest

from orderflow.execution.live import LiveBroker
from tests.execution.conftest import TOKEN_YES, add_trade, follow, signal_outcomes
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import age_exits, holding_yes, live_executor, live_strategy


def _posts(clob: FakeClob) -> int:
    return clob.requests.count(("POST", "/order"))


async def test_an_exit_refused_while_trading_is_disabled_is_tried_again_soon(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    ex = await holding_yes(pool, dsn, clob, live)
    clob.trading = "disabled"
    async with pool.acquire() as conn:
        await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.49")  # the leader leaves
    await ex.catch_up()
    await ex.worker.drain()
    assert clob.restricted == [("POST", "/order")] and _posts(clob) == 2
    # Trading again; the exit's next try is due after the usual pause (5 s), not the order's life.
    clob.trading = None
    await age_exits(pool, timedelta(minutes=1))
    await ex.maintenance()
    await ex.worker.drain()
    assert _posts(clob) == 3, "the exit was not tried again"
    outcomes = await signal_outcomes(pool)
    assert outcomes[-1] == ("SELL", "EXECUTED", "filled"), outcomes
    assert await pool.fetchval("SELECT status FROM orderflow_positions") == "CLOSED"
    # The refused order is no order at the exchange: not in doubt, not counted, not asked about.
    statuses = [r["status"] for r in await pool.fetch("SELECT status FROM orderflow_orders")]
    assert statuses == ["FILLED", "REJECTED", "FILLED"], statuses


@pytest.mark.parametrize(
    ("state", "http"),
    [("disabled", 503), ("restarting", 425), ("cancel_only", 503)],  # the last two: controls
)
async def test_an_entry_refused_while_trading_is_stopped_is_dropped_with_its_reason(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker, state: str, http: int
) -> None:
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live)
    clob.trading = state
    order = await follow(pool, ex, token_id=TOKEN_YES, price="0.50")
    assert order is not None and clob.restricted == [("POST", "/order")]
    assert (order["status"], order["id"] in ex.desk.in_doubt) == ("REJECTED", False)
    [(side, status, reason)] = await signal_outcomes(pool)
    assert (side, status) == ("BUY", "SKIPPED"), reason
    assert f"http {http}: trading restricted ({state})" in reason, reason
    # Nothing rests at the exchange, nothing is asked about, and trading back, the next entry
    # of the token goes out (the refused one held no place in the limits).
    clob.trading = None
    await ex.maintenance()
    assert not clob.orders
    async with pool.acquire() as conn:
        await add_trade(conn, token_id=TOKEN_YES, price="0.50")
    await ex.catch_up()
    await ex.worker.drain()
    assert _posts(clob) == 2 and len(clob.orders) == 1
