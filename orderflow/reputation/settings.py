"""ReputationSettings: how often to score, and every parameter of the score.

Environment names: ``CALCULATION_INTERVAL_SECONDS`` (the seed's), the rest ``REPUTATION_<FIELD>``
(e.g. ``REPUTATION_WILSON_Z=2.33``). docs/reputation.md explains each formula with an example.
"""

from __future__ import annotations

from typing import Self

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import SettingsConfigDict

from orderflow.config import CommonSettings


class ReputationSettings(CommonSettings):
    """Factor weights and parameters, tier thresholds, evidence minimums, schedule."""

    model_config = SettingsConfigDict(
        env_prefix="REPUTATION_", extra="ignore", populate_by_name=True
    )

    calculation_interval_secs: float = Field(
        default=3600.0,
        gt=0,
        validation_alias=AliasChoices("calculation_interval_secs", "CALCULATION_INTERVAL_SECONDS"),
        description="Seconds between runs of `orderflow reputation run --interval` (seed: 3600).",
    )
    work_mem: str = Field(
        default="256MB",
        pattern=r"^\d+\s*(kB|MB|GB)$",
        description="PostgreSQL work_mem for the recompute's aggregations (SET LOCAL).",
    )
    parallel_workers: int = Field(
        default=0,
        ge=0,
        le=16,
        description="max_parallel_workers_per_gather for the recompute (SET LOCAL). 0 by default: "
        "grouping millions of (wallet, token) pairs gains little from partial aggregation and "
        "its finalize step costs more than it saves on a small machine.",
    )

    # Weights (the seed's): must sum to 1.
    weight_win_rate: float = Field(default=0.40, ge=0, le=1, description="Win-rate weight.")
    weight_profit_factor: float = Field(default=0.30, ge=0, le=1, description="Profit factor.")
    weight_consistency: float = Field(default=0.15, ge=0, le=1, description="Consistency.")
    weight_volume: float = Field(default=0.10, ge=0, le=1, description="Volume weight.")
    weight_timing: float = Field(default=0.05, ge=0, le=1, description="Timing weight.")

    # Win rate: Wilson bounds; centred on 0.5 (no evidence), see orderflow.reputation.factors.
    wilson_z: float = Field(
        default=1.96, gt=0, description="z of the Wilson lower bound on the win rate (1.96: 95%)."
    )
    win_rate_floor: float = Field(
        default=0.35, ge=0, lt=0.5, description="Wilson upper bound that maps to factor 0."
    )
    win_rate_target: float = Field(
        default=0.65, gt=0.5, le=1, description="Wilson lower bound that maps to factor 1."
    )

    # Profit factor with a prior of k pseudo-positions winning and losing the wallet's mean size.
    profit_factor_prior_positions: float = Field(
        default=10.0, ge=0, description="k: pseudo win + pseudo loss added to profit and loss."
    )
    profit_factor_target: float = Field(
        default=2.5,
        gt=1,
        description="Shrunk profit factor that maps to 1 (1/target maps to 0; log scale).",
    )

    # Consistency: shrunk Sharpe ratio of per-market returns (pnl / cost).
    consistency_prior_positions: float = Field(
        default=10.0, ge=0, description="k: pseudo positions shrinking mean return toward 0."
    )
    consistency_prior_sd: float = Field(
        default=1.0, gt=0, description="Prior standard deviation of a per-market return."
    )
    consistency_target_sharpe: float = Field(
        default=0.5,
        gt=0,
        description="Shrunk per-market Sharpe ratio that maps to 1 (-target maps to 0).",
    )

    # Volume: log scale between a floor and a target, USDC traded by the wallet itself.
    volume_floor_usdc: float = Field(default=100.0, gt=0, description="Maps to factor 0.")
    volume_target_usdc: float = Field(default=1_000_000.0, gt=0, description="Maps to factor 1.")

    # Timing / edge: mean (payout - average entry price) over resolved buy positions.
    edge_prior_positions: float = Field(
        default=20.0,
        ge=0,
        description="k: edge is shrunk toward 0 by n / (n + k), n = resolved buy positions.",
    )
    timing_target_edge: float = Field(
        default=0.10,
        gt=0,
        description="Shrunk edge (USDC per share) that maps to 1 (-target maps to 0).",
    )

    # Tiers (0-10). whale_score and degen_score match the seed's MIN_WHALE_SCORE / MAX_FADE_SCORE.
    whale_score: float = Field(default=7.0, ge=0, le=10, description="WHALE at or above this.")
    smart_score: float = Field(default=5.5, ge=0, le=10, description="SMART at or above this.")
    average_score: float = Field(default=4.0, ge=0, le=10, description="AVERAGE at or above.")
    degen_score: float = Field(default=3.0, ge=0, le=10, description="DEGEN at or below this.")

    # Evidence minimums (resolved markets): below them the score is capped / floored.
    min_resolved_whale: int = Field(
        default=20, ge=0, description="Fewer resolved markets: score capped below whale_score."
    )
    min_resolved_smart: int = Field(
        default=10, ge=0, description="Fewer resolved markets: score capped below smart_score."
    )
    min_resolved_average: int = Field(
        default=5,
        ge=0,
        description="Fewer resolved markets: NOVICE (unless DEGEN) whatever the score.",
    )
    min_resolved_degen: int = Field(
        default=10,
        ge=0,
        description="Fewer resolved markets: score floored above degen_score (never faded).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        total = (
            self.weight_win_rate
            + self.weight_profit_factor
            + self.weight_consistency
            + self.weight_volume
            + self.weight_timing
        )
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"the five factor weights must sum to 1, they sum to {total:g}")
        if not self.degen_score < self.average_score <= self.smart_score <= self.whale_score:
            raise ValueError(
                "tier thresholds must satisfy degen_score < average_score <= smart_score "
                f"<= whale_score, got {self.degen_score}, {self.average_score}, "
                f"{self.smart_score}, {self.whale_score}"
            )
        if self.win_rate_floor >= self.win_rate_target:
            raise ValueError("win_rate_floor must be below win_rate_target")
        if self.volume_floor_usdc >= self.volume_target_usdc:
            raise ValueError("volume_floor_usdc must be below volume_target_usdc")
        if not self.min_resolved_average <= self.min_resolved_smart <= self.min_resolved_whale:
            raise ValueError(
                "evidence minimums must satisfy min_resolved_average <= min_resolved_smart "
                "<= min_resolved_whale"
            )
        return self
