"""The score: a wallet's fee-net edge on its taker decisions, its posterior, five factors, flags,
tier and 0-10 score. Vectorised (numpy): the full recompute scores a million wallets in one call.

Inputs (:class:`WalletInputs`) are per-wallet sums over *resolved events* (a neg-risk event's legs
are one event) of the wallet's taker decisions, valued by :mod:`orderflow.accounting.aggregate`:

* ``value`` / ``stake``: fee-net USDC won and USDC at risk against the outcome;
* ``null_var``: the variance ``value`` would have if the wallet had no edge (a buy of x shares at
  q: x^2 q (1 - q)) -- the noise a penny picker's unbroken run of wins cannot hide;
* ``day_var``: the same variance clustered by the UTC day the events resolved on, events of one
  day maybe moved by one common factor: the sum over days of the square of the day's summed
  values (null-centred); the yardstick reads the larger of the two (:func:`outcome_variances`);
* ``clv_value`` and its sums of squares: the same decisions valued at the closing price;
  ``close_move_var``: the variance their closing-line values would have if the wallet had no
  edge (what the line can still move from the entry: :func:`yardsticks`).

Steps (docs/reputation.md works an example of each):

1. **Yardsticks.** Outcome edge per dollar ``V / S`` with standard error ``sqrt(null_var) / S``
   (``null_var`` clustered by resolution day: :func:`outcome_variances`);
   closing-line edge ``Vc / S`` with the ratio estimator's variance pooled with the one a
   wallet with no edge would have (:func:`yardsticks`), floored at ``clv_se_floor`` x the
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

from orderflow.reputation.flags import FLAGS, UNFADABLE, flag_bits
from orderflow.reputation.prior import (
    TAIL_GAIN_SCALE,
    TAIL_MIN_GAIN,
    Prior,
    fade_probability,
    libm,
    near_normal,
    population_prior,
    posterior,
    skill_tail,
)
from orderflow.reputation.settings import ReputationSettings
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


def _div(a: Array, b: Array) -> Array:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1.0), np.nan)


def _centred_tanh(z: Array, scale: float) -> Array:
    z = np.nan_to_num(z, nan=0.0, posinf=10.0 * scale, neginf=-10.0 * scale)
    return np.asarray(0.5 + 0.5 * np.tanh(z / scale), dtype=np.float64)


def outcome_variances(i: WalletInputs, s: ReputationSettings) -> tuple[Array, Array, Array]:
    """The null variances of the outcome's value, of its excess over the closing line (the
    decisions that had a closing line of their own) and of the wins, each the larger of the
    variance of independent events and its clustered form by resolution day (the sum over days
    of the square of the day's sum: under no edge its mean is the true variance whatever the
    correlation within a day, so a theme of twenty markets resolving together counts as one
    draw; the larger, so that a penny picker's small realised values never shrink its null
    variance). ``variance_by_day`` false: the independent events' alone."""
    var = np.maximum(i.null_var, 0.0)
    resid = np.maximum(i.null_var - i.clv_null_var, 0.0)
    if not s.variance_by_day:
        return var, resid, i.wins_var
    return (
        np.fmax(var, i.day_var),
        np.fmax(resid, i.resid_day_var),
        np.fmax(i.wins_var, i.wins_day_var),
    )


