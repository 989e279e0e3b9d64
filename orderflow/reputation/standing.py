"""A wallet's own figures (:class:`Own`): what the score takes from the wallet's inputs alone,
before the population has its say (the prior, the tiers' false-discovery control, the flags
that depend on other wallets: :func:`orderflow.reputation.factors.judge`).

Each is an elementwise function of one wallet's inputs and the settings
(:func:`own`), so it is the same whichever wallets are scored with
it. The part the population step needs of every wallet (:class:`Standing`) is kept beside the
stored inputs (:data:`orderflow.reputation.stored_inputs.STANDING`), written when the wallet's
inputs are: an incremental run reads those few floats of each wallet rather than its inputs and
computes them again only for the wallets whose inputs changed (docs/reputation.md)."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from orderflow.reputation.flags import own_flag_bits
from orderflow.reputation.prior import near_normal
from orderflow.reputation.settings import ReputationSettings
from orderflow.reputation.wallet_inputs import WalletInputs

Array = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Standing:
    """What the population step needs of every wallet, one element per wallet (float64)."""

    outcome: Array  # the outcome's edge per dollar (NaN: none) ...
    outcome_se: Array  # ... and its standard error
    clv: Array  # the closing line's edge per dollar (NaN: none) ...
    clv_se: Array  # ... and its standard error
    resid_se: Array  # null se of the outcome's excess over the closing line
    events: Array  # resolved events (AVERAGE's minimum)
    units: Array  # the independent units the other tiers' minimums count
    evidence: Array  # the volume factor's weight on the posterior z, unflagged
    f_win: Array  # the four factors that do not read the posterior, unflagged
    f_pf: Array
    f_cons: Array
    f_timing: Array
    # flags.own_flag_bits, and TAIL_BIT: near-normal enough for the skill tail's fit
    traits: Array

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def matrix(self) -> Array:
        """The figures as a (wallets x :meth:`names`) array: the packed column's values."""
        return np.column_stack([getattr(self, n) for n in self.names()]).astype(np.float64)

    @classmethod
    def of_matrix(cls, values: npt.NDArray[Any]) -> Standing:
        return cls(*(np.ascontiguousarray(values[:, k], dtype=np.float64)
                     for k in range(len(cls.names()))))  # fmt: skip


TAIL_BIT = 1 << 12  # of Standing.traits: beside flags.own_flag_bits' bits


@dataclass(frozen=True, slots=True)
class Own:
    """:class:`Standing` and the own figures only the wallet's stored row shows."""

    standing: Standing
    win_z: Array
    profit_factor_shrunk: Array
    persistence_z: Array
    maker_share: Array
    penny_share: Array


def div(a: Array, b: Array) -> Array:
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
    outcome = div(i.value, i.stake)
    outcome_se = div(np.sqrt(var), i.stake)
    clv = div(i.clv_value, i.stake)
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
    clv_se = div(np.sqrt(resid), i.stake)
    clv_se = np.where(i.events >= s.clv_min_events, clv_se, np.nan)
    clv_se = np.where(np.isfinite(clv_se), np.fmax(clv_se, s.clv_se_floor * outcome_se), np.nan)
    resid_se = div(np.sqrt(resid_var), i.stake)
    return outcome, outcome_se, np.where(np.isfinite(clv_se), clv, np.nan), clv_se, resid_se


