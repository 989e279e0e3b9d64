"""The per-(wallet, token) sums of migration 011 against a fresh aggregation of the trades.

Fills arrive through the listener's store (``ingest_logs``), leave through ``rollback_from`` (a
reorg) and change through the refund / market back-fill updates; after each step the stored sums
must equal ``GROUP BY`` over what ``orderflow_trades`` holds, and a live run that reads them must
score exactly like one that scans the trades.
"""

from __future__ import annotations

import asyncpg

from orderflow.chain.rollback import rollback_from
from orderflow.reputation import compute_scores
from orderflow.reputation.run_models import WalletScore
from tests.reputation.population import (
    World,
    noise_taker,
    penny_picker,
    skilled_taker,
    wash_pair,
)

_FRESH = "SELECT * FROM ({}) s ORDER BY wallet_address, token_id"


async def assert_sums_match(pool: asyncpg.Pool, *, counters: bool = True) -> int:
    sql = await pool.fetchval("SELECT orderflow_position_sums_sql('orderflow_trades')")
    fresh = [dict(r) for r in await pool.fetch(_FRESH.format(sql))]
    stored = [
        dict(r)
        for r in await pool.fetch(
            "SELECT * FROM orderflow_position_sums WHERE fills > 0"
            " ORDER BY wallet_address, token_id"
        )
    ]
    assert stored == fresh
    if not counters:  # wallet_stats' counters follow inserts and rollbacks, not other updates
        return len(fresh)
    counted = await pool.fetch(
        "SELECT wallet_address, count(*) AS n, sum(usdc_size) AS v, min(timestamp) AS f,"
        " max(timestamp) AS l FROM orderflow_trades GROUP BY 1 ORDER BY 1"
    )
    kept = await pool.fetch(
        "SELECT wallet_address, total_trades AS n, total_volume_usdc AS v, first_trade_at AS f,"
        " last_trade_at AS l FROM orderflow_wallet_stats WHERE total_trades > 0 ORDER BY 1"
    )
    assert [tuple(r) for r in kept] == [tuple(r) for r in counted]
    return len(fresh)


def world(seed: int) -> World:
    w = World(seed=seed, markets=30, neg_risk_events=3, favourites=6, makers=3)
    for _ in range(25):
        skilled_taker(w, w.new_wallet(), int(w.rng.uniform(5, 25)), w.rng.random(), usd=150.0)
    noise_taker(w, w.new_wallet(), 30, usd=2_000.0)
    penny_picker(w, w.new_wallet(), 8)
    wash_pair(w, w.new_wallet(), w.new_wallet(), 6)
    return w


def same_scores(a: dict[str, WalletScore], b: dict[str, WalletScore]) -> None:
    assert a.keys() == b.keys()
    for who, x in a.items():
        y = b[who]
        assert (x.tier, x.score, x.flags, x.wins, x.losses) == (
            y.tier,
            y.score,
            y.flags,
            y.wins,
            y.losses,
        ), who
        assert abs(x.edge - y.edge) <= 1e-9, who
        assert x.factors == y.factors, who


async def scan_scores(pool: asyncpg.Pool) -> dict[str, WalletScore]:
    """The trade scan's scores at the present (as_of given: the sums are not used)."""
    now = await pool.fetchval("SELECT now()")
    return await compute_scores(pool, as_of=now)


async def test_sums_follow_store_reorg_and_updates(pool: asyncpg.Pool) -> None:
    w = world(7)
    await w.finish(pool)
    assert await assert_sums_match(pool) > 100
    same_scores(await compute_scores(pool), await scan_scores(pool))

    # A reorg: everything from a block in the middle of the history goes.
    blocks = await pool.fetchval(
        "SELECT percentile_disc(0.6) WITHIN GROUP (ORDER BY block_number) FROM orderflow_trades"
    )
    async with pool.acquire() as conn:
        stats = await rollback_from(conn, 137, blocks)
    assert stats.trades > 0
    await assert_sums_match(pool)
    gone = await pool.fetchval("SELECT count(*) FROM orderflow_position_sums WHERE fills = 0")
    assert gone > 0  # keys whose fills all went stay, at zero, for the next run to see
    same_scores(await compute_scores(pool), await scan_scores(pool))

    # Fee refunds and market ids learnt later (the store's UPDATEs).
    await pool.execute(
        "UPDATE orderflow_trades SET fee = fee / 2, fee_refunded = fee / 2"
        " WHERE fee > 0 AND id % 3 = 0"
    )
    await pool.execute(
        "UPDATE orderflow_trades SET market_id = NULL, outcome_index = NULL WHERE id % 5 = 0"
    )
    await assert_sums_match(pool)
    await pool.execute(
        "UPDATE orderflow_trades t SET market_id = k.condition_id, outcome_index = k.outcome_index"
        " FROM orderflow_tokens k WHERE t.token_id = k.token_id AND t.market_id IS NULL"
    )
    await assert_sums_match(pool)
    # an update that moves a fill in time (not done by the store; the min/max are recomputed)
    await pool.execute(
        "UPDATE orderflow_trades SET timestamp = timestamp - interval '1 day' WHERE id % 7 = 0"
    )
    await assert_sums_match(pool, counters=False)
    same_scores(await compute_scores(pool), await scan_scores(pool))


async def test_a_fill_after_the_clock_falls_back_to_the_scan(pool: asyncpg.Pool) -> None:
    w = world(8)
    await w.finish(pool)
    await pool.execute(
        "UPDATE orderflow_trades SET timestamp = now() + interval '1 hour' WHERE id % 11 = 0"
    )
    await assert_sums_match(pool, counters=False)
    # the live run must not see the future fills the sums hold
    same_scores(await compute_scores(pool), await scan_scores(pool))
