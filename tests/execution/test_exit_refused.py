"""An exit the exchange refuses for a reason of its own (not a rate limit): the same refusal
comes back on every try, so after a few tries in a row it is tried once an hour, with an error
logged, instead of every 5 minutes for as long as the position is held."""

from __future__ import annotations

import logging
from datetime import timedelta

import asyncpg
import pytest

from orderflow.execution.engine import Executor
from orderflow.execution.live import LiveBroker
from orderflow.signals.exits import REFUSED_IN_A_ROW
from tests.execution.conftest import TOKEN_YES, add_trade, signal_outcomes
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import age_exits, holding_yes


def _exit_posts(clob: FakeClob) -> int:
    return sum(1 for m, p in clob.requests if (m, p) == ("POST", "/order")) - 1  # not the entry


async def _settled(ex: Executor, clob: FakeClob) -> None:
    """The entry's trade mined, and the executor has read it so."""
    [entry] = clob.trades
    clob.settle(entry["id"], "MINED")
    await ex.maintenance()


async def _leader_sells(pool: asyncpg.Pool, ex: Executor) -> None:
    """The leader sells YES: its exit is tried, then every 10 minutes REFUSED_IN_A_ROW + 3
    times (past the longest pause, 5 minutes: every try due unless held for an hour)."""
    async with pool.acquire() as conn:
        await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.49")
    await ex.catch_up()
    await ex.worker.drain()
    for _ in range(REFUSED_IN_A_ROW + 3):
        await age_exits(pool, timedelta(minutes=10))
        await ex.maintenance()
        await ex.worker.drain()


async def test_an_exit_refused_again_and_again_is_tried_hourly(
    pool: asyncpg.Pool,
    dsn: str,
    clob: FakeClob,
    live: LiveBroker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ex = await holding_yes(pool, dsn, clob, live)
    assert await signal_outcomes(pool) == [("BUY", "EXECUTED", "filled")]
    await _settled(ex, clob)
    # The shares are in the wallet but the exchange may not move them: every SELL refused.
    # (Until 7 Dec 2026 the wallet held none here; the balance read before an exit now books
    # shares that left the wallet as gone instead: test_exit_shares_gone.py.)
    clob.share_approval = False
    await _leader_sells(pool, ex)
    assert _exit_posts(clob) == REFUSED_IN_A_ROW
    assert all(r == "not enough balance / allowance" for r in clob.rejections)
    [*_, last] = await signal_outcomes(pool)
    assert last[:2] == ("SELL", "SKIPPED") and "not enough balance" in last[2]
    with caplog.at_level(logging.ERROR, logger="orderflow.execution.trading"):
        await age_exits(pool, timedelta(minutes=50))  # an hour after the last try
        await ex.maintenance()
        await ex.worker.drain()
    assert _exit_posts(clob) == REFUSED_IN_A_ROW + 1
    assert any("refused" in r.getMessage() for r in caplog.records)
    clob.share_approval = True  # the wallet approves the exchange again
    await age_exits(pool, timedelta(hours=1))
    await ex.maintenance()
    await ex.worker.drain()
    assert (await signal_outcomes(pool))[-1] == ("SELL", "EXECUTED", "filled")
    assert await pool.fetchval("SELECT status FROM orderflow_positions") == "CLOSED"


async def test_an_exit_refused_while_the_buy_settles_is_not_held_for_an_hour(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The shares a buy takes can be sold once its trade is mined (``credit_at_mined``); the
    leader sells at once, and every exit is refused "not enough balance / allowance" while the
    entry's trade is still MATCHED. Those refusals do not put the position on the hourly retry:
    the exits go on at the usual pause, and the first one after the trade is mined sells.
    Before, after REFUSED_IN_A_ROW refusals the position waited an hour, the leader gone."""
    clob.credit_at_mined = True
    ex = await holding_yes(pool, dsn, clob, live)
    await _leader_sells(pool, ex)
    assert _exit_posts(clob) == REFUSED_IN_A_ROW + 4  # every one due, none held for an hour
    assert set(clob.rejections) == {"not enough balance / allowance"}
    await _settled(ex, clob)  # mined: the shares are in the wallet
    await age_exits(pool, timedelta(minutes=10))
    await ex.maintenance()
    await ex.worker.drain()
    assert (await signal_outcomes(pool))[-1] == ("SELL", "EXECUTED", "filled")
    assert await pool.fetchval("SELECT status FROM orderflow_positions") == "CLOSED"
