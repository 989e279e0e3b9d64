"""The score: five factors in [0, 1], their weighted sum on 0-10, evidence caps and the tier.

Vectorised (numpy): the full recompute scores a million wallets in one call, and
``orderflow wallet`` / the per-wallet reference call the same functions with arrays of one.

Every factor is centred on 0.5 = "no evidence either way": it moves toward 1 only when a
confidence bound or a shrunk estimate says the wallet is better than chance, toward 0 only when it
says it is worse. Luck on a small sample therefore stays near 0.5, and a wallet with no resolved
market scores about 4.5-5.5 (AVERAGE). docs/reputation.md works an example of each:

* **win rate** -- Wilson interval of wins / (wins + losses) over resolved markets: a lower bound
  above 0.5 maps linearly onto (0.5, 1] reaching 1 at ``win_rate_target``; an upper bound below
  0.5 maps onto [0, 0.5) reaching 0 at ``win_rate_floor``; otherwise 0.5. 3/3 has bounds
  (0.44, 1) -> 0.5; 140/200 has a lower bound of 0.63 -> 0.94.
* **profit factor** -- pf = (gross profit + k m) / (gross loss + k m), m = the wallet's mean
  absolute P&L per resolved market, k = ``profit_factor_prior_positions`` (k pseudo wins and k
  pseudo losses of the wallet's own size); 0.5 + 0.5 ln(pf) / ln(target), clipped.
* **consistency** -- Sharpe ratio of per-market returns (P&L / cost), mean shrunk by n / (n + k),
  variance pooled with k pseudo observations of ``consistency_prior_sd``;
  0.5 + 0.5 sharpe / target, clipped.
* **volume** -- log10(volume / floor) / log10(target / floor), clipped to [0, 1] (experience, not
  skill: it has the smallest weight but one).
* **timing** -- the wallet's edge: mean over resolved buy positions of (payout - average entry
  price), shrunk by n / (n + k); 0.5 + 0.5 edge / ``timing_target_edge``, clipped. A wallet that
  buys at 0.40 what resolves to 1 got in before the price moved its way.

Evidence: fewer than ``min_resolved_whale`` resolved markets caps the score just below
``whale_score`` (likewise SMART); fewer than ``min_resolved_degen`` floors it just above
``degen_score``, so a wallet we know little about is never followed nor faded.

Tiers: DEGEN at or below ``degen_score``; WHALE / SMART at or above their scores; AVERAGE at or
above ``average_score`` with at least ``min_resolved_average`` resolved markets; NOVICE otherwise
(little evidence, or a score between DEGEN and AVERAGE).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from orderflow.reputation.settings import ReputationSettings

Array = npt.NDArray[np.float64]

TIERS = ("WHALE", "SMART", "AVERAGE", "NOVICE", "DEGEN")
FACTORS = ("win_rate", "profit_factor", "consistency", "volume", "timing")
# Why a score was capped or floored (0 = untouched).
CAP_REASONS = (None, "capped_below_whale", "capped_below_smart", "floored_above_degen")


@dataclass(frozen=True, slots=True)
class WalletInputs:
    """Per-wallet statistics the factors need, one array element per wallet (float64)."""

    wins: Array
    losses: Array
    resolved: Array  # resolved markets (wins + losses + break-even)
    gross_profit: Array
    gross_loss: Array  # positive number
    return_n: Array  # resolved markets with a cost (a return is defined)
    return_mean: Array
    return_sd: Array  # sample standard deviation; NaN or 0 when n < 2
    volume_usdc: Array
    edge_n: Array  # resolved buy positions
    edge_mean: Array
    edge_sd: Array


@dataclass(frozen=True, slots=True)
class Scores:
    """Factor values, score and tier per wallet, aligned with the inputs."""

    wilson_lower: Array
    wilson_upper: Array
    profit_factor_shrunk: Array
    sharpe_shrunk: Array
    edge: Array  # shrunk edge per share (the executor's p = entry price + edge)
    edge_se: Array  # standard error of the unshrunk mean edge (NaN when n < 2)
    win_rate: Array
    profit_factor: Array
    consistency: Array
    volume: Array
    timing: Array
    raw_score: Array
    score: Array  # rounded to 2 decimals, after evidence caps
    cap: npt.NDArray[np.int8]  # index into CAP_REASONS
    tier: npt.NDArray[np.int8]  # index into TIERS

    def tier_names(self) -> list[str]:
        return [TIERS[i] for i in self.tier.tolist()]

    def cap_names(self) -> list[str | None]:
        return [CAP_REASONS[i] for i in self.cap.tolist()]


def _clip01(x: Array) -> Array:
    return np.clip(np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)


def _centred(x: Array) -> Array:
    """0.5 + 0.5 x clipped to [0, 1]: x = -1 (confidently bad) .. +1 (confidently good)."""
    x = np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0)
    return np.asarray(np.clip(0.5 + 0.5 * x, 0.0, 1.0), dtype=np.float64)


def wilson_lower(wins: Array, n: Array, z: float) -> Array:
    """Wilson score interval lower bound; 0 where n = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        p = wins / n
        z2 = z * z
        centre = p + z2 / (2 * n)
        margin = z * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
        lower = (centre - margin) / (1 + z2 / n)
    return np.where(n > 0, np.clip(lower, 0.0, 1.0), 0.0)


def shrunk_profit_factor(gp: Array, gl: Array, n: Array, k: float) -> Array:
    """(gp + k m) / (gl + k m), m = (gp + gl) / n; 1 when nothing resolved or no P&L at all."""
    with np.errstate(divide="ignore", invalid="ignore"):
        m = np.where(n > 0, (gp + gl) / n, 0.0)
        num = gp + k * m
        den = gl + k * m
        pf = np.where(den > 0, num / den, np.where(num > 0, np.inf, 1.0))
    return pf


