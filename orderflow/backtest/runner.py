"""``run_backtest``: the strategy and its two baselines over stored history, summarised.

Options are a pydantic model so bad values (an end before the start, a zero step, a share
outside (0, 1]) are refused before any work, with the option's name in the message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Self

import asyncpg
from pydantic import BaseModel, ConfigDict, Field, model_validator

from orderflow.backtest.engine import (
    EPOCH,
    ScoreObserver,
    Scorer,
    WalkForwardResult,
    walk_forward,
)
from orderflow.backtest.followers import BaselineFollower, Follower, StrategyFollower
from orderflow.backtest.history import bounds, event_ids, resolution_times
from orderflow.backtest.latency import (
    CONFIRMATIONS,
    DEFAULT_LATENCY_SECS,
    DEFAULT_VISIBILITY_SECS,
    LISTENER_LAG_SECS,
    POLYGON_BLOCK_SECS,
    Execution,
)
from orderflow.backtest.metrics import RunSummary, summarize
from orderflow.backtest.verdict import FollowerVerdict, by_market, judge, resolution_days
from orderflow.strategy.settings import StrategySettings


class BacktestOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    start: datetime | None = Field(
        default=None, description="Replay from this time (default: the first stored trade)."
    )
    end: datetime | None = Field(
        default=None, description="Replay until this time (default: the last stored trade)."
    )
    step_secs: float = Field(
        default=86_400.0,
        ge=60,
        description="Walk-forward step: scores are recomputed as of the start of every step.",
    )
    baseline_stake_usd: Decimal = Field(
        default=Decimal(100), gt=0, description="Fixed stake per fill for the two baselines."
    )
    random_share: float = Field(
        default=0.1, gt=0, le=1, description="Share of wallets the random baseline follows."
    )
    seed: int = Field(default=0, ge=0, description="Seed of the random-wallets baseline.")
    latency_secs: float = Field(
        default=DEFAULT_LATENCY_SECS,
        ge=0,
        description="From the leader's fill to our order at the exchange (decision and fill).",
    )
    visibility_secs: float | None = Field(
        default=None,
        ge=0,
        description="How long after its block's time a fill is stored by the listener and so "
        "known to a decision (its confirmations and lag). Default (None): the listener's "
        f"CONFIRMATIONS ({CONFIRMATIONS}) blocks of {POLYGON_BLOCK_SECS:g} s and "
        f"{LISTENER_LAG_SECS:g} s; never more than the latency.",
    )
    book_window_secs: float | None = Field(
        default=None,
        gt=0,
        description="How long after the order the chain may reveal the book it met; nothing "
        "traded in it means no fill. Default (None): the strategy's order_ttl_secs, how long the "
        "executor's order would rest; another value models an order the executor would not send.",
    )

    confidence: float = Field(
        default=0.95, gt=0, lt=1, description="Confidence level of the verdict's interval."
    )
    bootstrap_draws: int = Field(
        default=2000, ge=100, description="Bootstrap draws (markets resampled) per interval."
    )

    def execution(self, settings: StrategySettings) -> Execution:
        """The latency; the visibility, at most the latency (an executor that orders within
        it stored the fill within it: CONFIRMATIONS=0 or a co-located node); and the book
        window: ``book_window_secs`` when given, else the life of the strategy's orders
        (``order_ttl_secs``)."""
        window = self.book_window_secs
        visible = DEFAULT_VISIBILITY_SECS if self.visibility_secs is None else self.visibility_secs
        return Execution(
            latency=timedelta(seconds=self.latency_secs),
            window=timedelta(seconds=settings.order_ttl_secs if window is None else window),
            visibility=timedelta(seconds=min(visible, self.latency_secs)),
        )

    @model_validator(mode="after")
    def _order(self) -> Self:
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError(
                f"end ({self.end.isoformat()}) must be after start ({self.start.isoformat()})"
            )
        return self


@dataclass(frozen=True)
class BacktestReport:
    options: BacktestOptions
    settings: StrategySettings
    result: WalkForwardResult
    summaries: list[RunSummary]
    verdicts: list[FollowerVerdict]
    events: dict[str, str] = field(default_factory=dict)  # market id -> event id
    days: dict[str, str] = field(default_factory=dict)  # market id -> its event's resolution day
    # The asked end was past the data's (the last trade and its orders' life, the last
    # resolution): the replay stopped at the data's.
    bounded_by_data: bool = False

    @property
    def strategy(self) -> RunSummary:
        return self.summaries[0]

    @property
    def window_differs(self) -> bool:
        """Whether the book window was given and is not the strategy's order life: then the
        backtest fills orders other than the ones the executor would send."""
        window = self.options.book_window_secs
        return window is not None and window != self.settings.order_ttl_secs


def followers_for(settings: StrategySettings, options: BacktestOptions) -> list[Follower]:
    """The strategy first, then follow-every-wallet, then follow-random-wallets."""
    return [
        StrategyFollower(settings, name="strategy"),
        BaselineFollower(settings, name="follow-all", stake_usd=options.baseline_stake_usd),
        BaselineFollower(
            settings,
            name="follow-random",
            stake_usd=options.baseline_stake_usd,
            random_share=options.random_share,
            seed=options.seed,
        ),
    ]


async def run_backtest(
    conn: asyncpg.Connection,
    settings: StrategySettings,
    options: BacktestOptions,
    scorer: Scorer,
    on_scores: ScoreObserver | None = None,
) -> BacktestReport | None:
    """Walk forward over the stored trades; None when there is nothing to replay."""
    span = await bounds(conn)
    if span is None:
        return None
    # Start just before the first trade so that trade is inside the first step's window.
    start = options.start or (span.first - timedelta(seconds=1))
    execution = options.execution(settings)
    end = options.end or span.last
    # Past the data nothing happens (no fill, no resolution, no order left to fill): the steps
    # there would each score every wallet for nothing.
    data_end = max(span.last + execution.latency + execution.window, span.last_resolution or EPOCH)
    bounded = end > data_end
    end = min(end, data_end)
    if end <= start:
        return None
    step = timedelta(seconds=options.step_secs)
    result = await walk_forward(
        conn,
        followers_for(settings, options),
        scorer,
        start=start,
        end=end,
        step=step,
        on_scores=on_scores,
        execution=execution,
    )
    traded = {s.market_id for run in result.runs for s in run.book.signals if s.market_id}
    events = await event_ids(conn, traded)
    days = resolution_days(events, await resolution_times(conn, traded, end))
    verdicts = judge(
        [(run.follower.name, by_market(run.book.signals, "", events, days)) for run in result.runs],
        confidence=options.confidence,
        draws=options.bootstrap_draws,
        seed=options.seed,
    )
    summaries = [summarize(run, step) for run in result.runs]
    return BacktestReport(
        options, settings, result, summaries, verdicts, events, days, bounded_by_data=bounded
    )
