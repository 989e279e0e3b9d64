"""A neg-risk leg's condition taken back by the chain (a retraction, a reorg's rollback) changes
what a complete set of its event is (``hedged_sql.HEDGED_CTES`` counts the event's legs in
``orderflow_conditions``): the incremental run rescores the holders of the other legs, as a full
run does (migration 064)."""

from __future__ import annotations

import asyncpg

from orderflow.chain.rollback import retract_block
from orderflow.reputation import compute_scores, run_reputation
from tests.reputation.population import World, noise_taker
from tests.reputation.test_incremental_run import close, persisted
from tests.reputation.test_incremental_sums import same_scores

_HEDGED = "SELECT hedged_volume FROM orderflow_reputation_inputs WHERE wallet_address = $1"


async def test_a_leg_taken_back_rescores_the_events_holders(pool: asyncpg.Pool) -> None:
    w = World(seed=5, markets=6, neg_risk_events=1)
    for _ in range(6):
        noise_taker(w, w.new_wallet(), 6)
    legs = [s for s in w.specs if s.market.neg_risk]
    # YES on every leg at once; a fifth leg, added later and never traded, makes it no set
    arb = w.new_wallet()
    t0 = max(s.opens for s in legs) + 100
    for s in legs:
        w.take(s, t0, arb, 0, 100.0)
    event = int(legs[0].market.question_id[2:64], 16) - 0xE0000000
    extra = w.chain.market(t0 + 5000, event=event, leg=len(legs))
    await w.finish(pool)
    assert not (await run_reputation(pool)).incremental
    assert await pool.fetchval(_HEDGED, arb) == 0

    # the node retracts the block of the fifth leg's preparation (and it is not stored again)
    block = await pool.fetchrow(
        "SELECT block_number, block_hash FROM orderflow_conditions WHERE condition_id = $1",
        extra.condition_id,
    )
    async with pool.acquire() as conn:
        assert (await retract_block(conn, 137, block[0], block[1])).conditions == 1
    run = await run_reputation(pool)
    assert run.incremental and run.rescored > 0
    assert await pool.fetchval(_HEDGED, arb) > 0  # its four legs are the whole event now
    incremental, scores = await persisted(pool), await compute_scores(pool)
    assert not (await run_reputation(pool, full=True)).incremental
    close(await persisted(pool), incremental)
    same_scores(await compute_scores(pool), scores)
