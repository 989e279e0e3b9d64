"""The figures computed when read (migration 022) against numpy's.

* ``orderflow_erf`` (fdlibm's algorithm) against ``math.erf`` over a dense grid, the intervals'
  edges and both tails; the normal CDF built on it against numpy's;
* the readers (the executor's ``wallet_views``, ``orderflow wallet``'s ``WALLET_STATS``, the
  demo's flagged wallets) against ``compute_scores`` (numpy) after a run whose prior moved: edge,
  edge_se and edge_raw to the bit, the probabilities within :data:`ULP_TOLERANCE`;
* a row written by hand (no own figures) reads as written, with or without a population row.
"""

from __future__ import annotations

import math

import asyncpg
import numpy as np

from orderflow.demo.store import flagged_wallets
from orderflow.reputation import compute_scores, run_reputation, scores_sql
from orderflow.reputation.prior import norm_cdf
from orderflow.reputation.wallet_sql import WALLET_STATS
from orderflow.signals.queries import wallet_views
from tests.reputation.population import (
    Spec,
    World,
    edge_taker,
    noise_taker,
    skilled_taker,
    wash_pair,
)
from tests.reputation.read_figures import ULP_TOLERANCE


def _grid() -> list[float]:
    dense = np.linspace(-8.0, 8.0, 160_001)  # step 1e-4: every interval, densely
    tails = np.concatenate([np.geomspace(8.0, 40.0, 2_000), -np.geomspace(8.0, 40.0, 2_000)])
    tiny = np.concatenate([np.geomspace(1e-300, 1e-3, 1_000), -np.geomspace(1e-300, 1e-3, 1_000)])
    edges = []
    for e in (2.0**-28, 0.84375, 1.25, 2.0, 2.8571434020996094, 4.0, 6.0):
        for x in (e, np.nextafter(e, 0), np.nextafter(e, 100)):
            edges += [x, -x]
    return [float(x) for x in np.concatenate([dense, tails, tiny, edges, [0.0, -0.0]])]


async def test_erf_is_libm_erf(pool: asyncpg.Pool) -> None:
    xs = _grid()
    got = await pool.fetchval("SELECT array_agg(orderflow_erf(x)) FROM unnest($1::float8[]) x", xs)
    # fdlibm's algorithm in glibc's evaluation order: equal to the bit on glibc up to 2.40
    # (measured on 2.36: every point), within one ulp of a correctly rounded erf (2.41 on)
    for x, y in zip(xs, got, strict=True):
        want = math.erf(x)
        assert abs(y - want) <= math.ulp(want), (x, y, want)
    assert await pool.fetchval("SELECT orderflow_erf(NULL)") is None

    # the normal CDF as numpy writes it, 0.5 (1 + erf(z / sqrt 2)): within two ulp of 1.0
    zs = [x * math.sqrt(2.0) for x in xs if abs(x) < 30]
    cdf = await pool.fetchval(
        "SELECT array_agg(0.5 * (1.0 + orderflow_erf(z / sqrt(2.0::float8))))"
        " FROM unnest($1::float8[]) z",
        zs,
    )
    want_cdf = norm_cdf(np.asarray(zs))
    assert float(np.max(np.abs(np.asarray(cdf) - want_cdf))) <= ULP_TOLERANCE


