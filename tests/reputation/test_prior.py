"""The prior's skill tail (orderflow.reputation.prior): found where a few wallets have long
records of real edge, absent where nobody has any, a function of the population (not of the
wallets' order), and read back by PostgreSQL (migration 031) with numpy's figures."""

from __future__ import annotations

from dataclasses import fields, replace

import asyncpg
import numpy as np
import pytest

from orderflow.reputation import run_reputation
from orderflow.reputation.factors import score
from orderflow.reputation.prior import Prior, posterior, skill_tail
from orderflow.reputation.settings import ReputationSettings
from orderflow.reputation.wallet_inputs import WalletInputs
from tests.reputation.population import World, noise_taker, skilled_taker
from tests.reputation.read_figures import ULP_TOLERANCE
from tests.reputation.test_factors import bettor

TOP = ("WHALE", "SMART")
NOISE, SKILLED = 200, 6


def population(seed: int, *, skilled: int = SKILLED) -> WalletInputs:
    """200 takers paying the spread (48 % wins at 0.50) and ``skilled`` winning 65 %, each over
    300 even-money events: long records, few of them skilled -- the shape of real Polymarket."""
    rng = np.random.default_rng(seed)
    rows = [bettor(300, 0.5, int(rng.binomial(300, 0.48))) for _ in range(NOISE)]
    rows += [bettor(300, 0.5, int(rng.binomial(300, 0.65))) for _ in range(skilled)]
    return WalletInputs(
        **{f.name: np.concatenate([getattr(r, f.name) for r in rows]) for f in fields(WalletInputs)}
    )


@pytest.mark.parametrize("seed", [0, 2, 4])
def test_a_few_skilled_wallets_with_long_records_are_found(seed: int) -> None:
    i = population(seed)
    one_normal = score(i, ReputationSettings(prior_skill_tail=False))
    # one normal centred on the 200 shrinks the 6 onto them: none reaches SMART
    assert one_normal.prior.skill_share == 0.0
    assert not np.isin(one_normal.tier_names(), TOP).any()
    out = score(i, ReputationSettings())
    tiers = np.array(out.tier_names())
    assert 0.0 < out.prior.skill_share < 0.05 and out.prior.skill_mean > 0.2
    assert not np.isin(tiers[:NOISE], TOP).any()
    assert np.isin(tiers[NOISE:], TOP).sum() >= 4, (tiers[NOISE:], out.p_above_cost[NOISE:])


@pytest.mark.parametrize("seed", [1, 3])
def test_nobody_skilled_keeps_one_normal(seed: int) -> None:
    i = population(seed, skilled=0)
    out = score(i, ReputationSettings())
    bulk = score(i, ReputationSettings(prior_skill_tail=False))
    assert out.prior == bulk.prior and out.prior.skill_share == 0.0
    for name in ("edge", "edge_se", "p_above_cost", "p_below_zero", "score"):
        assert np.array_equal(getattr(out, name), getattr(bulk, name), equal_nan=True), name
    assert not np.isin(out.tier_names(), TOP).any()


def _with_long_shots(seed: int, skilled: int) -> WalletInputs:
    """1,000 takers at 0.50 paying the spread, 3,000 buyers of one to three long shots at 0.03
    (no edge: a few hit), and ``skilled`` takers winning 65 % of 300 even-money events."""
    rng = np.random.default_rng(seed)
    rows = [
        bettor(int(e), 0.5, int(rng.binomial(int(e), 0.485))) for e in rng.integers(20, 200, 1000)
    ]
    rows += [
        bettor(int(e), 0.03, int(rng.binomial(int(e), 0.029))) for e in rng.integers(1, 4, 3000)
    ]
    rows += [bettor(300, 0.5, int(rng.binomial(300, 0.65))) for _ in range(skilled)]
    return WalletInputs(
        **{f.name: np.concatenate([getattr(r, f.name) for r in rows]) for f in fields(WalletInputs)}
    )


@pytest.mark.parametrize("seed", [0, 2])
def test_lucky_long_shots_make_no_tail(seed: int) -> None:
    """A long shot hit over one to three events reads as a z of 5 under the normal null. Fitted,
    such wallets made a tail at +15 a dollar and gave them posteriors of +29: the tail is fitted
    only over wallets with five expected wins and five expected losses."""
    out = score(_with_long_shots(seed, 0), ReputationSettings())
    assert out.prior.skill_share == 0.0
    assert np.nanmax(out.edge) < 0.0
    assert not np.isin(out.tier_names(), TOP).any()
    with_skill = score(_with_long_shots(1, 6), ReputationSettings())
    tiers = np.array(with_skill.tier_names())
    assert 0 < with_skill.prior.skill_share < 0.02 and with_skill.prior.skill_mean < 0.5
    assert np.isin(tiers[4000:], TOP).sum() >= 4 and not np.isin(tiers[:4000], TOP).any()
    assert np.nanmax(with_skill.edge[1000:4000]) < 0.0


def test_the_tail_does_not_depend_on_the_wallets_order() -> None:
    i = population(0)
    scored = score(i, ReputationSettings())
    m, se = scored.edge_raw, scored.edge_raw_se
    bulk = Prior(-0.03, 0.005, 0.006, 0.005)
    use = np.ones(m.size, dtype=bool)
    reference = skill_tail(m, se, use, bulk, 0.005)
    assert reference.skill_share > 0
    rng = np.random.default_rng(7)
    for _ in range(3):
        order = rng.permutation(m.size)
        assert skill_tail(m[order], se[order], use[order], bulk, 0.005) == reference


