"""Exits before entries in the order worker: with the signer's order bucket nearly empty (the
worker holds what it cannot admit, :mod:`orderflow.execution.order_pacing`), an exit — a leader's
sell, money at risk — queued behind entries goes out at the next token, not after theirs.

Before (until 7 Dec 2026) the worker was one first-in first-out queue: the exit waited for every
entry queued before it and was placed last."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

import asyncpg

from orderflow.execution.live import LiveBroker
from orderflow.execution.order_queue import next_index
from orderflow.execution.order_worker import OrderJob
from tests.execution.clob_signer_limits import SignerLimits
from tests.execution.conftest import TOKEN_YES, add_trade, leading, running, wait_for
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import buys_in_new_markets, holding_yes

ENTRIES = 4


async def _placed_sides(pool: asyncpg.Pool, clob: FakeClob) -> list[str]:
    """The sides of the orders the stand-in took, in the order it took them."""
    rows = await pool.fetch(
        "SELECT exchange_order_id, side FROM orderflow_orders WHERE exchange_order_id IS NOT NULL"
    )
    side = {r["exchange_order_id"]: r["side"] for r in rows}
    return [side[i] for i in clob.orders if i in side]


async def test_an_exit_queued_behind_entries_goes_out_before_them(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """A held YES position; four entries decided, the order bucket (one token, refilled every
    four seconds) admitting one at a time; once two are placed (the second refused once: the
    rate learned), the leader sells YES. The exit is placed at the
    next token, before the entry the worker was holding for it. Failed before: the exit placed
    after every entry (``AssertionError: ['BUY', 'BUY', 'BUY', 'BUY', 'BUY', 'SELL']``, the
    first BUY the held position's)."""
    ex = await holding_yes(pool, dsn, clob, live)
    [entry] = clob.trades
    clob.settle(entry["id"], "MINED")
    await ex.maintenance()
    clob.signer_limits = SignerLimits(order=(1, 0.25), cancel=(50, 5), enforce=True)
    async with running(ex):
        await leading(ex)
        await buys_in_new_markets(pool, clob, ENTRIES)

        async def queued() -> bool:  # every entry decided, two placed: the rate learned
            decided = await pool.fetchval(
                "SELECT count(*) FROM orderflow_signals WHERE side = 'BUY' AND status <> 'EXPIRED'"
            )
            return decided == ENTRIES + 1 and len(await _placed_sides(pool, clob)) >= 3

        await wait_for(queued, timeout=60.0)
        async with pool.acquire() as conn:
            await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.49")

        async def done() -> bool:  # every signal placed or dropped, the exit placed
            return not ex.worker.held and "SELL" in await _placed_sides(pool, clob)

        await wait_for(done, timeout=90.0)
    sides = await _placed_sides(pool, clob)
    # the held position's buy, the two entries placed before the sale, then the exit at the next
    # token (the entries after it may be dropped: its loss lowered Kelly's bankroll)
    assert sides.index("SELL") == 3, sides


def _job(strategy: str, side: str, token: int) -> OrderJob:
    return cast(
        OrderJob,
        SimpleNamespace(
            state=SimpleNamespace(name=strategy),
            decision=SimpleNamespace(side=side),
            trade=SimpleNamespace(token_id=token),
        ),
    )


def test_an_exit_passes_entries_but_not_an_order_of_its_own_position() -> None:
    """Exits first, each in its turn; an exit does not pass an order of its own strategy and
    token queued before it (the chain order: that entry goes first, its guard dropping it when
    the leader has left since); another strategy's entry of the token it passes."""
    a1, a2, exit_a7 = _job("a", "BUY", 1), _job("a", "BUY", 2), _job("a", "SELL", 7)
    assert next_index([a1, a2, exit_a7]) == 2
    assert next_index([a1, _job("a", "BUY", 7), exit_a7]) == 0  # its own position's entry first
    assert next_index([_job("b", "BUY", 7), exit_a7]) == 1
    exit_b3 = _job("b", "SELL", 3)
    assert next_index([a1, exit_b3, exit_a7]) == 1  # exits in the order handed over
    assert next_index([a1, a2]) == 0
