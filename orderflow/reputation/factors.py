"""The score: a wallet's fee-net edge on its taker decisions, its posterior, five factors, flags,
tier and 0-10 score. Vectorised (numpy): the full recompute scores a million wallets in one call.

Inputs (:class:`WalletInputs`) are per-wallet sums over *resolved events* (a neg-risk event's legs
are one event) of the wallet's taker decisions, valued by :mod:`orderflow.accounting.aggregate`:

* ``value`` / ``stake``: fee-net USDC won and USDC at risk against the outcome;
* ``null_var``: the variance ``value`` would have if the wallet had no edge (a buy of x shares at
  q: x^2 q (1 - q)) -- the noise a penny picker's unbroken run of wins cannot hide;
* ``day_var``: the same variance clustered by the UTC day the events resolved on, events of one
  day maybe moved by one common factor: the sum over days of the square of the day's summed
  values (null-centred); the yardstick reads the larger of the two
  (:func:`orderflow.reputation.standing.outcome_variances`);
* ``clv_value`` and its sums of squares: the same decisions valued at the closing price;
  ``close_move_var``: the variance their closing-line values would have if the wallet had no
  edge (what the line can still move from the entry:
  :func:`orderflow.reputation.standing.yardsticks`).

Steps (docs/reputation.md works an example of each):

1. **Yardsticks.** Outcome edge per dollar ``V / S`` with standard error ``sqrt(null_var) / S``
   (``null_var`` clustered by resolution day:
   :func:`orderflow.reputation.standing.outcome_variances`); closing-line edge ``Vc / S`` with
   the ratio estimator's variance pooled with the one a wallet with no edge would have
   (:func:`orderflow.reputation.standing.yardsticks`), floored at ``clv_se_floor`` x the
   outcome's standard error (``clv_min_events`` events needed). The measured edge ``m``
   is the closing line plus the outcome's excess over it, shrunk by how much edge closing lines
   miss across the population (:func:`measurement`); the outcome alone without a closing line.
2. **Empirical Bayes.** The population prior is estimated from every unflagged wallet with
   evidence (:mod:`orderflow.reputation.prior`): its bulk N(mu, tau^2) by maximum likelihood
   (tau^2 = the spread of ``m`` around mu beyond what the standard errors explain, at least
   ``prior_sd_floor``^2; mu capped at 0), and a skill tail beside it where the data ask for one.
   Posterior mean and standard deviation per wallet, ``P(edge > follower_cost)`` and
   ``P(edge < 0)`` (:func:`orderflow.reputation.prior.posterior`); and the fading probability
   ``P(edge < mu - follower_cost)`` on the wallet's own record: worse than the average taker
   (whose fee-net loss is the costs every taker pays, a fader's too) by more than a fader's
   cost.
3. **Flags** (:mod:`orderflow.reputation.flags`).
4. **Tiers** from the posterior with a Bayesian false-discovery-rate control over all wallets
   (:mod:`orderflow.reputation.tiers`): WHALE, SMART, DEGEN, AVERAGE, NOVICE.
5. **Factors and score.** Five factors in [0, 1], 0.5 = no evidence either way; their weighted sum
   ``raw`` (0-10) is placed inside the tier's band, so WHALE <=> score >= whale_score and DEGEN
   <=> score <= degen_score: the score is monotone in the posterior across tiers, ordered by the
   factors within one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from orderflow.reputation.flags import FLAGS, UNFADABLE, combine_flags
from orderflow.reputation.prior import (
    TAIL_GAIN_SCALE,
    TAIL_MIN_GAIN,
    Prior,
    fade_probability,
    libm,
    population_prior,
    posterior,
    skill_tail,
)
from orderflow.reputation.settings import ReputationSettings
from orderflow.reputation.standing import TAIL_BIT, Own, Standing, div, own
from orderflow.reputation.tiers import TIERS, place_in_band, tiers
from orderflow.reputation.wallet_inputs import WalletInputs

Array = npt.NDArray[np.float64]

FACTORS = ("win_rate", "profit_factor", "consistency", "volume", "timing")


@dataclass(frozen=True, slots=True)
class Scores:
    """Everything the run stores per wallet, aligned with the inputs."""

    outcome_edge: Array
    outcome_se: Array
    clv_edge: Array
    clv_se: Array
    resid_se: Array  # null se of the outcome's excess over the closing line
    edge_raw: Array  # combined measurement
    edge_raw_se: Array
    edge: Array  # posterior mean
    edge_se: Array  # posterior standard deviation
    p_above_cost: Array
    p_below_zero: Array
    win_z: Array
    profit_factor_shrunk: Array
    persistence_z: Array
    maker_share: Array
    penny_share: Array
    win_rate: Array
    profit_factor: Array
    consistency: Array
    volume: Array
    volume_evidence: Array  # the volume factor's weight on the posterior z (own events)
    timing: Array
    raw_score: Array
    score: Array  # rounded to 2 decimals, inside the tier's band
    flags: npt.NDArray[np.int8]  # bit set over FLAGS
    tier: npt.NDArray[np.int8]  # index into TIERS
    prior: Prior

    def tier_names(self) -> list[str]:
        return [TIERS[i] for i in self.tier.tolist()]

    def flag_names(self) -> list[list[str]]:
        return [[f for b, f in enumerate(FLAGS) if bits & (1 << b)] for bits in self.flags.tolist()]


def _libm_tanh(x: Array) -> Array:
    """tanh by the C library (numpy's own loop differs from it in the last bit): what
    PostgreSQL computes when the volume factor is read (migration 022), so the two agree."""
    out = np.zeros(x.shape, dtype=np.float64)
    nz = np.flatnonzero(x)
    out[nz] = libm(math.tanh, x[nz])
    return out


def measurement(
    outcome: Array, outcome_se: Array, clv: Array, clv_se: Array, resid_se: Array, miss_sd: float
) -> tuple[Array, Array]:
    """The measured edge and its standard error from both yardsticks.

    The outcome is the closing line plus what happened after the close, so the two are not
    independent evidence. The closing line is the base; the outcome's excess over it, r, is
    edge the close did not see (a stale or inefficient close) or noise (null standard error
    ``resid_se``): it is added shrunk by ``miss_sd^2 / (miss_sd^2 + resid_se^2)`` (``miss_sd``:
    the spread of such misses across wallets, estimated from the data). Without a closing line,
    the outcome alone.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        rse = np.nan_to_num(resid_se)
        w = miss_sd**2 / (miss_sd**2 + rse**2)
        m = clv + w * (outcome - clv)
        se = np.sqrt(clv_se**2 + (w * rse) ** 2)
    use_clv = np.isfinite(m) & np.isfinite(se)
    m = np.where(use_clv, m, outcome)
    se = np.where(use_clv, se, outcome_se)
    ok = np.isfinite(m) & np.isfinite(se) & (se > 0)
    return np.where(ok, m, np.nan), np.where(ok, se, np.nan)


def estimate_prior(
    outcome: Array,
    outcome_se: Array,
    clv: Array,
    clv_se: Array,
    resid_se: Array,
    use: npt.NDArray[np.bool_],
    floor: float,
    *,
    tail: npt.NDArray[np.bool_] | None = None,
    tail_min_gain: float = TAIL_MIN_GAIN,
    tail_gain_scale: float = TAIL_GAIN_SCALE,
) -> Prior:
    """The population prior from every wallet in ``use`` (unflagged): the bulk, and a skill
    tail beside it where the data ask for one (a log-likelihood gain above ``tail_min_gain``),
    fitted over the wallets in ``tail`` (None: no tail; :mod:`orderflow.reputation.prior`)."""
    closed = use & np.isfinite(clv) & (np.nan_to_num(resid_se) > 0)
    _, kappa, _ = population_prior(outcome - clv, resid_se, closed, floor, centre=0.0)
    m, se = measurement(outcome, outcome_se, clv, clv_se, resid_se, kappa)
    mu, tau, mu_se = population_prior(m, se, use, floor)
    bulk = Prior(mu, tau, mu_se, kappa)
    if tail is None:
        return bulk
    return skill_tail(m, se, use, bulk, floor, tail_min_gain, tail_gain_scale, fit=tail)


@dataclass(frozen=True, slots=True)
class Judged:
    """What the population decides of each wallet (aligned with its :class:`Standing`)."""

    edge_raw: Array
    edge_raw_se: Array
    edge: Array
    edge_se: Array
    p_above_cost: Array
    p_below_zero: Array
    win_rate: Array
    profit_factor: Array
    consistency: Array
    volume: Array
    volume_evidence: Array
    timing: Array
    raw_score: Array
    score: Array
    flags: npt.NDArray[np.int8]
    tier: npt.NDArray[np.int8]
    prior: Prior


def judge(
    st: Standing,
    host: Array,
    s: ReputationSettings,
    prior: Prior | None = None,
    copying: npt.NDArray[np.bool_] | None = None,
) -> Judged:
    """Steps 2 to 5 over every wallet's :class:`Standing` (``host``: each wallet's wash host,
    its index in the same arrays, NaN: none): the flags, the prior (``prior`` None: the
    population's), the posterior, the tiers, the factors and the score."""
    flags = combine_flags(st.traits.astype(np.int16), host, copying)
    flagged = flags != 0
    if prior is None:
        tail = (st.traits.astype(np.int16) & TAIL_BIT) != 0
        prior = estimate_prior(
            st.outcome,
            st.outcome_se,
            st.clv,
            st.clv_se,
            st.resid_se,
            ~flagged,
            s.prior_sd_floor,
            tail=tail if s.prior_skill_tail else None,
            tail_min_gain=s.prior_tail_min_gain,
            tail_gain_scale=s.prior_tail_gain_scale,
        )
    m, se = measurement(st.outcome, st.outcome_se, st.clv, st.clv_se, st.resid_se, prior.miss_sd)
    mu, mu_se = prior.mean, prior.mean_se
    measured = np.isfinite(m)
    post = posterior(m, se, prior, s.follower_cost)
    p_fade = fade_probability(m, se, mu, mu_se, s.follower_cost)
    # a wash wallet or counterparty is never faded: its losses may be staged for the ring; nor
    # is a wallet of complete sets: no leg alone carries information either way
    unfadable = (flags & sum(1 << FLAGS.index(f) for f in UNFADABLE)) != 0
    tier = tiers(st.events, st.units, post.p_above, post.p_below, p_fade, ~flagged, unfadable, s)
    evidence = np.where(unfadable, 0.0, st.evidence)
    post_z = div(post.mean - mu, np.where(measured, se, np.nan))
    f_vol = 0.5 + 0.5 * evidence * _libm_tanh(np.nan_to_num(post_z) / s.factor_z_scale)
    # a record made with the wallet's own ring, or of complete sets (won whatever the outcome),
    # is no evidence either way: every factor 0.5 (the volume factor through its evidence
    # weight, which the posterior read at read time uses too)
    f_win, f_pf, f_cons, f_timing = (
        np.where(unfadable, 0.5, f) for f in (st.f_win, st.f_pf, st.f_cons, st.f_timing)
    )
    raw = 10.0 * (
        s.weight_win_rate * f_win
        + s.weight_profit_factor * f_pf
        + s.weight_consistency * f_cons
        + s.weight_volume * f_vol
        + s.weight_timing * f_timing
    )
    return Judged(
        edge_raw=m,
        edge_raw_se=se,
        edge=post.mean,
        edge_se=post.sd,
        p_above_cost=post.p_above,
        p_below_zero=post.p_below,
        win_rate=f_win,
        profit_factor=f_pf,
        consistency=f_cons,
        volume=f_vol,
        volume_evidence=evidence,
        timing=f_timing,
        raw_score=raw,
        score=place_in_band(raw, tier, s),
        flags=flags,
        tier=tier,
        prior=prior,
    )


def scores(o: Own, j: Judged) -> Scores:
    """A wallet's own figures and the population's judgement of it (aligned) as its
    :class:`Scores`."""
    st = o.standing
    return Scores(
        outcome_edge=st.outcome,
        outcome_se=st.outcome_se,
        clv_edge=st.clv,
        clv_se=st.clv_se,
        resid_se=st.resid_se,
        win_z=o.win_z,
        profit_factor_shrunk=o.profit_factor_shrunk,
        persistence_z=o.persistence_z,
        maker_share=o.maker_share,
        penny_share=o.penny_share,
        **{f: getattr(j, f) for f in Judged.__dataclass_fields__},
    )


def score(
    i: WalletInputs,
    s: ReputationSettings,
    prior: Prior | None = None,
    copying: npt.NDArray[np.bool_] | None = None,
) -> Scores:
    """Yardsticks, posterior, flags, tiers, factors and the 0-10 score for every wallet:
    :func:`own`, then :func:`judge`.

    ``prior`` replaces the population estimate (a single wallet replayed alone is scored with
    the prior of the last full run). ``copying``: the wallets whose buys trail a leader's (the
    COPIER flag, :func:`orderflow.reputation.flags.copier_rows`; None: none).
    """
    o = own(i, s)
    return scores(o, judge(o.standing, i.wash_host, s, prior, copying))