def _world() -> tuple[World, list[Spec]]:
    w = World(seed=53, markets=36, neg_risk_events=2, favourites=4, makers=3)
    specs = list(w.specs)
    early, late = specs[: len(specs) // 2], specs[len(specs) // 2 :]
    w.specs = early
    for i in range(16):
        who = w.new_wallet()
        if i % 2:
            skilled_taker(w, who, 10, 0.2 + 0.05 * i, usd=120.0)
        else:
            noise_taker(w, who, 10, usd=120.0)
    wash_pair(w, w.new_wallet(), w.new_wallet(), 6)
    w.specs = late
    for _ in range(10):
        edge_taker(w, w.new_wallet(), 12, 0.12, usd=300.0)
    w.specs = specs
    return w, list(late)


async def test_readers_give_numpys_figures(pool: asyncpg.Pool) -> None:
    w, late = _world()
    late_ids = {id(spec) for spec in late}
    for spec in w.specs:
        if id(spec) not in late_ids:
            w.chain.resolve(spec.market, spec.resolves, spec.winner)
    await w.chain.ingest(pool)
    await run_reputation(pool)
    for spec in late:  # the prior moves; most rows are not rewritten
        w.chain.resolve(spec.market, spec.resolves, spec.winner)
    await w.chain.ingest(pool)
    second = await run_reputation(pool)
    assert second.incremental

    numpy = await compute_scores(pool)
    views = await wallet_views(pool, numpy)
    assert views.keys() == numpy.keys()
    async with pool.acquire() as conn:
        rows = {a: await conn.fetchrow(WALLET_STATS, a) for a in numpy}
    measured = 0
    for a, s in numpy.items():
        v, r = views[a], rows[a]
        assert r is not None
        assert (v.score, v.tier, v.flags) == (float(s.score), s.tier, s.flags)
        # the same float8 operations in the same order: equal to the bit
        assert r["edge"] == s.edge and r["edge_se"] == s.edge_se and r["edge_raw"] == s.edge_raw
        if s.resolved_buys:
            measured += 1
            assert (v.edge, v.edge_se) == (s.edge, s.edge_se)
        for p_read in (v.p_edge_above_cost, r["p_edge_above_cost"]):
            assert p_read is not None and s.p_edge_above_cost is not None
            assert abs(p_read - s.p_edge_above_cost) <= ULP_TOLERANCE
        for p_read in (v.p_edge_below_zero, r["p_edge_below_zero"]):
            assert p_read is not None and s.p_edge_below_zero is not None
            assert abs(p_read - s.p_edge_below_zero) <= ULP_TOLERANCE
    assert measured > len(numpy) // 2
    flagged = await flagged_wallets(pool)
    assert flagged
    for f in flagged:
        assert f.edge == numpy[f.address].edge and f.edge_se == numpy[f.address].edge_se
    # the stored row keeps only the wallet's own figures: the posterior is not stored
    assert not await pool.fetchval(
        "SELECT count(*) FROM orderflow_wallet_stats"
        " WHERE edge IS NOT NULL OR p_edge_above_cost IS NOT NULL OR factor_figures[12] IS NOT NULL"
    )


_ROW = """
INSERT INTO orderflow_wallet_stats (wallet_address, reputation_score, trader_tier, edge, edge_se,
    edge_raw, flags, p_edge_above_cost, p_edge_below_zero, events_resolved)
VALUES ($1, 7.25, 'SMART', 0.05, 0.01, 0.07, '{}', 0.93, 0.002, 25)
"""


async def test_a_row_without_own_figures_reads_as_written(pool: asyncpg.Pool) -> None:
    address = "0x" + "ab" * 20
    await pool.execute(_ROW, address)
    for population in (False, True):
        if population:  # a run's population does not touch a row without own figures
            await pool.execute(
                "INSERT INTO orderflow_reputation_population VALUES"
                " (TRUE, -0.01, 0.03, 0.001, 0.02, 0.01, 2.0, now(), now())"
            )
        view = (await wallet_views(pool, [address]))[address]
        assert (view.edge, view.edge_se, view.p_edge_above_cost, view.p_edge_below_zero) == (
            0.05,
            0.01,
            0.93,
            0.002,
        )
        assert (view.score, view.tier, view.resolved_buys) == (7.25, "SMART", 25)
        row = await pool.fetchrow(WALLET_STATS, address)
        assert row is not None
        assert (row["edge"], row["edge_raw"], row["edge_se"], row["factors"]) == (
            0.05,
            0.07,
            0.01,
            None,
        )


def test_the_positions_migration_022_reads_are_the_figures_it_means() -> None:
    """``orderflow_posterior_figures`` reads and writes FIGURES by position (1-based)."""
    at = {name: i for i, (name, _) in enumerate(scores_sql.FIGURES, 1)}
    assert sorted(at[n] for n in scores_sql.POPULATION_FIGURES) == [*range(6, 18), 23]
    assert (at["follower_cost"], at["prior_mean"], at["prior_sd"]) == (6, 7, 8)
    assert (at["prior_mean_se"], at["close_miss_sd"], at["raw_score"]) == (9, 10, 11)
    assert (at["edge"], at["edge_se"], at["p_above_cost"], at["p_below_zero"]) == (12, 13, 14, 15)
    assert (at["edge_raw"], at["edge_raw_se"], at["f_vol"]) == (16, 17, 23)
    assert (at["outcome_edge"], at["outcome_se"], at["clv_edge"], at["clv_se"]) == (18, 19, 20, 21)
    assert (at["f_win"], at["f_pf"], at["f_cons"], at["f_timing"]) == (34, 38, 43, 47)
    assert (at["resid_se"], at["volume_evidence"]) == (48, 49)
    assert at["hedged_share"] == 50  # migration 060
    assert (at["wash_round_trip"], len(scores_sql.FIGURES)) == (51, 51)  # migration 082
    weights = [n for n, _ in scores_sql.FIGURES[:5]]
    assert weights == ["w_win_rate", "w_profit_factor", "w_consistency", "w_volume", "w_timing"]
