"""A full run from the stored sums scores its wallets on both connections
(:mod:`orderflow.reputation.wallet_split`): the run's connection those before a cut address, the
second connection the others, whose rows it sends back. The stored rows are the serial run's to
the bit, on generated worlds of several seeds (a side that fails or is killed while it builds
its wallets: ``test_second_connection_fails.py``).

On main the wallets statement ran on the run's connection alone, after the positions, the
closing lines and the voided fills: 43 s of a 120-133 s run at 1 M wallets while the second
core idled (issue 14; docs/benchmarks.md)."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from orderflow.reputation import ReputationSettings, beside, run_reputation
from tests.reputation.population import (
    World,
    lucky,
    noise_taker,
    penny_picker,
    round_trip_ring,
    skilled_taker,
    wash_pair,
    wash_ring,
)
from tests.reputation.test_second_connection import SERIAL, _stored

# the summary's stages of the split: the side's positions, wallets and whole table; the rows
# appended on the run's connection
SPLIT_STAGES = {"beside_positions", "beside_wallets", "beside_rep_wallets_side", "wallets_side"}


async def _world(pool: asyncpg.Pool, seed: int) -> None:
    """Takers of every kind, wash pairs and rings, round trips, neg-risk events."""
    w = World(seed=seed, markets=50, neg_risk_events=5)
    for _ in range(25):
        noise_taker(w, w.new_wallet(), int(w.rng.uniform(5, 30)))
    for _ in range(10):
        skilled_taker(w, w.new_wallet(), int(w.rng.uniform(5, 20)), w.rng.random())
    for _ in range(3):
        penny_picker(w, w.new_wallet(), 12)
        lucky(w, w.new_wallet())
    wash_pair(w, w.new_wallet(), w.new_wallet(), 6)
    wash_ring(w, w.new_wallet(), [w.new_wallet() for _ in range(3)], 5)
    round_trip_ring(w, [w.new_wallet() for _ in range(3)], 4)
    await w.finish(pool)


@pytest.mark.parametrize("seed", [5, 23, 71])
async def test_split_run_stores_the_serial_runs_rows(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    await _world(pool, seed)
    serial = await run_reputation(pool, settings=SERIAL, full=True)
    assert not SPLIT_STAGES & set(serial.stages), serial.stages
    before = await _stored(pool)

    cuts: list[str | None] = []
    start = beside.start

    async def spy(*args: Any, **kwargs: Any) -> beside.Beside | None:
        cuts.append(kwargs.get("pivot"))
        return await start(*args, **kwargs)

    monkeypatch.setattr(beside, "start", spy)
    split = await run_reputation(pool, full=True)
    assert set(split.stages) >= SPLIT_STAGES, split.stages  # scored on both connections
    assert not split.skipped and split.wallets == serial.wallets
    # the cut leaves wallets on both sides
    (cut,) = cuts
    assert cut is not None
    below = await pool.fetchval(
        'SELECT count(*) FROM orderflow_wallet_stats WHERE wallet_address COLLATE "C" < $1', cut
    )
    assert 0 < below < serial.wallets, (cut, below, serial.wallets)
    after = await _stored(pool)
    for k in before:
        assert after[k] == before[k], k  # nothing rewritten, no history row added

    # and back: the serial run after the split one finds nothing to change either
    await run_reputation(pool, settings=SERIAL, full=True)
    assert await _stored(pool) == before


async def test_any_cut_stores_the_same_rows(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cut only balances the work: before every wallet (the side scores them all), after
    every one (the run's connection does), or anywhere between, the same rows."""
    from orderflow.reputation import wallet_split

    await _world(pool, 9)
    await run_reputation(pool, settings=SERIAL, full=True)
    before = await _stored(pool)
    for cut in ("0", "0x8", "z"):

        async def fixed(_: asyncpg.Connection, cut: str = cut) -> str:
            return cut

        monkeypatch.setattr(wallet_split, "pivot", fixed)
        summary = await run_reputation(pool, settings=ReputationSettings(), full=True)
        assert "wallets_side" in summary.stages, (cut, summary.stages)
        assert await _stored(pool) == before, cut
