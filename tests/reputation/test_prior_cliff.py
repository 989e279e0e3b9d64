"""Until session 40 the prior's skill tail was kept whole above a log-likelihood gain of 5 and
dropped below: a change in one wallet's record that moved the gain across 5 moved the skilled
wallets' P(edge > cost) between the bulk's (every posterior shrunk to mu, 0.14-0.18 at a gain of
4.88) and the tail's (0.79-0.92 at 5.11), whatever their own records said. The tail is now
weighed by a logistic step in the gain (orderflow.reputation.prior.skill_tail: its share times
the weight, the bulk the maximum likelihood beside it): the four move a little, as the gain."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from orderflow.reputation.prior import Prior, population_prior, posterior, shifted_tail, skill_tail
from orderflow.reputation.tiers import bayes_fdr

FLOOR, COST = 0.005, 0.002  # the settings' prior_sd_floor and follower_cost
SKILLED = 4
MOVED = 91  # a crowd wallet whose record moves in the second population


def population(moved: bool) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """400 takers at N(-0.05, 0.005^2), measured with standard errors 0.03-0.12, and four
    wallets at +0.107 to +0.127 +- 0.05 (each clearly above cost on its own record); ``moved``:
    crowd wallet :data:`MOVED`'s measured edge one standard error higher (+0.030 -> +0.076)."""
    rng = np.random.default_rng(1)
    se = rng.uniform(0.03, 0.12, 400)
    m = rng.normal(-0.05, 0.005, 400) + rng.normal(0.0, 1.0, 400) * se
    if moved:
        m[MOVED] += se[MOVED]
    m = np.concatenate([m, 0.117 + np.linspace(-0.01, 0.01, SKILLED)])
    se = np.concatenate([se, np.full(SKILLED, 0.05)])
    return m, se


def bulk_of(m: npt.NDArray[np.float64], se: npt.NDArray[np.float64]) -> Prior:
    mu, tau, mu_se = population_prior(m, se, np.ones(m.size, dtype=bool), FLOOR)
    return Prior(mu, tau, mu_se, FLOOR)


def test_one_wallets_record_does_not_flip_the_skilled_between_bulk_and_tail() -> None:
    runs = []
    for moved in (False, True):
        m, se = population(moved)
        use = np.ones(m.size, dtype=bool)
        bulk = bulk_of(m, se)
        found = shifted_tail(m, se, use, bulk, FLOOR)
        assert found is not None
        p = posterior(m, se, skill_tail(m, se, use, bulk, FLOOR), COST).p_above
        alone = posterior(m, se, bulk, COST).p_above
        top = bayes_fdr(p, use, 0.05) & (p >= 0.90)
        runs.append((found[1], p, alone, top))
    (gain_a, p_a, alone_a, top_a), (gain_b, p_b, _, top_b) = runs
    # the populations straddle the gain of 5 (the threshold until session 40)
    assert gain_a < 4.9 and gain_b > 5.05, (gain_a, gain_b)
    m, se = population(False)
    z = (m[-SKILLED:] - COST) / se[-SKILLED:]
    assert min(0.5 * (1.0 + math.erf(float(x) / math.sqrt(2.0))) for x in z) > 0.98  # own record
    # below a gain of 5 the tail should still count: not every posterior shrunk to the bulk's
    assert np.all(p_a[-SKILLED:] > alone_a[-SKILLED:] + 0.05), (p_a[-SKILLED:], alone_a[-SKILLED:])
    # one crowd wallet's record moved by one standard error (the gain by 0.24): the skilled
    # should move a little (on the threshold they moved from the bulk's 0.14-0.18 to the
    # tail's 0.79-0.92)
    assert np.max(np.abs(p_b[-SKILLED:] - p_a[-SKILLED:])) < 0.1, (p_a[-SKILLED:], p_b[-SKILLED:])
    assert np.array_equal(top_a, top_b)
