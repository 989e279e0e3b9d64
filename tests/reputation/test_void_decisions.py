"""Taker fills that are no decision about the outcome do not feed the edge.

A taker fill stamped at or after its market's resolution was taken with the outcome known:
buying the winner at 0.60 from stale orders once the market has resolved is a riskless
redemption, not a forecast, and judged against the payout it read as an edge of +0.67 a dollar
(WHALE, score 9.61, before this test).
"""

from __future__ import annotations

import asyncpg

from orderflow.reputation import compute_scores, run_reputation
from orderflow.reputation.per_wallet import wallet_report
from tests.reputation.population import World, noise_taker
from tests.reputation.test_cases import TOP, stats
from tests.reputation.test_incremental_run import close, persisted
from tests.reputation.test_incremental_sums import same_scores, scan_scores


async def _full_equals_incremental(pool: asyncpg.Pool) -> None:
    incremental = await persisted(pool)
    scores = await compute_scores(pool)
    assert not (await run_reputation(pool, full=True)).incremental
    close(await persisted(pool), incremental)
    same_scores(await compute_scores(pool), scores)
    same_scores(await scan_scores(pool), scores)


async def test_fills_after_the_resolution_are_no_decisions(pool: asyncpg.Pool) -> None:
    w = World(seed=21)
    for _ in range(15):
        noise_taker(w, w.new_wallet(), 30)
    honest = w.new_wallet()
    noise_taker(w, honest, 25)
    await w.finish(pool)
    assert not (await run_reputation(pool)).incremental
    before = await stats(pool, honest)

    # after every market has resolved: the winner bought at 0.60 from stale orders, by a new
    # wallet and by one with decisions of its own in those markets
    chosen = w.rng.sample(w.specs, 25)
    late = w.new_wallet()
    for s in chosen:
        w.take(s, s.resolves + 600, late, s.winner, 300.0, price=0.60)
        w.take(s, s.resolves + 900, honest, s.winner, 300.0, price=0.60)
    await w.chain.ingest(pool)
    assert (await run_reputation(pool)).incremental

    s = await stats(pool, late)
    assert s["trader_tier"] not in TOP, (s["trader_tier"], str(s["factors"]["posterior"]))
    assert s["events_resolved"] == 0 and s["trader_tier"] == "NOVICE"
    assert s["wins"] >= 15 and s["losses"] == 0  # its P&L still counts the redemptions
    h = await stats(pool, honest)
    assert h["events_resolved"] == before["events_resolved"]
    assert (
        h["factors"]["posterior"]["outcome_edge"] == before["factors"]["posterior"]["outcome_edge"]
    )
    # the per-wallet replay (`orderflow wallet`) leaves them out as well
    for who, row in ((late, s), (honest, h)):
        async with pool.acquire() as conn:
            report = await wallet_report(conn, who, stats=row)
        assert report.inputs.events[0] == row["events_resolved"]
        value = await pool.fetchval(
            "SELECT value FROM orderflow_reputation_inputs WHERE wallet_address = $1", who
        )
        assert abs(report.inputs.value[0] - value) < 1e-6
    await _full_equals_incremental(pool)
