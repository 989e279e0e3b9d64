"""Score quality against the hidden truth: does the reputation score find skill?

Two numbers, both honest about their sample:

* Spearman rank correlation between each scored wallet's reputation score and its hidden skill
  (market makers excluded: they have no opinion, so no skill to find);
* the share of wallets the score puts in the top tiers (WHALE, SMART) that are truly skilled
  (market makers count as not skilled there: following them would not pay either).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from orderflow.sim.truth import Truth

TOP_TIERS = frozenset({"WHALE", "SMART"})


def ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ties sharing their average rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Spearman's rho (Pearson on ranks); None when undefined (n < 3 or a constant side)."""
    if len(xs) != len(ys):
        raise ValueError("spearman needs two sequences of the same length")
    if len(xs) < 3:
        return None
    rx, ry = ranks(xs), ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


@dataclass(frozen=True, slots=True)
class ScoredWallet:
    address: str
    score: float
    tier: str | None


@dataclass(frozen=True, slots=True)
class ScoreQuality:
    wallets_scored: int
    spearman: float | None
    top_tier_wallets: int
    top_tier_truly_skilled: int
    skilled_wallets: int
    skilled_in_top_tier: int

    @property
    def top_tier_precision(self) -> float | None:
        """Share of WHALE/SMART wallets that are truly skilled."""
        return (
            self.top_tier_truly_skilled / self.top_tier_wallets if self.top_tier_wallets else None
        )

    @property
    def skilled_recall(self) -> float | None:
        """Share of truly skilled (scored) wallets that reached WHALE/SMART."""
        return self.skilled_in_top_tier / self.skilled_wallets if self.skilled_wallets else None


def score_quality(scores: Sequence[ScoredWallet], truth: Truth) -> ScoreQuality:
    """Compare scores with hidden skill; wallets the truth does not know are ignored."""
    tw = truth.wallet_map()
    pairs = [(s, tw[s.address]) for s in scores if s.address in tw]
    with_skill = [(s.score, t.skill) for s, t in pairs if t.skill is not None]
    top = [(s, t) for s, t in pairs if s.tier in TOP_TIERS]
    skilled = [(s, t) for s, t in pairs if t.truly_skilled]
    return ScoreQuality(
        wallets_scored=len(pairs),
        spearman=spearman([a for a, _ in with_skill], [b for _, b in with_skill]),
        top_tier_wallets=len(top),
        top_tier_truly_skilled=sum(1 for _, t in top if t.truly_skilled),
        skilled_wallets=len(skilled),
        skilled_in_top_tier=sum(1 for s, _ in skilled if s.tier in TOP_TIERS),
    )
