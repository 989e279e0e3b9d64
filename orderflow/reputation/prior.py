"""The population prior of the fee-net edge, and each wallet's posterior under it.

The prior is what the population says about true edges (empirical Bayes, from every unflagged
wallet with a measured edge ``m`` and its standard error ``se``):

* **the bulk**, N(mu, tau^2): the maximum likelihood (:func:`population_prior`), mu capped at 0;
* **a skill tail**, N(mu_s, tau_s^2) with weight pi beside the bulk, when the data ask for it
  (:func:`skill_tail`). Most takers lose the spread and the fees and a few percent have real
  edge: one normal centred on the many shrinks those few onto the many however long their
  records (3 % of wallets at +0.10 a dollar with standard errors 0.03-0.10: none reaches
  P(edge > cost) >= 0.9 under one normal, docs/reputation.md). The two-component maximum
  likelihood (:mod:`orderflow.reputation.mixture`) is used only when its second component's
  mean lies above the bulk's by two standard errors (not a wider component around the same
  mean: that is heavy-tailed noise), and then in part: its share times the probability of the
  model with the tail given its log-likelihood gain over one normal (even at a gain of
  :data:`TAIL_MIN_GAIN`), the bulk the maximum likelihood beside that share; without a tail
  pi = 0 and the prior is the bulk alone.

The posterior (:func:`posterior`) of a normal measurement under a two-normal prior is a mixture
of the two components' normal posteriors, weighted by how well each component explains the
wallet's measurement. Its mean and sd, P(edge > cost) and P(edge < 0) are computed with the C
library's exp, log and erf, in an order PostgreSQL repeats when a row is read (migration 031's
``orderflow_posterior_figures``): the same bits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from orderflow.reputation import mixture

Array = npt.NDArray[np.float64]

_ERF = np.vectorize(math.erf, otypes=[np.float64])

# a tail starts from the wallets this many standard deviations above the bulk
_TAIL_START_Z = 2.0
# a tail is kept only if its mean is above the bulk's by this many standard errors
_TAIL_SHIFT_Z = 2.0
# ... and its log-likelihood beats one normal's by more than this (the default of the setting
# prior_tail_min_gain): measured on populations with no tail -- one normal behind measurements
# with normal noise, 155 to 200,000 wallets, the shift test applied -- the gain's 99th
# percentile was 2.3-4.1 and it passed 5 once in 550 draws (benchmarks/tail_null.py,
# docs/reputation.md "The tail's threshold, measured"). The BIC's 1.5 ln k used before (7.6 at
# 155 wallets, 20.7 at a million) refused a tail of 24 % skilled wallets at +0.08 a dollar
# whose gain was 6.2.
TAIL_MIN_GAIN = 5.0
# ... and its share is at least this many wallets: one or two outliers are what heavy-tailed
# noise makes (Student-t(4) noise around one normal, 155 wallets: a false tail in 37 % of draws
# with one wallet's share, 22 % with three; benchmarks/tail_null.py), not a group of the skilled
TAIL_MIN_WALLETS = 3.0
# the tail taken in part around TAIL_MIN_GAIN (session 40): its share is its fitted share times
# w = 1 / (1 + exp((TAIL_MIN_GAIN - gain) / TAIL_GAIN_SCALE)) -- at a scale of 1 the posterior
# probability of the model with the tail against one normal, the gain read as the log of their
# likelihood ratio and the prior odds exp(-TAIL_MIN_GAIN) against the tail, so the share is its
# expected value over the two models (0 under one normal) -- and the bulk the maximum likelihood
# beside that share. One wallet's record moving the gain across 5 no longer moves every skilled
# wallet between the bulk's posterior and the tail's (tests/reputation/test_prior_cliff.py;
# docs/reputation.md "The tail's weight"); 0: the whole tail above the gain, none below.
TAIL_GAIN_SCALE = 1.0
# ... and dropped below this weight (its share then under a thousandth of the fit's)
TAIL_LEAST_WEIGHT = 1e-3
# the bulk beside a weighted tail: EM's bulk step until it moves by this (of each parameter's
# scale), at most this many steps
_BULK_TOLERANCE = 1e-9
_BULK_STEPS = 200
# responsibilities: exp's argument clipped here (exp(700) is finite; PostgreSQL's exp raises
# on an overflow where C's returns inf)
_EXP_CLIP = 700.0


def norm_cdf(x: Array) -> Array:
    z = np.nan_to_num(np.asarray(x, dtype=np.float64), nan=0.0, posinf=40.0, neginf=-40.0)
    out = np.asarray(0.5 * (1.0 + _ERF(z / math.sqrt(2.0))), dtype=np.float64)
    return np.where(np.isnan(x), np.nan, out)


def libm(f: object, x: Array) -> Array:
    """``f`` (a ``math`` function: the C library's) applied to every element (numpy's own
    loops for exp, log and tanh may differ from the C library's in the last bit; PostgreSQL
    calls the C library)."""
    flat = np.asarray(x, dtype=np.float64).ravel()
    out = np.fromiter(map(f, flat.tolist()), np.float64, flat.size)  # type: ignore[call-overload]
    return out.reshape(np.shape(x))


@dataclass(frozen=True, slots=True)
class Prior:
    """What the population says: the spread of true edges and of closing-line misses."""

    mean: float  # mu, capped at 0: the bulk's
    sd: float  # tau
    mean_se: float  # standard error of mu
    miss_sd: float  # kappa: spread of the edge the closing line does not see
    skill_share: float = 0.0  # pi: the skill tail's weight (0: no tail)
    skill_mean: float = 0.0  # mu_s
    skill_sd: float = 0.0  # tau_s
    skill_mean_se: float = 0.0  # standard error of mu_s


def population_prior(
    m: Array, se: Array, use: npt.NDArray[np.bool_], floor: float, *, centre: float | None = None
) -> tuple[float, float, float]:
    """(mu, tau, se of mu): the population's mean edge and the spread of true edges across
    wallets, at the maximum of the normal likelihood of the measurements (each m_i a draw of
    N(mu, tau^2 + se_i^2)), tau at least ``floor``.

    mu is capped at 0 (``centre`` fixes it instead): takers as a whole pay the spread and the fees
    to the makers, so a positive population mean is noise -- shrinking toward it would lift every
    wallet with no evidence of its own. The spread is measured around the mean actually used, so
    a population where everyone has the same real edge is not shrunk to nothing.

    The likelihood weighs each wallet by what its measurement says about tau, 1 / (tau^2 +
    se^2)^2: a one-bet long shot (se 5.7) next to nothing. The method of moments weighted by
    1 / se^2, used before, summed every wallet's z^2 - 1 alike, so a crowd of long-shot losers
    (z^2 = 0.03 each) pinned tau to its floor and a few long-shot hits (z^2 = 32) widened it
    tenfold (tests/reputation/test_prior_bulk.py). It is the fit's start.

    The measurements are sorted by (m, se) first: the sums meet their terms in one order
    whatever the wallets' order, so the prior is a function of the population (the population
    step needs no sort; an incremental run reads the wallets in another order than a full one).
    """
    ok = use & np.isfinite(m) & np.isfinite(se) & (se > 0)
    k = int(ok.sum())
    if k < 3:
        return (centre or 0.0), floor, 0.0
    x, v = m[ok], se[ok] ** 2
    order = np.lexsort((v, x))
    x, v = x[order], v[order]
    floor2 = floor * floor
    w = 1.0 / v
    mu = centre if centre is not None else min(float(np.sum(w * x)) / float(np.sum(w)), 0.0)
    tau2 = max(float(np.sum(w * ((x - mu) ** 2 - v))) / float(np.sum(w)), floor2)
    mu, tau2, _ = mixture.one_normal(x, v, mu, tau2, floor2, centre)
    return mu, math.sqrt(tau2), math.sqrt(1.0 / float(np.sum(1.0 / (v + tau2))))


# -- the skill tail ----------------------------------------------------------------------------


def tail_start(x: Array, v: Array, bulk: Prior, floor2: float) -> mixture.Mixture | None:
    """Where the tail's fit starts over measurements ``x`` with variances ``v``: the bulk, and a
    tail of the wallets more than :data:`_TAIL_START_Z` sds above it (their share, at least one
    wallet's; their precision-weighted mean; the spread's floor). None: no wallet is there."""
    above = (x - bulk.mean) / np.sqrt(v + bulk.sd**2) > _TAIL_START_Z
    if not above.any():
        return None
    w = 1.0 / v[above]
    return mixture.Mixture(
        share=max(float(np.mean(above)), 1.0 / x.size),
        mu_b=bulk.mean,
        tau2_b=bulk.sd**2,
        mu_s=float(np.sum(w * x[above])) / float(np.sum(w)),
        tau2_s=floor2,
    )


def shifted_tail(
    m: Array, se: Array, use: npt.NDArray[np.bool_], bulk: Prior, floor: float
) -> tuple[Prior, float] | None:
    """The prior with a skill tail fitted beside the bulk, and its log-likelihood gain over one
    normal; None when no tail of skill is there to test (under :data:`TAIL_MIN_WALLETS` wallets'
    share, or its mean
    not above the bulk's by :data:`_TAIL_SHIFT_Z` standard errors of the difference).

    The two-normal maximum likelihood (:func:`orderflow.reputation.mixture.fit`) over the
    wallets in ``use`` with a measurement, sorted by (m, se) first: the sums then meet their
    terms in one order whatever the wallets' order, so the fit is a function of the population
    (as :func:`population_prior` is). It starts at :func:`tail_start`.
    """
    ok = use & np.isfinite(m) & np.isfinite(se) & (se > 0)
    k = int(ok.sum())
    if k < 10:
        return None
    x, v = m[ok], se[ok] ** 2
    order = np.lexsort((v, x))
    x, v = x[order], v[order]
    floor2 = floor * floor
    start = tail_start(x, v, bulk, floor2)
    if start is None:
        return None
    found = mixture.fit(x, v, start, floor2, least_share=TAIL_MIN_WALLETS / k)
    p, r = found.mixture, found.tail
    if p.share * k < TAIL_MIN_WALLETS:  # not a group of wallets
        return None
    tail_precision = float(np.sum(r / (p.tau2_s + v)))
    bulk_precision = float(np.sum((1.0 - r) / (p.tau2_b + v)))
    if not (0.0 < tail_precision < math.inf and 0.0 < bulk_precision < math.inf):
        return None  # a component that explains no wallet (responsibilities underflowed)
    tail_mean_se, bulk_mean_se = math.sqrt(1.0 / tail_precision), math.sqrt(1.0 / bulk_precision)
    # a tail of skill: its mean above the bulk's by two standard errors of the difference
    # (heavy-tailed noise around the bulk fits a wide second component centred on it: not
    # skill, and it would spare the luckiest wallets their shrinkage)
    if not (p.mu_s - p.mu_b) / math.hypot(tail_mean_se, bulk_mean_se) > _TAIL_SHIFT_Z:
        return None
    # one normal's best likelihood only where the tail could still be kept
    one = mixture.one_normal_loglik(x, v, bulk.mean, bulk.sd**2, floor2)
    fitted = Prior(
        mean=p.mu_b,
        sd=math.sqrt(p.tau2_b),
        mean_se=bulk_mean_se,
        miss_sd=bulk.miss_sd,
        skill_share=p.share,
        skill_mean=p.mu_s,
        skill_sd=math.sqrt(p.tau2_s),
        skill_mean_se=tail_mean_se,
    )
    return fitted, found.loglik - one


def gain_weight(gain: float, centre: float, scale: float) -> float:
    """How much of the fitted tail the prior takes at a log-likelihood gain ``gain``: a
    logistic step of width ``scale`` centred on ``centre`` (half the tail there); ``scale`` 0:
    all above ``centre``, none at or below it (the threshold before session 40)."""
    if scale <= 0.0:
        return 1.0 if gain > centre else 0.0
    return 1.0 / (1.0 + math.exp(min((centre - gain) / scale, _EXP_CLIP)))


def weighted_tail(
    m: Array,
    se: Array,
    use: npt.NDArray[np.bool_],
    fit: npt.NDArray[np.bool_],
    tail: Prior,
    weight: float,
    floor: float,
) -> Prior:
    """The prior with ``weight`` of the fitted ``tail`` (:func:`shifted_tail` over the wallets in
    ``fit``): the tail's share times ``weight``, its mean and spread as fitted, and the bulk the
    maximum likelihood over every wallet in ``use`` beside that tail (EM's bulk step to its
    fixed point from the fit's bulk, each wallet outside ``fit`` wholly the bulk's): one
    normal's at weight 0, so the prior, and every posterior, moves continuously with the
    weight. The measurements are sorted by (m, se) first (a function of the population)."""
    ok = use & np.isfinite(m) & np.isfinite(se) & (se > 0)
    x, v, fitted = m[ok], se[ok] ** 2, fit[ok]
    order = np.lexsort((v, x))
    x, v, fitted = x[order], v[order], fitted[order]
    floor2 = floor * floor
    share = weight * tail.skill_share
    tau2_s = tail.skill_sd**2
    ls = np.where(
        fitted, math.log(share) + mixture.log_density(x, tail.skill_mean, tau2_s + v), -np.inf
    )
    mean, tau2 = tail.mean, tail.sd**2
    scale = max(math.sqrt(floor2), 1e-6)
    for _ in range(_BULK_STEPS):
        r = _bulk_share(x, v, ls, share, mean, tau2)
        new_mean, new_tau2 = mixture.m_step(x, v, r, mean, tau2, floor2, True)
        moved = max(abs(new_mean - mean) / scale, abs(new_tau2 - tau2) / max(new_tau2, floor2))
        mean, tau2 = new_mean, new_tau2
        if moved <= _BULK_TOLERANCE:
            break
    r = _bulk_share(x, v, ls, share, mean, tau2)
    return replace(
        tail,
        mean=mean,
        sd=math.sqrt(tau2),
        mean_se=math.sqrt(1.0 / float(np.sum(r / (tau2 + v)))),
        skill_share=share,
    )


def _bulk_share(x: Array, v: Array, ls: Array, share: float, mean: float, tau2: float) -> Array:
    """Each measurement's responsibility of the bulk beside a tail of log-densities ``ls``."""
    lb = math.log1p(-share) + mixture.log_density(x, mean, tau2 + v)
    return np.asarray(np.exp(lb - np.logaddexp(lb, ls)), dtype=np.float64)


def skill_tail(
    m: Array,
    se: Array,
    use: npt.NDArray[np.bool_],
    bulk: Prior,
    floor: float,
    min_gain: float = TAIL_MIN_GAIN,
    gain_scale: float = TAIL_GAIN_SCALE,
    fit: npt.NDArray[np.bool_] | None = None,
) -> Prior:
    """``bulk`` (one normal over ``use``) with as much of a skill tail beside it as the
    population asks for: the :func:`shifted_tail` fitted over the wallets of ``use`` in ``fit``
    (None: all), weighted by :func:`gain_weight` of its log-likelihood gain over one normal
    (half at ``min_gain``, :data:`TAIL_MIN_GAIN`; a logistic step of width ``gain_scale``,
    :data:`TAIL_GAIN_SCALE`) through :func:`weighted_tail`; ``bulk`` itself where no shifted
    tail is found or its weight is under :data:`TAIL_LEAST_WEIGHT`."""
    fit_use = use if fit is None else use & fit
    found = shifted_tail(m, se, fit_use, bulk, floor)
    if found is None:
        return bulk
    weight = gain_weight(found[1], min_gain, gain_scale)
    if weight < TAIL_LEAST_WEIGHT:
        return bulk
    return weighted_tail(m, se, use, fit_use, found[0], weight, floor)


def near_normal(expected_wins: Array, events: Array, least: float) -> npt.NDArray[np.bool_]:
    """The wallets whose measured edge is near enough a normal for the skill tail's fit: at
    least ``least`` expected wins and expected losses (the binomial's rule of thumb). A
    long-shot buyer's lucky hit over a few events reads as a z of 5 under the normal null;
    fitted, such wallets made a "tail" at +7 to +29 a dollar (docs/reputation.md)."""
    return np.asarray((expected_wins >= least) & (events - expected_wins >= least), dtype=np.bool_)


def fade_probability(m: Array, se: Array, mu: float, mu_se: float, cost: float) -> Array:
    """P(edge < mu - cost) on the wallet's own record (measured edge ``m`` ± ``se``, against the
    population mean ``mu`` ± ``mu_se``); 0 where nothing was measured.

    Fading pays against a wallet worse than the average taker by more than the fader's cost
    (``mu``, the average taker's fee-net loss, is the costs every taker pays, a fader's own
    too). On the wallet's own record: where the population looks alike (tau at its floor) the
    posterior is ``mu`` for everyone, P(edge < 0) near 1 for every taker and no wallet apart."""
    with np.errstate(invalid="ignore"):
        p = norm_cdf((mu - cost - m) / np.sqrt(se**2 + mu_se**2))
    return np.asarray(np.where(np.isfinite(m) & np.isfinite(p), p, 0.0), dtype=np.float64)


# -- the posterior -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Posterior:
    mean: Array
    sd: Array
    p_above: Array  # P(edge > cost)
    p_below: Array  # P(edge < 0)


def _component(
    m: Array, se: Array, measured: npt.NDArray[np.bool_], mu: float, tau: float, mu_se: float
) -> tuple[Array, Array]:
    """One normal component's posterior mean and variance (the prior mean's own uncertainty
    passed through the shrinkage)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(measured, 1.0 / se**2, 0.0) + 1.0 / tau**2
        post_var = 1.0 / precision
        post_mean = (np.where(measured, m / se**2, 0.0) + mu / tau**2) * post_var
        weight_on_mu = post_var / tau**2
        post_var = post_var + (weight_on_mu * mu_se) ** 2
    return post_mean, post_var


def tail_weight(m: Array, se: Array, measured: npt.NDArray[np.bool_], prior: Prior) -> Array:
    """P(the wallet belongs to the skill tail | its measurement): the tail's share of the two
    components' marginal densities of m (each N(mean, sd^2 + se(mean)^2 + se^2)); the prior
    share where nothing was measured."""
    pi = prior.skill_share
    base_b = prior.sd**2 + prior.mean_se**2
    base_s = prior.skill_sd**2 + prior.skill_mean_se**2
    log_odds = math.log((1.0 - pi) / pi)
    with np.errstate(invalid="ignore"):
        s2_b = base_b + se * se
        s2_s = base_s + se * se
        d_b = m - prior.mean
        d_s = m - prior.skill_mean
        q = libm(math.log, np.where(measured, s2_s / s2_b, 1.0)) + d_s * d_s / s2_s
        x = log_odds + 0.5 * (q - d_b * d_b / s2_b)
        x = np.clip(np.where(measured, x, 0.0), -_EXP_CLIP, _EXP_CLIP)
    r = 1.0 / (1.0 + libm(math.exp, x))
    return np.asarray(np.where(measured, r, pi), dtype=np.float64)


def posterior(m: Array, se: Array, prior: Prior, cost: float) -> Posterior:
    """Every wallet's posterior edge under ``prior`` (``m``, ``se``: its measured edge, NaN
    where nothing was measured)."""
    measured = np.isfinite(m)
    mean_b, var_b = _component(m, se, measured, prior.mean, prior.sd, prior.mean_se)
    if prior.skill_share <= 0.0:
        sd = np.sqrt(var_b)
        return Posterior(mean_b, sd, 1.0 - norm_cdf((cost - mean_b) / sd), norm_cdf(-mean_b / sd))
    mean_s, var_s = _component(
        m, se, measured, prior.skill_mean, prior.skill_sd, prior.skill_mean_se
    )
    r_s = tail_weight(m, se, measured, prior)
    r_b = 1.0 - r_s
    sd_b, sd_s = np.sqrt(var_b), np.sqrt(var_s)
    gap = mean_s - mean_b
    mean = r_b * mean_b + r_s * mean_s
    var = r_b * var_b + r_s * var_s + r_b * r_s * (gap * gap)
    above = r_b * (1.0 - norm_cdf((cost - mean_b) / sd_b)) + r_s * (
        1.0 - norm_cdf((cost - mean_s) / sd_s)
    )
    below = r_b * norm_cdf(-mean_b / sd_b) + r_s * norm_cdf(-mean_s / sd_s)
    return Posterior(mean, np.sqrt(var), above, below)
