"""A kill's cancel reached the exchange, then the executor died before booking it; the exchange
forgets a done order (``forgetful``: the order endpoint answers nothing for it, and a cancel of
it is answered ``order can't be found - already canceled or matched``, the real CLOB's words for
an order it does not hold). Restarted with the strategy still killed, the order is closed by the
kill's next cancel and its own trades: its fills booked once, nothing refused, logged or counted
against the strategy afterwards. It used to stay OPEN until its expiry (up to 7 days), the kill
logging "the exchange refuses to cancel a live order" every minute and the strategy's limits
counting it.

An order the exchange still holds (``UNMATCHED``: its delayed matching under way) is not closed
so, whatever the order endpoint shows: its cancel is refused for another reason, and it may
still fill.

Also: an order a kill cancelled before the crash, found cancelled at the restart, is SKIPPED
``strategy_killed`` (its signal and the order's reason), not ``order_unfilled``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from decimal import Decimal

import asyncpg
import pytest

from orderflow.execution.engine import Executor
from orderflow.execution.live import LiveBroker
from tests.execution.clob_exchange import NOT_HELD
from tests.execution.conftest import TOKEN_NO, follow
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import live_executor, live_strategy

REFUSES = "the exchange refuses to cancel a live order"
SHORT = "already canceled or matched"
KILL_SECS = 3.0  # a bound on the wait for the kill switch, not a figure asserted


async def _resting_then_killed(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> tuple[str, Decimal]:
    """A live entry rests; the strategy is killed; the kill's DELETE reaches the exchange and
    the process dies before booking its answer. The order's exchange id and size."""
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live)
    order = await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")  # rests
    assert order is not None and order["status"] == "OPEN"
    oid = str(order["exchange_order_id"])
    await pool.execute("UPDATE orderflow_strategies SET killed = true, generation = generation + 1")
    return oid, Decimal(order["shares"])


async def _restart(
    pool: asyncpg.Pool, dsn: str, live: LiveBroker, passes: int = 3
) -> tuple[Executor, bool]:
    """The executor starts again (the strategy still killed): its start-up pass, the kill
    switch, and maintenance passes, each as a running executor makes them. The kill switch is
    given up to ``KILL_SECS`` to finish (a kill the exchange keeps refusing never does: its
    cancel is sent again 2 s, 4 s, ... apart, its second refusal logged as an error); the
    executor, and whether its kill is over."""
    restarted = live_executor(pool, dsn, live)
    async with pool.acquire() as conn:
        await restarted.registry.refresh(conn)
    await restarted.desk.reconcile()
    for _ in range(passes):
        await restarted.maintenance()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(restarted.kills.wait()), KILL_SECS)
    over = all(t.done() for t in restarted.kills.tasks.values())
    await restarted.kills.stop()
    return restarted, over


async def _books(pool: asyncpg.Pool) -> tuple[str, str | None, Decimal, Decimal, Decimal]:
    row = await pool.fetchrow("SELECT status, status_reason, filled_shares FROM orderflow_orders")
    fills = await pool.fetchval("SELECT COALESCE(sum(shares), 0) FROM orderflow_fills")
    held = await pool.fetchval("SELECT COALESCE(sum(shares), 0) FROM orderflow_positions")
    return row["status"], row["status_reason"], row["filled_shares"], fills, held


async def _signal(pool: asyncpg.Pool) -> tuple[str, str]:
    row = await pool.fetchrow("SELECT status, reason FROM orderflow_signals")
    return row["status"], row["reason"]


