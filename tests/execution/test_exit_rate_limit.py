"""An exit whose POST /order was answered 429 is tried again no sooner than the exchange's
``Retry-After``: the pause before an exit's next try (5 s, doubling) knew nothing of it, so a
rate limit longer than the pause refused the next try too — one more request against the limit,
one more refused exit, and the position held longer after its leader had left.

Since 7 Dec 2026 the order worker itself sends the refused exit again once the ``Retry-After``
has passed (``order_pacing.send_with_retries``, test_exit_refused_429.py): no maintenance pass
comes into it, and the exit still meets no second 429."""

from __future__ import annotations

from decimal import Decimal

import asyncpg

from orderflow.execution.live import LiveBroker
from tests.execution.conftest import TOKEN_YES, add_trade, follow, signal_outcomes
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import live_executor, live_strategy

RETRY_AFTER_SECS = 8.0  # longer than the first pause before an exit's next try (5 s)


async def test_an_exit_refused_429_is_not_sent_again_before_its_retry_after(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    await live_strategy(pool)
    clob.markets[TOKEN_YES].bids[TOKEN_YES] = Decimal("0.49")
    ex = live_executor(pool, dsn, live)
    await follow(pool, ex, token_id=TOKEN_YES, price="0.50")  # ask 0.50: fills at once
    limit = clob.rate_limit("POST", "/order", RETRY_AFTER_SECS)  # from the exit's POST on
    async with pool.acquire() as conn:
        await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.49")
    await ex.catch_up()  # refused 429, sent again by the worker after the Retry-After
    # Every POST before the Retry-After had passed is refused by the stand-in: one refusal is
    # the retry coming after it.
    assert limit.refused == 1, f"{limit.refused} POSTs refused 429"
    outcomes = await signal_outcomes(pool)
    assert outcomes[1:] == [("SELL", "EXECUTED", "filled")], outcomes
