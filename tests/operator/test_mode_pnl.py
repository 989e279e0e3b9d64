"""The TradingStrategy's ``todayPnlUsd`` is the strategy's P&L since 00:00 UTC in its mode, as
the executor counts it for its daily loss limit and ``orderflow strategy status`` shows it (one
definition: :func:`orderflow.execution.status.day_pnl_of`). It summed paper's and live's
positions (and read the open ones' lifetime unrealized P&L as today's): a strategy switched to
live showed paper's gains as its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg

from orderflow.execution.status import strategy_status
from orderflow_operator.reconcile import refresh
from tests.operator.test_reconcile import WHALE, run


async def test_today_pnl_is_the_mode_s_as_the_executor_counts_it(pool: asyncpg.Pool) -> None:
    first = await run(pool, {"mode": "live", "credentialsSecret": "clob-keys"})
    await pool.execute(
        """
        INSERT INTO orderflow_positions
            (strategy, token_id, status, shares, cost_basis, realized_pnl, unrealized_pnl,
             opened_at, closed_at, mode)
        VALUES ('whale', 1, 'CLOSED', 0, 0, 10, 0, now() - interval '1 hour', now(), 'paper'),
               ('whale', 2, 'OPEN', 10, 5, 0, 40, now() - interval '1 hour', NULL, 'paper'),
               ('whale', 3, 'CLOSED', 0, 0, -3.125, 0, now() - interval '1 hour', now(), 'live')
        """
    )
    status = (
        await refresh(
            pool, WHALE, ready=None, generation=1, previous_status=first.status, stale_after_secs=30
        )
    ).status
    async with pool.acquire() as conn:
        now = datetime.now(UTC)
        executor = await strategy_status(conn, "whale", now, now - timedelta(hours=1))
    assert executor is not None and executor.mode == "live"
    assert executor.day_pnl == Decimal(
        "-3.125"
    )  # the live position's; paper's +10 and +40 are not live's
    assert status["todayPnlUsd"] == "-3.125", status["todayPnlUsd"]  # exact, not rounded