def own(i: WalletInputs, s: ReputationSettings) -> Own:
    """A wallet's own figures: everything of its score that reads its inputs alone (no prior,
    no other wallet), elementwise (:mod:`orderflow.reputation.standing`)."""
    outcome, outcome_se, clv, clv_se, resid_se = yardsticks(i, s)
    events = i.events
    # the tiers' evidence minimums, in independent units: events resolving on one day count once
    units = np.minimum(events, i.resolution_days) if s.min_events_by_day else events
    shrink = np.sqrt(div(events, events + s.factor_prior_events))
    # wins are whole events: half an event of continuity correction (one coin flip won is no
    # evidence; without it, a one-sigma record)
    excess = i.wins - i.expected_wins
    excess = np.sign(excess) * np.maximum(np.abs(excess) - 0.5, 0.0)
    win_z = div(excess, np.sqrt(outcome_variances(i, s)[2]))
    f_win = _centred_tanh(win_z * shrink, s.factor_z_scale)

    k_null = s.profit_factor_prior_events * np.nan_to_num(div(i.null_loss, events))
    gp = np.fmax(i.gross_profit, i.null_loss) + k_null
    gl = np.fmax(i.gross_loss, i.null_loss) + k_null
    pf = np.where((gp > 0) & (gl > 0), div(gp, gl), 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        # the same evidence shrink as the win rate's and timing's: two long shots hit at 0.10
        # make a profit factor of 2.5, and no more evidence than two wins
        f_pf = np.clip(0.5 + 0.5 * shrink * np.log(pf) / math.log(s.profit_factor_target), 0.0, 1.0)
    f_pf = np.nan_to_num(f_pf, nan=0.5)

    z1 = div(i.value_early, np.sqrt(i.var_early))
    z2 = div(i.value_late, np.sqrt(i.var_late))
    z1, z2 = np.nan_to_num(z1), np.nan_to_num(z2)
    both_bad = np.where((z1 < 0) & (z2 < 0), np.maximum(z1, z2), 0.0)
    persistence = np.where((z1 > 0) & (z2 > 0), np.minimum(z1, z2), both_bad)
    f_cons = _centred_tanh(persistence, s.factor_z_scale)

    clv_z = div(np.nan_to_num(clv), np.where(np.isfinite(clv_se), clv_se, np.nan))
    f_timing = _centred_tanh(clv_z * shrink, s.factor_z_scale)
    tail = near_normal(i.expected_wins, events, s.prior_tail_min_expected)
    standing = Standing(
        outcome=outcome,
        outcome_se=outcome_se,
        clv=clv,
        clv_se=clv_se,
        resid_se=resid_se,
        events=np.asarray(events, dtype=np.float64),
        units=np.asarray(units, dtype=np.float64),
        evidence=np.clip(np.log1p(events) / math.log1p(s.volume_target_events), 0.0, 1.0),
        f_win=f_win,
        f_pf=f_pf,
        f_cons=f_cons,
        f_timing=f_timing,
        traits=(own_flag_bits(i, s) | tail.astype(np.int16) * TAIL_BIT).astype(np.float64),
    )
    return Own(
        standing=standing,
        win_z=win_z,
        profit_factor_shrunk=pf,
        persistence_z=persistence,
        maker_share=np.clip(1.0 - div(i.taker_volume, i.volume), 0.0, 1.0),
        penny_share=div(i.penny_volume, i.buy_volume),
    )


T = TypeVar("T")


def take(rows: npt.NDArray[Any], value: T) -> T:
    """``value`` (a dataclass of per-wallet arrays, maybe nested; other fields kept) at
    ``rows``."""
    out: dict[str, Any] = {}
    for f in fields(value):  # type: ignore[arg-type]
        v = getattr(value, f.name)
        if isinstance(v, np.ndarray):
            out[f.name] = v[rows]
        elif isinstance(v, (Standing, Own)):
            out[f.name] = take(rows, v)
        else:
            out[f.name] = v
    return type(value)(**out)


def join(a: T, b: T) -> T:
    """Two dataclasses of per-wallet arrays (as :func:`take` reads them) one after the other."""
    out: dict[str, Any] = {}
    for f in fields(a):  # type: ignore[arg-type]
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            out[f.name] = np.concatenate([x, y])
        elif isinstance(x, (Standing, Own)):
            out[f.name] = join(x, y)
        else:
            out[f.name] = x
    return type(a)(**out)
