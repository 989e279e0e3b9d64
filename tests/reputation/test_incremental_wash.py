"""An incremental run gives what a full recompute gives when the changes touch wash evidence.

Wash populations (a showcase buying off the market from three partners, one of them making
markets elsewhere; a round-trip ring; genuine takers) -> a full run -> new fills inside a wash
pair, a new off-market fill by a genuine wallet, new fills of a host's counterparty with others,
then a reorg of the newest blocks -> an incremental run; then a full run on the same data: the
same stored counterparty evidence (``orderflow_reputation_wash``) and the same statistics.
"""

from __future__ import annotations

import asyncpg

from orderflow.chain.rollback import rollback_from
from orderflow.reputation import run_reputation
from tests.reputation.population import World, news_taker, round_trip_ring, wash_ring
from tests.reputation.test_cases import background
from tests.reputation.test_incremental_run import close, persisted
from tests.reputation.test_wash_counterparty import make_markets

_WASH = "SELECT * FROM orderflow_reputation_wash"


async def stored_wash_differs(pool: asyncpg.Pool, before: list[asyncpg.Record]) -> int:
    """Rows of the stored evidence not in ``before`` or the other way round."""
    now = await pool.fetch(_WASH)
    key = [tuple(r) for r in now]
    old = [tuple(r) for r in before]
    return sum(1 for r in key if r not in old) + sum(1 for r in old if r not in key)


async def test_incremental_equals_full_on_wash_changes(pool: asyncpg.Pool) -> None:
    w = World(seed=51, markets=30, neg_risk_events=2)
    noise = background(w, wallets=10, events=20)
    showcase, partners = w.new_wallet(), [w.new_wallet() for _ in range(3)]
    wash_ring(w, showcase, partners, 14)
    make_markets(w, partners[0], noise, 60, 300.0)
    ring = [w.new_wallet() for _ in range(3)]
    round_trip_ring(w, ring, 10)
    genuine = w.new_wallet()
    news_taker(w, genuine, 6)
    await w.finish(pool)

    first = await run_reputation(pool)
    assert (first.source, first.incremental) == ("sums", False)
    before = await pool.fetch(_WASH)
    assert any(r["host"] == showcase for r in before), "the showcase hosts its partners"
    assert any(r["off_fills"] and r["off_fills"] > 0 for r in before)

    # new fills inside a wash pair, at the ring's price against a market at 0.95
    for s in w.pick(3, binary_only=True):
        t = s.resolves - 0.04 * (s.resolves - s.opens)
        w.take(s, t - 400, w.new_wallet(), s.winner, 50.0, price=0.95)
        w.take(s, t, showcase, s.winner, 400.0, price=0.50, maker=partners[1])
    # a genuine wallet's fill far off the market, and the market-making partner trading more
    for s in w.pick(2, binary_only=True):
        t = s.opens + 0.5 * (s.resolves - s.opens)
        w.take(s, t - 300, w.new_wallet(), s.winner, 50.0, price=0.9)
        w.take(s, t, genuine, s.winner, 150.0, price=0.3, maker=noise[0])
    make_markets(w, partners[0], noise[:4], 10, 200.0)
    await w.chain.ingest(pool)
    top = await pool.fetchval("SELECT max(block_number) FROM orderflow_trades")
    async with pool.acquire() as conn:  # the newest blocks roll back
        assert (await rollback_from(conn, 137, top - 4)).trades > 0

    second = await run_reputation(pool)
    assert second.incremental and second.rescored > 0
    assert await stored_wash_differs(pool, before) > 0, "the changes moved wash evidence"
    after_incremental = await pool.fetch(_WASH)
    incremental = await persisted(pool)

    third = await run_reputation(pool, full=True)
    assert not third.incremental
    assert await stored_wash_differs(pool, after_incremental) == 0
    close(await persisted(pool), incremental)
