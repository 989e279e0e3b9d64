"""An incremental run gives what a full recompute gives on the same data.

Data -> a full run -> new fills, a reorg (rollback_from) and resolutions -> an incremental run;
then the same final data scored by a full run (``full=True``) and by the trade scan: identical
scores, tiers, flags and persisted statistics.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from orderflow.chain.rollback import rollback_from
from orderflow.history.markets import MarketBatch, Resolution, store_markets
from orderflow.reputation import compute_scores, run_reputation
from tests.reputation.chainbook import Market, at_time
from tests.reputation.population import World, noise_taker, skilled_taker, wash_pair
from tests.reputation.test_incremental_sums import assert_sums_match, same_scores, scan_scores

# The rows as read: the posterior figures against the current population (migration 022).
_STATS = """
SELECT s.wallet_address, s.total_trades, s.total_volume_usdc, s.markets_traded,
       s.resolved_positions, s.wins, s.losses, s.gross_profit, s.gross_loss, s.realized_pnl,
       s.unrealized_pnl, s.first_trade_at, s.last_trade_at, s.reputation_score, s.trader_tier,
       s.flags, s.edge, s.edge_raw, s.edge_se, s.p_edge_above_cost, s.p_edge_below_zero,
       s.clv_edge, s.events_resolved, s.factor_figures, s.factor_volume_usdc,
       s.factor_counterparty, s.factor_wash_host, s.factors_stored, orderflow_factors(s) AS factors
  FROM orderflow_wallet_stats w CROSS JOIN LATERAL orderflow_wallet_read(w) AS s
 ORDER BY s.wallet_address