def test_the_posterior_is_the_mixture_of_the_two_components() -> None:
    prior = Prior(-0.05, 0.02, 0.004, 0.01, 0.03, 0.25, 0.05, 0.02)
    m = np.array([-0.05, 0.0, 0.25, 0.6, np.nan])
    se = np.array([0.05, 0.05, 0.05, 0.05, np.nan])
    post = posterior(m, se, prior, 0.002)
    bulk = posterior(m, se, replace(prior, skill_share=0.0), 0.002)
    # an average record: the bulk's posterior; a record at the tail: lifted to it
    assert post.mean[0] == pytest.approx(bulk.mean[0], abs=1e-6)
    assert post.mean[3] > 0.3 and post.p_above[3] > 0.999
    assert bulk.mean[2] < 0.0 < 0.2 < post.mean[2]
    assert bulk.p_above[2] < 0.5 and post.p_above[2] > 0.99
    # nothing measured: the prior mixture's own mean
    assert post.mean[4] == pytest.approx(0.97 * -0.05 + 0.03 * 0.25)
    assert np.all(np.diff(post.mean[:4]) > 0)


async def test_three_skilled_among_eighty_are_found_through_the_import(pool: asyncpg.Pool) -> None:
    """The same through the listener's pipeline and a run: 80 noise takers and 3 skilled
    takers, 110 events each. With the tail the three are WHALE; one normal, fitted by its
    likelihood, is widened by them enough to take them into the top tiers too (its spread by
    the method of moments, before test_prior_bulk.py, left them AVERAGE). None of the 80 is in
    the top tiers either way."""
    w = World(seed=1, markets=150, makers=4)
    crowd, few = [], []
    for _ in range(80):
        crowd.append(w.new_wallet())
        noise_taker(w, crowd[-1], 110)
    for _ in range(3):
        few.append(w.new_wallet())
        skilled_taker(w, few[-1], 110, 0.9)
    await w.finish(pool)
    for tail in (False, True):
        summary = await run_reputation(
            pool, full=True, settings=ReputationSettings(prior_skill_tail=tail)
        )
        tiers = dict(
            await pool.fetch("SELECT wallet_address, trader_tier FROM orderflow_wallet_stats")
        )
        share = await pool.fetchval("SELECT skill_share FROM orderflow_reputation_population")
        assert not any(tiers[a] in TOP for a in crowd)
        assert summary.prior["skill_share"] == share  # the run says which prior it used
        if tail:
            assert 0 < share < 0.1 and all(tiers[a] == "WHALE" for a in few), tiers
        else:
            assert share == 0 and all(tiers[a] in TOP for a in few), tiers


_READ = """
SELECT f[12], f[13], f[14], f[15]
  FROM unnest($1::float8[], $2::float8[]) AS x(m, se)
 CROSS JOIN LATERAL (SELECT orderflow_posterior_figures(
     array_fill(NULL::float8, ARRAY[17]) || ARRAY[m, se, NULL, NULL]::float8[]
     || array_fill(0.0::float8, ARRAY[28]), p) AS f
       FROM orderflow_reputation_population p) y
"""


async def test_postgresql_reads_numpys_mixture(pool: asyncpg.Pool) -> None:
    """Migration 031's orderflow_posterior_figures against prior.posterior over a grid of
    measurements (outcome only: f[18], f[19]): mean and sd to the bit, probabilities within
    two ulp of 1.0."""
    prior = Prior(-0.07, 0.011, 0.0042, 0.02, 0.028, 0.31, 0.064, 0.019)
    await pool.execute(
        "INSERT INTO orderflow_reputation_population VALUES"
        " (TRUE, $1, $2, $3, $4, 0.002, 2.0, now(), now(), $5, $6, $7, $8)",
        prior.mean,
        prior.sd,
        prior.mean_se,
        prior.miss_sd,
        prior.skill_share,
        prior.skill_mean,
        prior.skill_sd,
        prior.skill_mean_se,
    )
    grid_m, grid_se = np.meshgrid(np.linspace(-1.5, 2.5, 161), np.geomspace(0.004, 3.0, 40))
    m, se = grid_m.ravel(), grid_se.ravel()
    want = posterior(m, se, prior, 0.002)
    rows = await pool.fetch(_READ, m.tolist(), se.tolist())
    got = np.array([tuple(r) for r in rows], dtype=np.float64)
    assert np.array_equal(got[:, 0], want.mean) and np.array_equal(got[:, 1], want.sd)
    assert np.max(np.abs(got[:, 2] - want.p_above)) <= ULP_TOLERANCE
    assert np.max(np.abs(got[:, 3] - want.p_below)) <= ULP_TOLERANCE
    # the tail decides somewhere on this grid: not the bulk alone
    bulk = posterior(m, se, replace(prior, skill_share=0.0), 0.002)
    assert np.max(np.abs(want.mean - bulk.mean)) > 0.1


def test_two_outliers_make_no_skill_tail() -> None:
    """150 takers around one edge and two wildly lucky measurements (z ~ 10: what heavy-tailed
    noise makes now and then): a second component of two wallets fits them and beats one
    normal by far, but two outliers are not a group of the skilled. A tail needs three wallets'
    share (with one, such tails were kept in 37 % of t(4)-noise draws of 155 wallets)."""
    rng = np.random.default_rng(11)
    se = rng.uniform(0.05, 0.3, 152)
    m = rng.normal(-0.07, 0.03, 152) + rng.normal(0.0, 1.0, 152) * se
    m[:2] = -0.07 + 10.0 * se[:2]
    use = np.ones(m.size, dtype=bool)
    bulk = Prior(-0.07, 0.03, 0.01, 0.005)
    assert skill_tail(m, se, use, bulk, 0.005).skill_share == 0.0
    m[2:6] = -0.07 + 10.0 * se[2:6]  # six such wallets are a group: the tail is kept
    assert skill_tail(m, se, use, bulk, 0.005).skill_share > 0.0