@pytest.mark.parametrize("words", [NOT_HELD, SHORT], ids=["words", "short-words"])
@pytest.mark.parametrize("filled", [Decimal(0), Decimal("0.5")], ids=["unfilled", "half"])
async def test_a_forgotten_order_the_kill_cancelled_is_closed_at_the_restart(
    pool: asyncpg.Pool,
    dsn: str,
    clob: FakeClob,
    live: LiveBroker,
    filled: Decimal,
    words: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``short-words``: the exchange's answer without its prefix, ``already canceled or
    matched``, as a Polymarket adapter's recorded cancel answers give it. Until 7 Dec 2026 only
    the words "can't be found" (or "order not found") were read as "not held": the short answer
    was a refusal, the order OPEN until its expiry, the kill refused every minute."""
    clob.forgetful = True
    clob.not_held_answer = words
    oid, shares = await _resting_then_killed(pool, dsn, clob, live)
    half = (shares * filled).quantize(Decimal("0.01"))
    if half:
        clob.fill(oid, half)
    assert (await live.cancel([oid])).canceled == (oid,)  # the process dies here
    caplog.set_level(logging.WARNING)
    restarted, over = await _restart(pool, dsn, live, passes=1)
    assert await _books(pool) == ("CANCELED", "strategy_killed", half, half, half)
    assert await _signal(pool) == (
        ("EXECUTED", "filled") if half else ("SKIPPED", "strategy_killed")
    )
    assert over and not restarted.desk.refused_cancels.orders  # nothing left refusing
    assert REFUSES not in caplog.text
    assert await pool.fetchval("SELECT cancel_refusals FROM orderflow_orders") == 0
    assert clob.requests.count(("POST", "/order")) == 1


async def test_a_forgotten_order_matched_in_full_books_its_trade_listed_late(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The order was taken in full before the kill's cancel (so the exchange answers it cannot
    find it: matched), its trade not listed yet at the restart: closed, then the trade listed a
    moment later is booked (the look-back of an order closed short), once."""
    clob.forgetful = True
    oid, shares = await _resting_then_killed(pool, dsn, clob, live)
    trade = clob.fill(oid)
    clob.unlisted.add(trade)
    restarted, over = await _restart(pool, dsn, live, passes=1)
    assert (await _books(pool))[:3] == ("CANCELED", "strategy_killed", Decimal(0))
    assert over
    clob.unlisted.clear()
    for _ in range(3):
        await restarted.maintenance()
    assert (await _books(pool))[2:] == (shares, shares, shares)
    assert await _signal(pool) == ("EXECUTED", "filled")
    assert not restarted.desk.refused_cancels.orders


async def test_an_order_the_exchange_still_holds_is_not_closed_while_it_may_fill(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The exchange holds the order UNMATCHED (its delayed matching under way): the forgetful
    order endpoint shows it nowhere, and the kill's cancel is refused (``order can't be
    canceled``). It stays OPEN, counting, and its fill is booked when it comes. (Passes on main
    too: it guards the rule above against closing an order that may still fill.)"""
    clob.forgetful = True
    oid, shares = await _resting_then_killed(pool, dsn, clob, live)
    clob.report(oid, "UNMATCHED")
    restarted, over = await _restart(pool, dsn, live, passes=1)
    assert (await _books(pool))[:3] == ("OPEN", None, Decimal(0))
    assert (
        not over and restarted.desk.refused_cancels.orders
    )  # still refused: paced, logged, counted
    clob.fill(oid)
    for _ in range(2):
        await restarted.maintenance()
    assert (await _books(pool))[2:] == (shares, shares, shares)


async def test_an_order_found_cancelled_after_the_kill_is_skipped_as_killed(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The exchange keeps showing the cancelled order (CANCELED): the restart's first pass
    closes it, before the kill switch runs. Its signal said ``order_unfilled`` and the order no
    reason, as for an order that rested unfilled until its expiry."""
    oid, _ = await _resting_then_killed(pool, dsn, clob, live)
    assert (await live.cancel([oid])).canceled == (oid,)  # the process dies here
    await _restart(pool, dsn, live, passes=1)
    assert (await _books(pool))[:3] == ("CANCELED", "strategy_killed", Decimal(0))
    assert await _signal(pool) == ("SKIPPED", "strategy_killed")
