"""An incremental run judges every wallet (the prior, the tiers' false-discovery control and the
wash hosts' flags are the population's), but computes the own figures only of the wallets whose
inputs changed: it reads the stored inputs of those (and of the few it sends back because their
score, tier or flags moved), not of every wallet.

Until 7 Dec 2026 it read every wallet's stored inputs and scored them all from scratch: at 1 M
wallets a binary COPY of every row of the 1.4 kB-a-row stored inputs and numpy over 31 inputs a
wallet, ≈ 5 s of an hourly run whatever the hour changed (docs/benchmarks.md, "The hourly run's
population step at 1 M"). It reads each wallet's standing instead: the own figures the
population step needs, kept when the wallet's inputs are (orderflow.reputation.standing).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from orderflow.reputation import binary_copy, run_reputation, stored_inputs
from tests.reputation.builders import Ledger


async def test_an_incremental_run_reads_the_inputs_of_the_changed_wallets_only(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    led = Ledger()
    for who in range(1, 13):
        led.trade(who, "BUY", "20", "0.40", market_no=who % 4, at=timedelta(hours=who),
                  taker_aggregate=True)  # fmt: skip
    led.resolve(0, ["1", "0"], timedelta(days=2))
    await led.flush(pool)
    assert not (await run_reputation(pool)).incremental
    read: list[int] = []
    real = binary_copy.read

    async def spy(conn: asyncpg.Connection, query: str, *rest: Any) -> Any:
        out = await real(conn, query, *rest)
        if stored_inputs.INPUTS in query:
            read.append(len(out["idx"]))
        return out

    monkeypatch.setattr(binary_copy, "read", spy)
    led.trade(1, "BUY", "10", "0.45", market_no=1, at=timedelta(hours=30), taker_aggregate=True)
    await led.flush(pool)
    run = await run_reputation(pool)
    assert run.incremental and run.wallets == 12
    assert 0 < run.rescored < run.wallets
    assert sum(read) <= run.candidates < run.wallets, (read, run.rescored, run.candidates)
