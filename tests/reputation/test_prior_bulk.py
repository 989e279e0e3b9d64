"""The prior's bulk (orderflow.reputation.prior.population_prior): the spread of true edges is
the maximum-likelihood one, which a crowd of one-bet long-shot buyers does not move.

Real Polymarket is mostly small wallets with a few bets each; a long shot's measured edge is a
binomial draw, not a normal one: a bet at 0.03 loses at z = -0.2 (z^2 = 0.03) 97 times in a
hundred and wins at z = +5.7 (z^2 = 32) three times. The method of moments weighted by 1/se^2
sums every wallet's z^2 - 1 with the same weight, so each loser took one unit off the spread's
numerator and each winner added thirty, whatever its standard error: a crowd of losers put tau
at its floor (every posterior pinned to the mean), a handful of winners widened it tenfold (the
noise of every long record believed). The likelihood weighs a wallet by what its measurement
says about tau: almost nothing for a standard error of 5.7.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from orderflow.reputation.factors import score
from orderflow.reputation.prior import population_prior
from orderflow.reputation.settings import ReputationSettings
from orderflow.reputation.wallet_inputs import WalletInputs
from tests.reputation.test_factors import bettor

FLOOR = 0.005


def _stack(rows: list[WalletInputs]) -> WalletInputs:
    return WalletInputs(
        **{f.name: np.concatenate([getattr(r, f.name) for r in rows]) for f in fields(WalletInputs)}
    )


def _long_shot(won: bool, price: float = 0.03) -> tuple[float, float]:
    """(measured edge, standard error) of one bet at ``price``."""
    return ((1 - price) / price if won else -1.0), float(np.sqrt((1 - price) / price))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_long_shot_losers_do_not_hide_the_spread(seed: int) -> None:
    """1,000 takers whose true edges spread by 0.04 around -0.05, each measured to 0.08, beside
    1,500 one-bet long-shot buyers who lost."""
    rng = np.random.default_rng(seed)
    m = rng.normal(-0.05, 0.04, 1000) + rng.normal(0.0, 0.08, 1000)
    se = np.full(1000, 0.08)
    shot_m, shot_se = _long_shot(False)
    m = np.concatenate([m, np.full(1500, shot_m)])
    se = np.concatenate([se, np.full(1500, shot_se)])
    mu, tau, _ = population_prior(m, se, np.ones(m.size, dtype=bool), FLOOR)
    alone = population_prior(m[:1000], se[:1000], np.ones(1000, dtype=bool), FLOOR)
    assert 0.025 < tau < 0.055, tau
    assert tau == pytest.approx(alone[1], rel=0.05) and mu == pytest.approx(alone[0], abs=0.002)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_lucky_long_shots_do_not_widen_the_spread(seed: int) -> None:
    """200 takers who all have the same edge (-0.05), measured over 300 even-money events, and
    30 one-bet long-shot buyers who hit: the spread stays near its floor, and no taker's noise
    reads as a likely edge above the follower's cost."""
    rng = np.random.default_rng(seed)
    rows = [bettor(300, 0.5, int(rng.binomial(300, 0.475))) for _ in range(200)]
    rows += [bettor(1, 0.03, 1) for _ in range(30)]
    out = score(_stack(rows), ReputationSettings())
    assert out.prior.sd < 0.02, out.prior
    assert np.nanmax(out.p_above_cost[:200]) < 0.5, np.sort(out.p_above_cost[:200])[-5:]


def test_the_bulk_is_the_likelihood_maximum() -> None:
    """No nearby (mu, tau) explains the measurements better: the profile of the normal
    likelihood around the estimate."""
    rng = np.random.default_rng(9)
    se = np.exp(rng.uniform(np.log(0.02), np.log(2.0), 5_000))
    m = rng.normal(-0.04, 0.03, 5_000) + rng.normal(0.0, 1.0, 5_000) * se
    mu, tau, _ = population_prior(m, se, np.ones(m.size, dtype=bool), FLOOR)

    def loglik(mean: float, sd: float) -> float:
        var = sd * sd + se * se
        return float(np.sum(-0.5 * (np.log(var) + (m - mean) ** 2 / var)))

    best = loglik(mu, tau)
    for d_mu, d_tau in ((1e-4, 0), (-1e-4, 0), (0, 1e-4), (0, -1e-4)):
        assert loglik(mu + d_mu, tau + d_tau) <= best
