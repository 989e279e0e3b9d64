"""Limits lowered while entries are queued (decided, not yet sent) are checked again just before
each is sent: an entry that the strategy's limits as they stand now refuse, or size smaller, is
not sent.

docs/executor.md ("Idempotent orders"): the last check before sending read the strategy's kill,
pause and mode from its row, not its limits. The operator lowering a TradingStrategy's
``max_open_positions``, ``max_position_usd``, ``max_market_exposure_usd`` or ``max_daily_loss``
while orders waited behind a slow exchange let every one of them out under the limits they were
decided with (until 6 Dec 2026, measured: 3 POST /order where 1, the order already on its way,
was expected, for each of the four). Now the entry is decided again at that check, with the
row's settings and the book as it stands (without the entry itself), and sent only when that
decision would place it at its size or larger.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from orderflow.execution.live import LiveBroker
from tests.execution.conftest import leading, running, trade_at
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import live_executor, live_strategy
from tests.execution.test_kill import three_decided

LOWER = (
    "UPDATE orderflow_strategies SET settings = settings || $1::jsonb, generation = generation + 1"
)


@pytest.mark.parametrize(
    ("lowered", "reason"),
    [
        ({}, None),  # nothing lowered: all three go out
        ({"max_open_positions": 1}, "max_open_positions"),
        ({"max_position_usd": 10.0}, "limits_lowered"),
        ({"max_market_exposure_usd": 10.0}, "limits_lowered"),
        ({"max_daily_loss": 20.0}, "daily_loss_limit"),
    ],
)
async def test_a_limit_lowered_while_entries_are_queued_stops_those_it_breaches(
    pool: asyncpg.Pool,
    dsn: str,
    clob: FakeClob,
    live: LiveBroker,
    lowered: dict[str, Any],
    reason: str | None,
) -> None:
    await live_strategy(pool, max_open_positions=10)
    ex = live_executor(pool, dsn, live)
    async with running(ex):
        await leading(ex)
        clob.path_delays["/order"] = 1.0  # each order takes a second to place
        await three_decided(pool, clob)  # all three accepted; the first on its way
        # The first market trades at 0.10 since: the entry on its way (at 0.31) would lose
        # ~49 at once if it filled now, which counts against today's loss budget.
        first = await pool.fetchrow("SELECT token_id, market_id FROM orderflow_orders")
        token, market = int(first["token_id"]), first["market_id"]
        async with pool.acquire() as conn:
            await trade_at(conn, "0.10", datetime.now(UTC), token_id=token, market=market)
        await pool.execute(LOWER, lowered)  # the operator edits the TradingStrategy
        await ex.worker.drain()
        clob.path_delays.clear()
        posts = clob.requests.count(("POST", "/order"))
    rows = await pool.fetch("SELECT status, reason FROM orderflow_signals ORDER BY id")
    outcomes = [(r["status"], r["reason"]) for r in rows]
    if reason is None:
        assert posts == 3, outcomes
        return
    assert posts == 1, (
        f"entries queued when {lowered} was set went out under the old limits: {posts} POST"
        f" /order where 1 (the one already on its way) was expected; signals {outcomes}"
    )
    assert [(status, why.split(":")[0]) for status, why in outcomes[1:]] == [
        ("SKIPPED", reason)
    ] * 2
