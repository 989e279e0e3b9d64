"""Step 4 of the score (:mod:`orderflow.reputation.factors`): the tiers, from the posterior
probabilities with a Bayesian false-discovery-rate control over all wallets (:func:`bayes_fdr`),
and the 0-10 score placed inside its tier's band (:func:`place_in_band`), so WHALE <=> score >=
whale_score and DEGEN <=> score <= degen_score."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from orderflow.reputation.settings import ReputationSettings

Array = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]

TIERS = ("WHALE", "SMART", "AVERAGE", "NOVICE", "DEGEN")


def tiers(
    events: Array,
    units: Array,
    p_above: Array,
    p_below: Array,
    p_fade: Array,
    clean: Mask,
    unfadable: Mask,
    s: ReputationSettings,
) -> npt.NDArray[np.int8]:
    """Each wallet's tier as its index in :data:`TIERS`. ``events``: resolved events (AVERAGE's
    minimum); ``units``: the independent units of evidence the WHALE, SMART and DEGEN minimums
    count (the days its events resolved on, or the events); ``p_above``: P(edge > follower
    cost), ``p_below``: P(edge < 0), ``p_fade``: the fading probability; ``clean``: unflagged
    wallets (the only ones WHALE or SMART); ``unfadable``: wallets never DEGEN (wash)."""
    whale = (
        clean
        & (units >= s.min_events_whale)
        & (p_above >= s.whale_probability)
        & bayes_fdr(p_above, clean & (units >= s.min_events_whale), s.whale_fdr)
    )
    top = bayes_fdr(p_above, clean & (units >= s.min_events_smart), s.smart_fdr)
    smart = ~whale & clean & (units >= s.min_events_smart) & (p_above >= s.smart_probability) & top
    degen_ok = ~unfadable & (units >= s.min_events_degen)
    degen = (
        degen_ok
        & (p_below >= s.degen_probability)
        & (p_fade >= s.degen_probability)
        & bayes_fdr(p_fade, degen_ok, s.degen_fdr)
        & ~whale
        & ~smart
    )
    tier = np.full(events.shape, TIERS.index("NOVICE"), dtype=np.int8)
    tier[events >= s.min_events_average] = TIERS.index("AVERAGE")
    tier[smart] = TIERS.index("SMART")
    tier[whale] = TIERS.index("WHALE")
    tier[degen] = TIERS.index("DEGEN")
    return tier


def bayes_fdr(prob: Array, eligible: npt.NDArray[np.bool_], alpha: float) -> npt.NDArray[np.bool_]:
    """The largest set of eligible wallets, taken by decreasing ``prob``, whose mean posterior
    probability of being a false discovery (1 - prob) is at most ``alpha``. Wallets with equal
    ``prob`` are taken or left together: the set depends on the probabilities, not on the
    wallets' order (a running sum over values sorted by size has the same bits at the end of
    each run of equal values, whatever order the equal ones came in)."""
    out = np.zeros(prob.shape, dtype=bool)
    idx = np.flatnonzero(eligible & np.isfinite(prob))
    if idx.size == 0:
        return out
    order = idx[np.argsort(-prob[idx], kind="stable")]
    ranked = prob[order]
    false = np.cumsum(1.0 - ranked) / np.arange(1, order.size + 1)
    group_end = np.append(ranked[1:] != ranked[:-1], True)
    ok = np.flatnonzero((false <= alpha) & group_end)
    if ok.size:
        out[order[: ok[-1] + 1]] = True
    return out


def place_in_band(raw: Array, tier: npt.NDArray[np.int8], s: ReputationSettings) -> Array:
    """The raw 0-10 factor sum mapped linearly into the tier's band (2 decimals)."""
    lo = np.full(raw.shape, round(s.degen_score + 0.01, 2))
    hi = np.full(raw.shape, round(s.smart_score - 0.01, 2))
    whale, smart, degen = (tier == TIERS.index(t) for t in ("WHALE", "SMART", "DEGEN"))
    lo[whale], hi[whale] = s.whale_score, 10.0
    lo[smart], hi[smart] = s.smart_score, round(s.whale_score - 0.01, 2)
    lo[degen], hi[degen] = 0.0, s.degen_score
    x = np.clip(np.nan_to_num(raw, nan=5.0), 0.0, 10.0) / 10.0
    placed = np.round(lo + (hi - lo) * x, 2)
    return np.asarray(np.clip(placed, lo, hi), dtype=np.float64)
