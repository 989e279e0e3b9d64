"""Score quality over time: at every step, how well do the scores known *then* find skill?

Only for simulated histories (it needs the truth file). It shows the as-of gate at work — early
scores know little — and measures the score the way the strategy uses it, step by step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from orderflow.signals.views import WalletView
from orderflow.sim import ScoredWallet, ScoreQuality, Truth, score_quality


@dataclass(frozen=True, slots=True)
class StepQuality:
    as_of: datetime
    quality: ScoreQuality


@dataclass
class QualityOverTime:
    """A score observer for :func:`orderflow.backtest.walk_forward` (``on_scores=``)."""

    truth: Truth
    steps: list[StepQuality] = field(default_factory=list)

    def __call__(self, as_of: datetime, scores: Mapping[str, WalletView]) -> None:
        scored = [
            ScoredWallet(address, view.score, view.tier)
            for address, view in scores.items()
            if view.score is not None
        ]
        self.steps.append(StepQuality(as_of, score_quality(scored, self.truth)))

    def summary(self, points: int = 5) -> str:
        """A one-line digest: Spearman and WHALE/SMART precision at a few evenly spaced steps."""
        if not self.steps:
            return "no steps"
        stride = max(1, len(self.steps) // points)
        chosen = self.steps[stride - 1 :: stride][-points:]
        parts = []
        for s in chosen:
            rho = "n/a" if s.quality.spearman is None else f"{s.quality.spearman:.2f}"
            prec = s.quality.top_tier_precision
            top = "n/a" if prec is None else f"{prec * 100:.0f}%"
            parts.append(
                f"{s.as_of:%Y-%m-%d}: rho {rho}, WHALE/SMART skilled {top} "
                f"({s.quality.top_tier_wallets})"
            )
        return "; ".join(parts)
