"""An exit met by the exchange taking no order for a while: the CLOB's matching engine restarting
(every week, about 90 s; docs.polymarket.com/trading/matching-engine: "Order matching is paused,
API returns 425", "Do not treat this as a permanent error"), or trading cancel-only (503). The
SDK calls both trading restrictions (``"restarting"``, ``"cancel_only"``). Such an answer placed
nothing and says nothing about the order: like a 429, it is not one of the order's own refusals
(which after :data:`~orderflow.signals.exits.REFUSED_IN_A_ROW` in a row make an exit hourly),
nor an order in doubt.

A 425 was such a refusal (``order_rejected: http 425: …``): the exit's tries 5, 10, 20 and 40 s
apart put five of them into the first 75 s of a 90 s restart, and the position whose leader had
left was then held for an hour more. A 503 cancel-only was an order in doubt until its expiry."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from orderflow.execution.live import LiveBroker
from orderflow.signals.exits import REFUSED_IN_A_ROW
from tests.execution.conftest import TOKEN_NO, TOKEN_YES, add_trade, signal_outcomes
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import age_exits, holding_yes

TOO_EARLY = 425  # the matching engine is restarting


def _exit_posts(clob: FakeClob) -> int:
    return sum(1 for m, p in clob.requests if (m, p) == ("POST", "/order")) - 1  # not the entry


async def test_an_exit_refused_while_the_matching_engine_restarts_is_not_made_hourly(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    ex = await holding_yes(pool, dsn, clob, live)
    assert await signal_outcomes(pool) == [("BUY", "EXECUTED", "filled")]
    restart = clob.fail("POST", "/order", TOO_EARLY, times=REFUSED_IN_A_ROW)
    async with pool.acquire() as conn:
        await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.49")  # the leader leaves
    await ex.catch_up()
    await ex.worker.drain()
    for _ in range(REFUSED_IN_A_ROW - 1):  # each try once its pause has passed (at most 5 min)
        await age_exits(pool, timedelta(minutes=10))
        await ex.maintenance()
        await ex.worker.drain()
    assert restart.times == 0 and _exit_posts(clob) == REFUSED_IN_A_ROW
    [*_, last] = await signal_outcomes(pool)
    assert last[:2] == ("SELL", "SKIPPED") and "425" in last[2], last
    # The engine is back. The next try is due after the usual pause, not an hour later.
    await age_exits(pool, timedelta(minutes=10))
    await ex.maintenance()
    await ex.worker.drain()
    assert _exit_posts(clob) == REFUSED_IN_A_ROW + 1, "the exit was not tried again"
    assert (await signal_outcomes(pool))[-1] == ("SELL", "EXECUTED", "filled")
    assert await pool.fetchval("SELECT status FROM orderflow_positions") == "CLOSED"


# Polymarket's error codes (docs.polymarket.com/resources/error-codes): the exchange takes no new
# order, cancels only. The SDK reads this 503 as the trading restriction ``"cancel_only"``.
CANCEL_ONLY = (
    "Trading is currently cancel-only. New orders are not accepted, but cancels are allowed."
)


async def test_an_exit_refused_while_the_exchange_is_cancel_only_is_tried_again_soon(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """A POST /order answered 503 cancel-only was taken for an order in doubt (a 503 may come
    after the order was processed): the exit's intent was asked about until its expiry (the
    strategy's ``order_ttl_secs``, 5 minutes to 7 days) and, counting as an exit under way,
    held every next try of the exit back as long. The exchange said it accepted no order."""
    ex = await holding_yes(pool, dsn, clob, live)
    restricted = clob.fail("POST", "/order", 503, times=1)
    restricted.body = {"error": CANCEL_ONLY}
    async with pool.acquire() as conn:
        await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.49")  # the leader leaves
    await ex.catch_up()
    await ex.worker.drain()
    assert restricted.times == 0 and _exit_posts(clob) == 1
    # Normal trading again; the exit's next try is due after the usual pause (5 s).
    await age_exits(pool, timedelta(minutes=1))
    await ex.maintenance()
    await ex.worker.drain()
    assert _exit_posts(clob) == 2, "the exit was not tried again"
    outcomes = await signal_outcomes(pool)
    assert outcomes[-1] == ("SELL", "EXECUTED", "filled"), outcomes
    assert await pool.fetchval("SELECT status FROM orderflow_positions") == "CLOSED"
    # The refused order is no order at the exchange: not in doubt, not counted, not asked about.
    statuses = [r["status"] for r in await pool.fetch("SELECT status FROM orderflow_orders")]
    assert statuses == ["FILLED", "REJECTED", "FILLED"], statuses


def _book_reads(clob: FakeClob) -> int:
    return sum(1 for m, p in clob.requests if (m, p) == ("GET", "/book"))


async def test_a_book_read_met_by_the_restart_pauses_every_tokens_reads(
    clob: FakeClob, live: LiveBroker
) -> None:
    """A 425 is the whole exchange restarting, as a log-in's 425 is read: the next token's book
    is not asked for while the reads are paused (it was: only the 425's own token waited)."""
    clob.fail("GET", "/book", TOO_EARLY, times=1)
    await live.market_rules(TOKEN_YES)
    await live.market_rules(TOKEN_NO)
    assert _book_reads(clob) == 1