def shrunk_sharpe(mean: Array, sd: Array, n: Array, k: float, prior_sd: float) -> Array:
    """Mean shrunk by n/(n+k) over the sd pooled with k pseudo observations of prior_sd."""
    sd = np.nan_to_num(sd, nan=0.0)
    mean = np.nan_to_num(mean, nan=0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        shrunk_mean = np.where(n > 0, mean * n / (n + k), 0.0)
        dof = np.maximum(n - 1, 0)
        var = np.where(dof + k > 0, (dof * sd * sd + k * prior_sd**2) / (dof + k), prior_sd**2)
        sharpe = shrunk_mean / np.sqrt(var)
    return np.where(n > 0, np.nan_to_num(sharpe, nan=0.0), 0.0)


def shrunk_edge(mean: Array, n: Array, k: float) -> Array:
    """Mean edge shrunk toward 0 by n / (n + k); 0 when there is no resolved buy."""
    mean = np.nan_to_num(mean, nan=0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, mean * n / (n + k), 0.0)


def score(inputs: WalletInputs, s: ReputationSettings) -> Scores:
    """Every factor, the weighted 0-10 score, the evidence caps and the tier."""
    decided = inputs.wins + inputs.losses
    wl = wilson_lower(inputs.wins, decided, s.wilson_z)
    wu = 1.0 - wilson_lower(inputs.losses, decided, s.wilson_z)  # upper bound on the win rate
    better = _clip01((wl - 0.5) / (s.win_rate_target - 0.5))
    worse = _clip01((0.5 - wu) / (0.5 - s.win_rate_floor))
    f_win = np.where(wl > 0.5, 0.5 + 0.5 * better, np.where(wu < 0.5, 0.5 - 0.5 * worse, 0.5))

    pf = shrunk_profit_factor(
        inputs.gross_profit, inputs.gross_loss, inputs.resolved, s.profit_factor_prior_positions
    )
    with np.errstate(divide="ignore"):
        f_pf = _centred(np.log(pf) / np.log(s.profit_factor_target))

    sharpe = shrunk_sharpe(
        inputs.return_mean,
        inputs.return_sd,
        inputs.return_n,
        s.consistency_prior_positions,
        s.consistency_prior_sd,
    )
    f_cons = _centred(sharpe / s.consistency_target_sharpe)

    with np.errstate(divide="ignore", invalid="ignore"):
        f_vol = _clip01(
            np.log10(np.maximum(inputs.volume_usdc, 0.0) / s.volume_floor_usdc)
            / np.log10(s.volume_target_usdc / s.volume_floor_usdc)
        )

    edge = shrunk_edge(inputs.edge_mean, inputs.edge_n, s.edge_prior_positions)
    with np.errstate(divide="ignore", invalid="ignore"):
        edge_se = np.where(inputs.edge_n >= 2, inputs.edge_sd / np.sqrt(inputs.edge_n), np.nan)
    f_timing = _centred(edge / s.timing_target_edge)

    raw = 10.0 * (
        s.weight_win_rate * f_win
        + s.weight_profit_factor * f_pf
        + s.weight_consistency * f_cons
        + s.weight_volume * f_vol
        + s.weight_timing * f_timing
    )
    final, cap = apply_evidence_caps(np.round(raw, 2), inputs.resolved, s)
    tier = assign_tiers(final, inputs.resolved, s)

    return Scores(
        wilson_lower=wl,
        wilson_upper=wu,
        profit_factor_shrunk=pf,
        sharpe_shrunk=sharpe,
        edge=edge,
        edge_se=edge_se,
        win_rate=f_win,
        profit_factor=f_pf,
        consistency=f_cons,
        volume=f_vol,
        timing=f_timing,
        raw_score=raw,
        score=final,
        cap=cap,
        tier=tier,
    )


def apply_evidence_caps(
    scores: Array, resolved: Array, s: ReputationSettings
) -> tuple[Array, npt.NDArray[np.int8]]:
    """Cap below WHALE / SMART and floor above DEGEN when too few markets have resolved."""
    final = scores.copy()
    cap = np.zeros(final.shape, dtype=np.int8)
    below_whale = (resolved < s.min_resolved_whale) & (final >= s.whale_score)
    final[below_whale] = round(s.whale_score - 0.01, 2)
    cap[below_whale] = 1
    below_smart = (resolved < s.min_resolved_smart) & (final >= s.smart_score)
    final[below_smart] = round(s.smart_score - 0.01, 2)
    cap[below_smart] = 2
    floored = (resolved < s.min_resolved_degen) & (final <= s.degen_score)
    final[floored] = round(s.degen_score + 0.01, 2)
    cap[floored] = 3
    return np.clip(final, 0.0, 10.0), cap


def assign_tiers(scores: Array, resolved: Array, s: ReputationSettings) -> npt.NDArray[np.int8]:
    """Index into :data:`TIERS` for each (score, resolved markets)."""
    tier = np.full(scores.shape, TIERS.index("NOVICE"), dtype=np.int8)
    tier[(scores >= s.average_score) & (resolved >= s.min_resolved_average)] = TIERS.index(
        "AVERAGE"
    )
    tier[scores >= s.smart_score] = TIERS.index("SMART")
    tier[scores >= s.whale_score] = TIERS.index("WHALE")
    tier[scores <= s.degen_score] = TIERS.index("DEGEN")
    return tier


def weights(s: ReputationSettings) -> dict[str, float]:
    return {
        "win_rate": s.weight_win_rate,
        "profit_factor": s.weight_profit_factor,
        "consistency": s.weight_consistency,
        "volume": s.weight_volume,
        "timing": s.weight_timing,
    }
