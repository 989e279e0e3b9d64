"""A neg-risk leg prepared after the as-of time is not known then: HEDGED as of T counts the
event's legs prepared by T (``orderflow.reputation.gate.gated_conditions``), in the set-based run
and in the per-wallet replay (``orderflow wallet --as-of``). A backtest asks for scores as of
each step: a leg added to the event later must not change a wallet's flag before it exists."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from orderflow.reputation import compute_scores
from orderflow.reputation.per_wallet import wallet_report
from tests.reputation.chainbook import at_time
from tests.reputation.population import World, noise_taker


def _world(extra_leg: bool) -> tuple[World, str, float]:
    w = World(seed=5, markets=6, neg_risk_events=1)
    for _ in range(6):
        noise_taker(w, w.new_wallet(), 6)
    legs = [s for s in w.specs if s.market.neg_risk]
    arb = w.new_wallet()  # YES on every leg at once: a complete set of the event as it stands
    t0 = max(s.opens for s in legs) + 100
    for s in legs:
        w.take(s, t0, arb, 0, 100.0)
    if extra_leg:  # a fifth leg, prepared long after the buys (never traded)
        event = int(legs[0].market.question_id[2:64], 16) - 0xE0000000
        w.chain.market(t0 + 5000, event=event, leg=len(legs))
    return w, arb, t0


async def _hedged(pool: asyncpg.Pool, arb: str, as_of: datetime) -> tuple[float, float]:
    scores = await compute_scores(pool, as_of=as_of)
    share = scores[arb].factors["behaviour"]["hedged_share"]
    async with pool.acquire() as conn:
        report = await wallet_report(conn, arb, as_of=as_of)
    return float(share or 0.0), float(report.inputs.hedged_volume[0])


async def test_a_leg_prepared_after_as_of_does_not_unhedge_a_set_before_it(
    pool: asyncpg.Pool,
) -> None:
    w, arb, t0 = _world(extra_leg=True)
    await w.finish(pool)
    as_of = datetime.fromtimestamp(at_time(t0 + 1000), UTC)  # after the buys, before the leg
    share, replayed = await _hedged(pool, arb, as_of)
    assert share > 0.5 and replayed > 0, (share, replayed)
    # once the leg exists, the four legs are no longer the whole event
    later = datetime.fromtimestamp(at_time(t0 + 6000), UTC)
    assert await _hedged(pool, arb, later) == (0.0, 0.0)


async def test_without_the_later_leg_the_same(pool: asyncpg.Pool) -> None:
    """The same world without the later leg: the same figure as of before it, and after it."""
    w, arb, t0 = _world(extra_leg=False)
    await w.finish(pool)
    as_of = datetime.fromtimestamp(at_time(t0 + 1000), UTC)
    share, replayed = await _hedged(pool, arb, as_of)
    assert share > 0.5 and replayed > 0, (share, replayed)
    later = datetime.fromtimestamp(at_time(t0 + 6000), UTC)
    assert await _hedged(pool, arb, later) == (share, replayed)
