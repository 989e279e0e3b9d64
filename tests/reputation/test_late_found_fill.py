"""A fill the listener stored minutes late, in a block below fills stored before it (its trailing,
confirming read found it: docs/listener.md "The trailing, confirming read"), is scored by the
next incremental run as a full recompute scores it.

Control (right on main): the incremental run takes what changed since the last run by key, not
by block or time, so a late print in an old block is one more changed key.
"""

from __future__ import annotations

import asyncpg
import pytest

from orderflow.reputation import compute_scores, run_reputation
from tests.reputation.population import World, skilled_taker
from tests.reputation.test_incremental_run import close, persisted
from tests.reputation.test_incremental_sums import assert_sums_match, same_scores, scan_scores


@pytest.mark.parametrize("seed", [46, 47])
async def test_a_fill_found_late_below_stored_blocks_is_scored_incrementally(
    pool: asyncpg.Pool, seed: int
) -> None:
    w = World(seed=seed, markets=16, neg_risk_events=1, favourites=2, makers=2)
    for _ in range(10):
        skilled_taker(w, w.new_wallet(), 6, 0.6, usd=150.0)
    for s in w.specs[: len(w.specs) // 2]:
        w.chain.resolve(s.market, s.resolves, s.winner)
    # one trade's transaction (its fills and match), from the middle of the history, held back
    txs = sorted({(t, g["transactionHash"]) for t, g in w.chain.logs if len(g["topics"]) == 4})
    late_tx = txs[len(txs) // 2][1]
    late = [(t, g) for t, g in w.chain.logs if g["transactionHash"] == late_tx]
    w.chain.logs = [(t, g) for t, g in w.chain.logs if g["transactionHash"] != late_tx]
    await w.chain.ingest(pool)
    assert not (await run_reputation(pool)).incremental
    below = await pool.fetchval("SELECT max(block_number) FROM orderflow_trades")

    w.chain.logs = late
    await w.chain.ingest(pool)
    block = await pool.fetchval(
        "SELECT block_number FROM orderflow_trades WHERE tx_hash = $1", late_tx
    )
    assert block < below  # a block below fills stored before it
    await assert_sums_match(pool)
    second = await run_reputation(pool)
    assert second.incremental and second.rescored > 0
    incremental = await persisted(pool)
    scores = await compute_scores(pool)

    assert not (await run_reputation(pool, full=True)).incremental
    close(await persisted(pool), incremental)
    same_scores(await compute_scores(pool), scores)
    same_scores(await scan_scores(pool), scores)
