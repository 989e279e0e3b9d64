"""A market's resolution rescores every holder of its tokens; once the counterparty state is
current, the incremental run finds those tokens through its map of market keys to tokens
(``orderflow_wash_tokens``: a probe per resolved market) rather than a scan of every position's
sums (2.4 s of each hourly run at 1 M wallets), and still agrees with a full recompute."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest

from orderflow.reputation import changes, run_reputation
from tests.reputation.builders import Ledger
from tests.reputation.test_incremental_run import close, persisted

HOLDERS = range(1, 7)


def H(hours: int) -> timedelta:
    return timedelta(hours=hours)


async def test_a_resolution_rescores_the_holders_through_the_map(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    led = Ledger()
    for who in HOLDERS:  # positions in market 1, decisions in market 2
        led.trade(who, "BUY", f"{10 * who}", "0.40", market_no=1, at=H(who), taker_aggregate=True)
        led.trade(who, "BUY", "50", "0.30", market_no=2, at=H(who), taker_aggregate=True)
    led.resolve(2, ["1", "0"], timedelta(days=2))
    await led.flush(pool)
    assert not (await run_reputation(pool)).incremental
    # an incremental run (a newcomer's fill elsewhere) makes the counterparty state current
    led.trade(50, "BUY", "3", "0.45", market_no=3, at=H(30), taker_aggregate=True)
    await led.flush(pool)
    second = await run_reputation(pool)
    assert second.incremental and second.rescored == 1
    assert await pool.fetchval("SELECT valid FROM orderflow_wash_state")

    # market 1 resolves, no fill anywhere: only the map can name its tokens now
    monkeypatch.setattr(changes, "_BY_MARKET_SCAN", "SELECT NULL::numeric WHERE FALSE")
    led.resolve(1, ["1", "0"], timedelta(days=3))
    await led.flush(pool)
    third = await run_reputation(pool)
    assert third.incremental and third.rescored == len(HOLDERS)
    incremental = await persisted(pool)
    assert (await run_reputation(pool, full=True)).history_rows == 0
    close(await persisted(pool), incremental)
