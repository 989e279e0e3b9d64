"""ReputationSettings: how often to score, and every parameter of the score.

Environment names: ``CALCULATION_INTERVAL_SECONDS`` (the seed's), the rest ``REPUTATION_<FIELD>``
(e.g. ``REPUTATION_WHALE_PROBABILITY=0.99``). docs/reputation.md explains each formula with an
example.
"""

from __future__ import annotations

from typing import Self

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import SettingsConfigDict

from orderflow.config import CommonSettings
from orderflow.reputation.prior import TAIL_GAIN_SCALE, TAIL_MIN_GAIN
from orderflow.strategy.settings import StrategySettings


class ReputationSettings(CommonSettings):
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
        "lines (the machine's second core; the same rows: docs/reputation.md \"The second "
        'core"). false: one connection, every stage in turn.',
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

    # Behaviour flags (orderflow.reputation.flags).
    maker_share_flag: float = Field(
        default=0.5, ge=0, le=1, description="MARKET_MAKER: maker share of volume above this."
    )
    penny_share_flag: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="PENNY_PICKER: share of buy stake at prices above penny_price above this.",
    )
    hedged_share_flag: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="HEDGED: share of buy stake in complete sets (holdings that pay the same "
        "whatever the outcome) above this.",
    )
    hedged_leg_window_secs: int = Field(
        default=60,
        ge=0,
        description="HEDGED: a complete set counts only if its legs were bought together: the "
        "tokens a wallet kept in an event part where one's first taker fill comes more than "
        "this many seconds after the previous one's, and each part is valued alone. An "
        "arbitrageur takes every leg in one block or a few (Polygon: 2 s a block); a trader "
        "who exits by buying the complement after the price moved does so hours later.",
    )
    wash_min_share: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="WASH (concentration): at least this share of the wallet's volume against "
        "its top wash_top_k counterparties, and at least this share of those partners' own "
        "volume against the group (a closed ring, not the few makers of a thin market).",
    )
    wash_top_k: int = Field(
        default=3, ge=1, le=10, description="WASH: counterparties that make a wallet's group."
    )
    wash_min_round_trip: float = Field(
        default=0.2,
        ge=0,
        le=1,
        description="WASH (concentration): at least this share of the wallet's shares traded "
        "were traded back (per market, one minus |shares bought less sold, one outcome less "
        "the other| over the shares traded): a ring churns volume and holds nothing, a thin "
        "market's traders are a closed group too but buy their views and hold them.",
    )
    wash_min_fills: int = Field(
        default=3, ge=1, description="WASH: fills with the group (or off-market fills) needed."
    )
    wash_deviation: float = Field(
        default=0.10,
        gt=0,
        lt=1,
        description="WASH (off-market): a fill this far or farther from every prevailing price "
        "around it (set by other wallets) is off-market.",
    )
    wash_off_share: float = Field(
        default=0.25,
        gt=0,
        le=1,
        description="WASH (off-market): at least this share of the wallet's judged volume (its "
        "fills with a prevailing price to compare against; wash_min_judged_share) in off-market "
        "fills (and at least wash_min_fills of them).",
    )
    wash_min_judged_share: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="WASH (off-market): the off-market share's denominator is the wallet's "
        "judged volume but never less than this share of its whole volume (a wallet with "
        "little that can be judged is not flagged on a few fills).",
    )
    wash_window_secs: float = Field(
        default=3600.0,
        gt=0,
        description="WASH: the prevailing price is the volume-weighted price of other wallets' "
        "trades of the market in this many seconds' bucket, the one before or the one after.",
    )
    wash_counterparty_min_share: float = Field(
        default=0.2,
        gt=0,
        le=1,
        description="WASH_COUNTERPARTY: a wallet with at least this share of a WASH wallet's "
        "volume (as one of its top wash_top_k group members, or on the other side of its "
        "off-market fills, over wash_min_fills fills) is never DEGEN, WHALE or SMART.",
    )
    copy_window_secs: int = Field(
        default=1800,
        gt=0,
        description="COPIER: a buy trails another wallet's buy of the same token when that one "
        "came at most this many seconds before it (strictly before: not the same block time) at "
        "a price no higher. Copy-trading services poll the data API every 1-10 minutes and "
        "copy what they find: 30 minutes is three times the slowest poll (at 120 s bots 3-20 "
        "minutes behind were not seen and reached WHALE). Two wallets reacting to one piece of "
        "news buy within the window too, in either order, which the sign test tells apart.",
    )
    copy_look_back: int = Field(
        default=32,
        ge=1,
        description="COPIER: a buy is paired only with the last this many buys of its token "
        "before it (by block time, then wallet), those within copy_window_secs: a buy's pairs "
        "are bounded however densely its token trades. A copy whose token saw more buys "
        "between its leader's fill and it is not seen there; the bound cuts either order of "
        "two buys alike, so the sign test's null holds.",
    )
    copy_min_share: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="COPIER: at least this share of the wallet's taker buys trail the leaders "
        "it copies (one, or a list of wallets), together.",
    )
    copy_min_markets: int = Field(
        default=5,
        ge=1,
        description="COPIER: its buys trail the leader in at least this many tokens.",
    )
    copy_alpha: float = Field(
        default=0.001,
        gt=0,
        lt=1,
        description="COPIER: the sign test's level for a wallet, shared among the leaders it "
        "is tested against (those it trails in copy_min_markets tokens: Bonferroni). Of the "
        "wallet's buys within copy_window_secs (and copy_look_back buys) "
        "of one of the leader's in the same token (the later at a price no lower), the trailing "
        "ones are at least as many as the leading ones would be under chance: if the wallets' "
        "timings were independent, each such pair is as likely in one order as in the other, "
        "P(X >= trailing) for X ~ Binomial(trailing + leading, 1/2) is at most this divided by "
        "the number of leaders tested.",
    )
    flag_min_volume: float = Field(
        default=100.0, ge=0, description="USDC of volume before any behaviour flag is set."
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