"""


_ISSUES = (
    "SELECT kind, token_id, market_id, wallets, trades, detail FROM orderflow_reputation_issues"
    " ORDER BY kind, token_id"
)


async def persisted(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    return [dict(r) for r in await pool.fetch(_STATS)]


def close(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> None:
    assert [r["wallet_address"] for r in a] == [r["wallet_address"] for r in b]
    for x, y in zip(a, b, strict=True):
        for k, v in x.items():
            if isinstance(v, float):
                assert abs(v - y[k]) <= 1e-9, (x["wallet_address"], k)
            else:
                assert v == y[k], (x["wallet_address"], k)


async def test_incremental_equals_full(pool: asyncpg.Pool) -> None:
    w = World(seed=31, markets=40, neg_risk_events=3, favourites=6, makers=3)
    takers = [w.new_wallet() for _ in range(30)]
    for who in takers:
        skilled_taker(w, who, int(w.rng.uniform(5, 20)), w.rng.random(), usd=150.0)
    wash_pair(w, w.new_wallet(), w.new_wallet(), 6)
    # resolve only the first half of the markets now, the rest later
    later = w.specs[len(w.specs) // 2 :]
    for s in w.specs[: len(w.specs) // 2]:
        w.chain.resolve(s.market, s.resolves, s.winner)
    await w.chain.ingest(pool)

    first = await run_reputation(pool)
    assert (first.source, first.incremental) == ("sums", False)
    nothing = await run_reputation(pool)  # no change: nobody rescored, nothing rewritten
    assert (nothing.incremental, nothing.rescored, nothing.history_rows) == (True, 0, 0)

    # new fills by old and new wallets, a reorg of the newest blocks, then the resolutions
    for who in takers[:8]:
        noise_taker(w, who, 3, usd=300.0)
    newcomer = w.new_wallet()
    skilled_taker(w, newcomer, 6, 0.8, usd=200.0)
    # a token no condition registers: a problem the incremental run must report
    ghost = Market("0x" + "ee" * 32, "0x" + "ef" * 32, takers[1], False, (7_777_001, 7_777_002))
    w.chain.trade(ghost, later[0].opens + 60, newcomer, "BUY", 0, 10.0, 0.5, takers[2])
    await w.chain.ingest(pool)
    top = await pool.fetchval("SELECT max(block_number) FROM orderflow_trades")
    async with pool.acquire() as conn:
        assert (await rollback_from(conn, 137, top - 50)).trades > 0
    for s in later:
        w.chain.resolve(s.market, s.resolves, s.winner)
    await w.chain.ingest(pool)
    await assert_sums_match(pool)
    emptied = "SELECT count(*) FROM orderflow_position_sums WHERE fills = 0"
    assert await pool.fetchval(emptied) > 0  # keys the reorg took every fill of

    second = await run_reputation(pool)
    assert second.incremental and second.rescored > 0
    assert await pool.fetchval(emptied) == 0  # seen by the run: dropped
    incremental = await persisted(pool)
    inc_scores = await compute_scores(pool)
    inc_issues = await pool.fetch(_ISSUES)
    assert [r["kind"] for r in inc_issues] == ["UNKNOWN_TOKEN"]

    third = await run_reputation(pool, full=True)
    assert not third.incremental and third.history_rows == 0  # nothing left to change
    close(await persisted(pool), incremental)
    assert await pool.fetch(_ISSUES) == inc_issues  # the problems found, not when
    same_scores(await compute_scores(pool), inc_scores)
    same_scores(await scan_scores(pool), inc_scores)


async def test_as_of_run_leaves_the_next_run_incremental(pool: asyncpg.Pool) -> None:
    """An ``--as-of`` run leaves the stored inputs alone (``test_as_of_run.py``)."""
    w = World(seed=32, markets=12, neg_risk_events=1, favourites=2, makers=2)
    for _ in range(8):
        skilled_taker(w, w.new_wallet(), 5, 0.5)
    await w.finish(pool)
    assert not (await run_reputation(pool)).incremental
    assert (await run_reputation(pool)).incremental
    past = await pool.fetchval("SELECT max(timestamp) FROM orderflow_trades")
    assert (await run_reputation(pool, as_of=past)).source == "trades"
    assert (await run_reputation(pool)).incremental


async def test_a_full_run_drops_the_keys_a_reorg_emptied(pool: asyncpg.Pool) -> None:
    """Keys whose fills a reorg took are found among the changed keys (the delete trigger logs
    them) and dropped by a full run, as by an incremental one; the other keys stay."""
    w = World(seed=33, markets=12, neg_risk_events=1, favourites=2, makers=2)
    for _ in range(10):
        skilled_taker(w, w.new_wallet(), 6, 0.5)
    await w.finish(pool)
    await run_reputation(pool, full=True)  # every change taken
    assert await pool.fetchval("SELECT count(*) FROM orderflow_position_sums_changes") == 0
    keys = "SELECT count(*) FROM orderflow_position_sums"
    emptied = f"{keys} WHERE fills = 0"
    middle = await pool.fetchval(
        "SELECT percentile_disc(0.7) WITHIN GROUP (ORDER BY block_number) FROM orderflow_trades"
    )
    async with pool.acquire() as conn:
        assert (await rollback_from(conn, 137, middle)).trades > 0
    empty, before = await pool.fetchval(emptied), await pool.fetchval(keys)
    assert empty > 0
    unlogged = """SELECT count(*) FROM orderflow_position_sums s WHERE fills = 0
                   AND NOT EXISTS (SELECT 1 FROM orderflow_position_sums_changes c
                                    WHERE (c.wallet_address, c.token_id)
                                          = (s.wallet_address, s.token_id))"""
    assert await pool.fetchval(unlogged) == 0

    await run_reputation(pool, full=True)
    assert await pool.fetchval(emptied) == 0
    assert await pool.fetchval(keys) == before - empty
    await assert_sums_match(pool)


async def test_a_reorg_of_the_chains_resolution_gives_gammas_back(pool: asyncpg.Pool) -> None:
    """Gamma resolved the binary markets (an import of /markets rows); the chain's resolutions
    replaced Gamma's (here the opposite winner, to be seen); a reorg orphaned them. The markets
    are Gamma's again, and the incremental run after it scores what a full run scores — and what
    the first run scored on Gamma's resolutions."""
    w = World(seed=34, markets=12, neg_risk_events=1, favourites=2, makers=2)
    for _ in range(10):
        skilled_taker(w, w.new_wallet(), 6, 0.5)
    await w.chain.ingest(pool)
    binary = [s for s in w.specs if not s.market.neg_risk]
    gamma = [
        Resolution(
            s.market.condition_id,
            s.market.oracle,
            s.market.question_id,
            (1, 0) if s.winner == 1 else (0, 1),  # Gamma says the other outcome won
            at_time(s.resolves),
        )
        for s in binary
    ]
    async with pool.acquire() as conn:
        stored = await store_markets(conn, 137, MarketBatch(resolutions=gamma))
        assert stored.resolutions == len(gamma)
    await run_reputation(pool, full=True)
    on_gamma = await persisted(pool)

    last = max(s.resolves for s in w.specs) + 3600  # after every trade: the reorg takes no fill
    for s in binary:
        w.chain.resolve(s.market, last, s.winner)
    await w.chain.ingest(pool)
    sources = "SELECT DISTINCT source FROM orderflow_market_outcomes"
    assert [r[0] for r in await pool.fetch(sources)] == ["chain"]
    assert (await run_reputation(pool)).incremental
    assert await persisted(pool) != on_gamma

    async with pool.acquire() as conn:
        stats = await rollback_from(conn, 137, 1_000_000 + int(last) // 2)
    assert (stats.trades, stats.outcomes) == (0, len(binary))
    assert [r[0] for r in await pool.fetch(sources)] == ["gamma"]
    after = await run_reputation(pool)
    assert after.incremental and after.rescored > 0
    incremental = await persisted(pool)
    close(incremental, on_gamma)
    inc_scores = await compute_scores(pool)
    assert not (await run_reputation(pool, full=True)).incremental
    close(await persisted(pool), incremental)
    same_scores(await compute_scores(pool), inc_scores)
