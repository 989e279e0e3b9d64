"""An incremental run rewrites the factors JSON of wallets it does not rescore exactly as a full
run would: the part the population moves (score, tier, posterior, prior, volume factor) follows
the population, the rest stays (since migration 020 the run stores the JSON's figures).

The world is split in two: wallets that trade only in markets resolved before the first run
(never rescored afterwards) and wallets that trade only in markets resolved later. The late
resolutions move the population prior, so every early wallet's posterior moves although none
of its inputs does; the stored rows must then equal a full recompute's, JSON included.
"""

from __future__ import annotations

import asyncpg

from orderflow.reputation import run_reputation
from tests.reputation.population import World, edge_taker, noise_taker, skilled_taker
from tests.reputation.test_incremental_run import close, persisted


async def test_unrescored_wallets_get_the_moved_posterior_in_their_json(
    pool: asyncpg.Pool,
) -> None:
    w = World(seed=47, markets=36, neg_risk_events=0, makers=3)
    specs = list(w.specs)
    early, late = specs[: len(specs) // 2], specs[len(specs) // 2 :]
    w.specs = early
    early_wallets = [w.new_wallet() for _ in range(14)]
    for i, who in enumerate(early_wallets):
        if i % 2:
            skilled_taker(w, who, 10, 0.3 + 0.05 * i, usd=120.0)
        else:
            noise_taker(w, who, 10, usd=120.0)
    w.specs = late
    for _ in range(10):
        edge_taker(w, w.new_wallet(), 12, 0.12, usd=300.0)
    w.specs = specs
    for s in early:
        w.chain.resolve(s.market, s.resolves, s.winner)
    await w.chain.ingest(pool)

    first = await run_reputation(pool)
    assert not first.incremental
    before = {r["wallet_address"]: r for r in await persisted(pool)}

    for s in late:
        w.chain.resolve(s.market, s.resolves, s.winner)
    await w.chain.ingest(pool)
    second = await run_reputation(pool)
    assert second.incremental and 0 < second.rescored < second.wallets
    after = {r["wallet_address"]: r for r in await persisted(pool)}
    # the premise: the early wallets' inputs did not change, their posteriors did
    moved = [
        a
        for a in early_wallets
        if after[a]["events_resolved"] == before[a]["events_resolved"]
        and after[a]["edge"] != before[a]["edge"]
    ]
    assert len(moved) >= len(early_wallets) // 2
    assert all(after[a]["factors"] != before[a]["factors"] for a in moved)

    incremental = await persisted(pool)
    third = await run_reputation(pool, full=True)
    assert not third.incremental and third.history_rows == 0
    close(await persisted(pool), incremental)
