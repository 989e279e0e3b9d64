"""ReputationSettings: how often to score, and every parameter of the score.

Environment names: ``CALCULATION_INTERVAL_SECONDS`` (the seed's), the rest ``REPUTATION_<FIELD>``
(e.g. ``REPUTATION_WHALE_PROBABILITY=0.99``). docs/reputation.md explains each formula with an
example.
"""

from __future__ import annotations

from typing import Self

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import SettingsConfigDict

from orderflow.reputation.flag_settings import FlagSettings
from orderflow.reputation.prior import TAIL_GAIN_SCALE, TAIL_MIN_GAIN
from orderflow.strategy.settings import StrategySettings


class ReputationSettings(FlagSettings):
    """Factor weights, the edge model, tier probabilities, evidence minimums, flags, schedule."""

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
    second_connection: bool = Field(
        default=True,
        description="A full run makes its counterparty and COPIER evidence on a second "
        "connection of the pool, in the run's snapshot, beside the positions and the closing "
        "lines, and (from the stored sums) the wallets statement of the wallets after a cut "
        "address beside the others' (the machine's second core; the same rows: "
        'docs/reputation.md "The second core"). false: one connection, every stage in turn.',
    )
    incremental_max_share: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="A run at the present rescores only the wallets whose inputs changed; when "
        "more than this share of the wallets scored last time have new or changed fills, it "
        "recomputes every wallet instead (the same scores; past about half of the wallets an "
        "incremental run costs more than a full one: docs/reputation.md). 1: never switch.",
    )

    # Weights (the seed's): must sum to 1.
    weight_win_rate: float = Field(default=0.40, ge=0, le=1, description="Win-rate weight.")
    weight_profit_factor: float = Field(default=0.30, ge=0, le=1, description="Profit factor.")
    weight_consistency: float = Field(default=0.15, ge=0, le=1, description="Consistency.")
    weight_volume: float = Field(default=0.10, ge=0, le=1, description="Volume weight.")
    weight_timing: float = Field(default=0.05, ge=0, le=1, description="Timing weight.")

    # The follower's cost per dollar: what a copy of a taker decision pays that the leader did
    # not. Default: the strategy's default paper slippage (20 bps) plus its default taker fee rate
    # (0) x (1 - 0.5), i.e. 0.002 (orderflow.strategy.settings.StrategySettings).
    follower_cost: float = Field(
        default_factory=lambda: _default_follower_cost(),
        ge=0,
        lt=1,
        description="Cost per dollar of following a decision (taker fee + slippage); WHALE needs "
        "P(edge > this) high.",
    )

    # Edge estimate (orderflow.reputation.evidence).
    clv_horizon: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="A token's closing line is its last trade at this fraction of the way from "
        "its first trade to its resolution (1: the last trade before resolution).",
    )
    clv_min_events: int = Field(
        default=5, ge=2, description="Resolved events needed before closing-line value counts."
    )
    clv_se_floor: float = Field(
        default=0.35,
        gt=0,
        description="Closing-line value's standard error is at least this x the outcome "
        "yardstick's (its evidence counts at most 1 / floor^2 times as much).",
    )
    clv_null_events: float = Field(
        default=10.0,
        ge=0,
        description="Closing-line value's variance: the null variance (what the line can move "
        "under no edge) counts as this many events beside the record's own sample variance, "
        "their pooled figure never below the sample's (0: the sample's alone).",
    )
    prior_sd_floor: float = Field(
        default=0.005, gt=0, description="Smallest spread of true edges the prior may assume."
    )
    prior_skill_tail: bool = Field(
        default=True,
        description="Fit a skill tail beside the prior's bulk where its likelihood beats one "
        "normal's by prior_tail_min_gain (orderflow.reputation.prior); false: one normal prior.",
    )
    prior_tail_min_gain: float = Field(
        default=TAIL_MIN_GAIN,
        gt=0,
        description="The skill tail is kept when its log-likelihood beats one normal's by more "
        "than this (5: a false tail in under 1 % of one-normal populations of 155-20,000 "
        'wallets, docs/reputation.md "The skill tail"); since session 40 the gain where half '
        "the tail is taken (prior_tail_gain_scale).",
    )
    prior_tail_gain_scale: float = Field(
        default=TAIL_GAIN_SCALE,
        ge=0,
        description="Width of the logistic step in the tail's log-likelihood gain that weighs "
        "the tail (its share times 1 / (1 + exp((prior_tail_min_gain - gain) / this)), the bulk "
        "the maximum likelihood beside it): one wallet's record no longer moves every skilled "
        "wallet between the bulk's posterior and the tail's (0: all of the tail above "
        "prior_tail_min_gain, none below).",
    )
    prior_tail_min_expected: float = Field(
        default=5.0,
        ge=0,
        description="A wallet enters the skill tail's fit with at least this many expected wins "
        "and expected losses (entry-implied): the normal approximation of its measured edge. A "
        "long-shot buyer's few events are skewed far beyond a normal's tails.",
    )

    # Factors: each is 0.5 + 0.5 tanh(z / factor_z_scale) of an evidence z, shrunk by
    # sqrt(n / (n + factor_prior_events)) (see orderflow.reputation.factors).
    factor_z_scale: float = Field(default=2.0, gt=0, description="z that maps to 0.5 + 0.38.")
    factor_prior_events: float = Field(
        default=20.0, ge=0, description="Pseudo events shrinking the win-rate and timing z."
    )
    profit_factor_prior_events: float = Field(
        default=10.0, ge=0, description="Null events added to gross profit and gross loss."
    )
    profit_factor_target: float = Field(
        default=1.5, gt=1, description="Fee-net profit factor that maps to 1 (1/target to 0)."
    )
    volume_target_events: float = Field(
        default=100.0, gt=1, description="Events at which the volume (evidence) factor is full."
    )

    # Tiers from the posterior. The score (0-10) is placed inside the tier's band.
    whale_probability: float = Field(
        default=0.95, gt=0.5, lt=1, description="WHALE: P(edge > follower_cost) at least this."
    )
    smart_probability: float = Field(
        default=0.90, gt=0.5, lt=1, description="SMART: P(edge > follower_cost) at least this."
    )
    degen_probability: float = Field(
        default=0.95,
        gt=0.5,
        lt=1,
        description="DEGEN: P(edge < 0) and, on the wallet's own record, P(edge < prior mean - "
        "follower_cost) at least this: worse than the average taker by more than a fader's cost.",
    )
    whale_fdr: float = Field(
        default=0.05, gt=0, lt=1, description="Bayesian false discovery rate of the WHALE set."
    )
    smart_fdr: float = Field(
        default=0.05, gt=0, lt=1, description="Bayesian false discovery rate of WHALE + SMART."
    )
    degen_fdr: float = Field(
        default=0.05, gt=0, lt=1, description="Bayesian false discovery rate of the DEGEN set."
    )
    whale_score: float = Field(default=7.0, ge=0, le=10, description="WHALE band: [this, 10].")
    smart_score: float = Field(default=5.5, ge=0, le=10, description="SMART band starts here.")
    average_score: float = Field(
        default=4.0, ge=0, le=10, description="Kept for compatibility: not used by the tiers."
    )
    degen_score: float = Field(default=3.0, ge=0, le=10, description="DEGEN band: [0, this].")

    # Evidence minimums, in resolved events with taker decisions.
    min_events_whale: int = Field(
        default=20,
        ge=1,
        validation_alias=AliasChoices(
            "min_events_whale", "REPUTATION_MIN_EVENTS_WHALE", "REPUTATION_MIN_RESOLVED_WHALE"
        ),
        description="Fewer resolved events: never WHALE.",
    )
    min_events_smart: int = Field(
        default=10,
        ge=1,
        validation_alias=AliasChoices(
            "min_events_smart", "REPUTATION_MIN_EVENTS_SMART", "REPUTATION_MIN_RESOLVED_SMART"
        ),
        description="Fewer resolved events: never SMART.",
    )
    min_events_average: int = Field(
        default=5,
        ge=0,
        validation_alias=AliasChoices(
            "min_events_average", "REPUTATION_MIN_EVENTS_AVERAGE", "REPUTATION_MIN_RESOLVED_AVERAGE"
        ),
        description="Fewer resolved events: NOVICE (unless DEGEN).",
    )
    min_events_degen: int = Field(
        default=10,
        ge=1,
        validation_alias=AliasChoices(
            "min_events_degen", "REPUTATION_MIN_EVENTS_DEGEN", "REPUTATION_MIN_RESOLVED_DEGEN"
        ),
        description="Fewer resolved events: never DEGEN (never faded).",
    )
    min_events_by_day: bool = Field(
        default=True,
        description="The WHALE, SMART and DEGEN minimums count the UTC days the wallet's "
        "resolved events resolved on, not the events: markets resolving together on a common "
        "factor (one election's races, one rally's price markets) are one unit of evidence.",
    )
    variance_by_day: bool = Field(
        default=True,
        description="The outcome yardstick's null variance (and the residual's over the closing "
        "line, and the win rate's) clustered by the UTC day the events resolved on: at least "
        "the sum over days of the square of the day's summed decision values, so markets "
        "resolving together on a common factor are one draw of it, not one each.",
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
        if not self.degen_score < self.smart_score <= self.whale_score:
            raise ValueError(
                "tier bands must satisfy degen_score < smart_score <= whale_score, got "
                f"{self.degen_score}, {self.smart_score}, {self.whale_score}"
            )
        if not self.min_events_average <= self.min_events_smart <= self.min_events_whale:
            raise ValueError(
                "evidence minimums must satisfy min_events_average <= min_events_smart "
                "<= min_events_whale"
            )
        if self.smart_probability > self.whale_probability:
            raise ValueError("smart_probability must not exceed whale_probability")
        return self


def _default_follower_cost() -> float:
    fields = StrategySettings.model_fields
    slippage = float(fields["paper_slippage_bps"].default) / 10_000
    fee_rate = float(fields["taker_fee_rate"].default)
    return slippage + fee_rate * 0.5


def weights(s: ReputationSettings) -> dict[str, float]:
    """The five factors' weights in the 0-10 score, by factor name."""
    return {
        "win_rate": s.weight_win_rate,
        "profit_factor": s.weight_profit_factor,
        "consistency": s.weight_consistency,
        "volume": s.weight_volume,
        "timing": s.weight_timing,
    }