def yardsticks(i: WalletInputs, s: ReputationSettings) -> tuple[Array, Array, Array, Array, Array]:
    """Outcome and closing-line edges per dollar with their standard errors (NaN: none), and
    the null standard error of the outcome's excess over the closing line (the part of the
    decisions that had a closing line of their own).

    The closing line's variance pools two estimates of one variance. The sample one (the
    ratio estimator's, ``clv_sq - 2 c clv_stake + c^2 stake_sq``) sees whatever spreads a
    wallet's record, skill included, but is read from the record itself, and a skewed record
    hides its noise: a few long shots that all lost at entry 0.05 as their markets closed at
    0.99 have identical values, a sample variance of 0 and a precise-looking closing-line edge
    of -0.8. The null one (``close_move_var``) is the variance a wallet with no edge would
    have: under no edge the line is a martingale from the price paid q, so by the law of total
    variance Var(c - q) = q (1 - q) - E[c (1 - c)], estimated per decision by x^2 (q (1 - q) -
    c (1 - c)) -- the outcome's null variance where the close sits at 0 or 1 (the line then
    *is* the outcome), about 0 where it sits near the entry. It holds only as far as lines are
    martingales from the price paid: a wallet paying well over the market, or lines that drift
    (the test worlds' deterministic price paths), make it too large.

    Pooled as a prior worth ``clv_null_events`` (k) events beside the record's n:
    (k null + n sample) / (k + n), never below the sample (a record more dispersed than the
    null keeps its own; the null only widens, as :func:`outcome_variances` takes the larger of
    its forms). A short record reads mostly the null, a long one mostly itself, whose sample
    variance is then a sound estimate. Not the larger of the two: on the test worlds that took
    a skilled leader out of the top tiers and a wallet paying 15 cents over the market out of
    DEGEN (docs/reputation.md "The edge and its posterior"). The decisions without a closing
    line add their outcome null variance (``clv_null_var``) to it."""
    var, resid_var, _ = outcome_variances(i, s)
    outcome = _div(i.value, i.stake)
    outcome_se = _div(np.sqrt(var), i.stake)
    clv = _div(i.clv_value, i.stake)
    c = np.nan_to_num(clv)
    # the ratio estimator's sample variance pooled with the closed decisions' null one (never
    # below the sample's), plus the outcome's null variance for decisions that had no closing
    # line (their "closing line" is the outcome: its noise is the null's)
    resid = np.maximum(i.clv_sq - 2.0 * c * i.clv_stake + c * c * i.stake_sq, 0.0)
    k = s.clv_null_events
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (k * np.maximum(i.close_move_var, 0.0) + i.events * resid) / (k + i.events)
    resid = np.fmax(resid, pooled)
    resid = resid + np.maximum(i.clv_null_var, 0.0)
    clv_se = _div(np.sqrt(resid), i.stake)
    clv_se = np.where(i.events >= s.clv_min_events, clv_se, np.nan)
    clv_se = np.where(np.isfinite(clv_se), np.fmax(clv_se, s.clv_se_floor * outcome_se), np.nan)
    resid_se = _div(np.sqrt(resid_var), i.stake)
    return outcome, outcome_se, np.where(np.isfinite(clv_se), clv, np.nan), clv_se, resid_se


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


def score(
    i: WalletInputs,
    s: ReputationSettings,
    prior: Prior | None = None,
    copying: npt.NDArray[np.bool_] | None = None,
) -> Scores:
    """Yardsticks, posterior, flags, tiers, factors and the 0-10 score for every wallet.

    ``prior`` replaces the population estimate (a single wallet replayed alone is scored with
    the prior of the last full run). ``copying``: the wallets whose buys trail a leader's (the
    COPIER flag, :func:`orderflow.reputation.flags.copier_rows`; None: none).
    """
    outcome, outcome_se, clv, clv_se, resid_se = yardsticks(i, s)
    flags = flag_bits(i, s, copying)
    flagged = flags != 0
    if prior is None:
        prior = estimate_prior(
            outcome,
            outcome_se,
            clv,
            clv_se,
            resid_se,
            ~flagged,
            s.prior_sd_floor,
            tail=(
                near_normal(i.expected_wins, i.events, s.prior_tail_min_expected)
                if s.prior_skill_tail
                else None
            ),
            tail_min_gain=s.prior_tail_min_gain,
            tail_gain_scale=s.prior_tail_gain_scale,
        )
    m, se = measurement(outcome, outcome_se, clv, clv_se, resid_se, prior.miss_sd)
    mu, mu_se = prior.mean, prior.mean_se
    measured = np.isfinite(m)
    post = posterior(m, se, prior, s.follower_cost)
    post_mean, post_sd, p_above, p_below = post.mean, post.sd, post.p_above, post.p_below
    p_fade = fade_probability(m, se, mu, mu_se, s.follower_cost)

    events = i.events
    clean = ~flagged
    # a wash wallet or counterparty is never faded: its losses may be staged for the ring; nor
    # is a wallet of complete sets: no leg alone carries information either way
    unfadable = (flags & sum(1 << FLAGS.index(f) for f in UNFADABLE)) != 0
    # the tiers' evidence minimums, in independent units: events resolving on one day count once
    units = np.minimum(events, i.resolution_days) if s.min_events_by_day else events
    tier = tiers(events, units, p_above, p_below, p_fade, clean, unfadable, s)

    # -- factors ---------------------------------------------------------------------------
    shrink = np.sqrt(_div(events, events + s.factor_prior_events))
    # wins are whole events: half an event of continuity correction (one coin flip won is no
    # evidence; without it, a one-sigma record)
    excess = i.wins - i.expected_wins
    excess = np.sign(excess) * np.maximum(np.abs(excess) - 0.5, 0.0)
    win_z = _div(excess, np.sqrt(outcome_variances(i, s)[2]))
    f_win = _centred_tanh(win_z * shrink, s.factor_z_scale)

    k_null = s.profit_factor_prior_events * np.nan_to_num(_div(i.null_loss, events))
    gp = np.fmax(i.gross_profit, i.null_loss) + k_null
    gl = np.fmax(i.gross_loss, i.null_loss) + k_null
    pf = np.where((gp > 0) & (gl > 0), _div(gp, gl), 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        # the same evidence shrink as the win rate's and timing's: two long shots hit at 0.10
        # make a profit factor of 2.5, and no more evidence than two wins
        f_pf = np.clip(0.5 + 0.5 * shrink * np.log(pf) / math.log(s.profit_factor_target), 0.0, 1.0)
    f_pf = np.nan_to_num(f_pf, nan=0.5)

    z1 = _div(i.value_early, np.sqrt(i.var_early))
    z2 = _div(i.value_late, np.sqrt(i.var_late))
    z1, z2 = np.nan_to_num(z1), np.nan_to_num(z2)
    both_bad = np.where((z1 < 0) & (z2 < 0), np.maximum(z1, z2), 0.0)
    persistence = np.where((z1 > 0) & (z2 > 0), np.minimum(z1, z2), both_bad)
    f_cons = _centred_tanh(persistence, s.factor_z_scale)

    evidence = np.clip(np.log1p(events) / math.log1p(s.volume_target_events), 0.0, 1.0)
    evidence = np.where(unfadable, 0.0, evidence)
    post_z = _div(post_mean - mu, np.where(measured, se, np.nan))
    f_vol = 0.5 + 0.5 * evidence * _libm_tanh(np.nan_to_num(post_z) / s.factor_z_scale)

    clv_z = _div(np.nan_to_num(clv), np.where(np.isfinite(clv_se), clv_se, np.nan))
    f_timing = _centred_tanh(clv_z * shrink, s.factor_z_scale)

    # a record made with the wallet's own ring, or of complete sets (won whatever the outcome),
    # is no evidence either way: every factor 0.5 (the volume factor through its evidence
    # weight, which the posterior read at read time uses too)
    f_win, f_pf, f_cons, f_timing = (
        np.where(unfadable, 0.5, f) for f in (f_win, f_pf, f_cons, f_timing)
    )
    raw = 10.0 * (
        s.weight_win_rate * f_win
        + s.weight_profit_factor * f_pf
        + s.weight_consistency * f_cons
        + s.weight_volume * f_vol
        + s.weight_timing * f_timing
    )
    final = place_in_band(raw, tier, s)
    maker_share = np.clip(1.0 - _div(i.taker_volume, i.volume), 0.0, 1.0)
    penny_share = _div(i.penny_volume, i.buy_volume)
    return Scores(
        outcome_edge=outcome,
        outcome_se=outcome_se,
        clv_edge=clv,
        clv_se=clv_se,
        resid_se=resid_se,
        edge_raw=m,
        edge_raw_se=se,
        edge=post_mean,
        edge_se=post_sd,
        p_above_cost=p_above,
        p_below_zero=p_below,
        win_z=win_z,
        profit_factor_shrunk=pf,
        persistence_z=persistence,
        maker_share=maker_share,
        penny_share=penny_share,
        win_rate=f_win,
        profit_factor=f_pf,
        consistency=f_cons,
        volume=f_vol,
        volume_evidence=evidence,
        timing=f_timing,
        raw_score=raw,
        score=final,
        flags=flags,
        tier=tier,
        prior=prior,
    )
