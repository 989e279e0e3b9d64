"""StrategySettings: one named strategy's thresholds, sizing, limits and switches.

The same model is
* read from the environment with the seed's variable names (``MAX_POSITION_USD``,
  ``KELLY_FRACTION``…, ``ENABLE_PAPER_TRADING=false`` meaning ``mode=live``) by
  :meth:`StrategySettings.from_env`;
* stored as JSON in ``orderflow_strategies.settings`` and re-read by the executor when it changes;
* the ``spec`` of the ``TradingStrategy`` custom resource (camelCase aliases), whose CRD schema is
  generated from this model.

Pause and kill are not settings: they are state columns of ``orderflow_strategies``.
Credentials are never part of a strategy; they live in the executor's environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Score = Annotated[float, Field(ge=0.0, le=10.0)]
# Upper bounds where money is at stake. A billion USDC is far above any real bankroll and keeps
# every amount the executor derives (stakes, shares, fees, P&L) inside Decimal's 28 digits and
# PostgreSQL's NUMERIC(38, 6); infinity and NaN are refused for every float (``allow_inf_nan``).
MAX_USD = 1e9
MAX_SECS = 7 * 86_400.0
MAX_MIN_ORDER_SIZE = 1e6  # shares: no market's minimum order size is larger
# The shortest order life: a live order is a GTD order, and the SDK wants its expiration at least
# 180 s ahead (200 leaves room for the clocks' skew).
MIN_ORDER_TTL_SECS = 200
DEFAULT_ORDER_TTL_SECS = 300

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class StrategySettings(BaseModel):
    """Everything that decides what a strategy trades and how much."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
    )

    mode: Literal["paper", "live"] = Field(
        default="paper",
        description="paper simulates fills; live signs and posts orders to the CLOB "
        "(needs credentials in the executor's environment). Env: ENABLE_PAPER_TRADING.",
    )
    bankroll_usd: float = Field(
        default=10_000.0,
        gt=0,
        le=MAX_USD,
        description="Capital the Kelly fraction applies to, in USDC.",
    )
    enable_whale_following: bool = Field(
        default=True, description="Emit FOLLOW_WHALE signals for high-score wallets' buys."
    )
    enable_degen_fading: bool = Field(
        default=False, description="Emit FADE_DEGEN signals for low-score wallets' panic sells."
    )
    min_whale_score: Score = Field(
        default=7.0, description="A wallet scoring at least this (0-10) is followed."
    )
    max_fade_score: Score = Field(
        default=3.0, description="A wallet scoring at most this (0-10) may be faded."
    )
    kelly_fraction: float = Field(
        default=0.25, gt=0.0, le=1.0, description="Fraction of the full Kelly stake to bet."
    )
    max_position_usd: float = Field(
        default=1000.0,
        gt=0,
        le=MAX_USD,
        description="Per-trade cap in USDC (seed MAX_POSITION_USD).",
    )
    max_market_exposure_usd: float = Field(
        default=2000.0,
        gt=0,
        le=MAX_USD,
        description="Cap on open cost across all tokens of one market (positions and live "
        "orders), USDC.",
    )
    max_open_positions: int = Field(
        default=5, ge=0, le=1000, description="Open positions allowed at once."
    )
    max_daily_loss: float = Field(
        default=500.0,
        gt=0,
        le=MAX_USD,
        description="USDC; P&L since 00:00 UTC (realized since midnight plus the change of "
        "unrealized P&L since midnight's mark) at or below -this stops new positions until the "
        "next UTC day.",
    )
    min_signal_confidence: Probability = Field(
        default=0.7, description="Signals below this confidence (0-1) are skipped."
    )
    min_trigger_usd: float = Field(
        default=50.0, ge=0, le=MAX_USD, description="Ignore fills smaller than this many USDC."
    )
    max_price_move: Probability = Field(
        default=0.03,
        description="Skip when the price moved more than this (absolute, 0-1) against us since "
        "the triggering fill.",
    )
    quote_from: Literal["book", "tape"] = Field(
        default="book",
        description="The price a live decision reads (a paper one too when the executor reads "
        "the public books: PAPER_BOOKS): 'book', the exchange's best ask (a sale: bid) read "
        "just before it, so a follow the book has moved away from is skipped price_moved and "
        "one nobody offers no_price, and an entry buys no more than the book offers at its "
        "limit; 'tape', the chain's latest fills, as the backtest reads (a follow may then rest "
        "at the leader's price below a book that has moved, and fill when the price comes "
        "back). A failed book read uses the tape.",
    )
    max_signal_age_secs: float = Field(
        default=120.0,
        gt=0,
        le=MAX_SECS,
        description="Signals older than this when processed (or when their order is about to "
        "be sent) expire.",
    )
    fade_price_drop: Probability = Field(
        default=0.10,
        description="A SELL counts as a panic sell when the token's price fell by at least this "
        "fraction within fade_window_secs.",
    )
    fade_window_secs: float = Field(
        default=900.0,
        gt=0,
        le=MAX_SECS,
        description="Look-back window for the panic-sell price drop.",
    )
    order_ttl_secs: int = Field(
        default=DEFAULT_ORDER_TTL_SECS,
        ge=MIN_ORDER_TTL_SECS,
        le=int(MAX_SECS),
        description="How long every order (entry or exit) rests before it expires unfilled, in "
        "seconds: a live GTD order's expiration, a paper order's expiry, and the backtest's "
        "book window (how long after the order the book it meets may be revealed).",
    )
    paper_slippage_bps: float = Field(
        default=20.0, ge=0, le=10_000, description="Paper fills pay this much over the price."
    )
    taker_fee_rate: Probability = Field(
        default=0.0,
        description="Fee rate for our taker orders: fee = shares * rate * p * (1 - p) in USDC.",
    )
    tick_size: float = Field(
        default=0.01,
        ge=0.0001,
        lt=1,
        description="Price tick. Paper trading and the backtest use it; live uses the "
        "market's own tick (read from its book) and this only when that is not known.",
    )
    min_order_size: float = Field(
        default=5.0,
        ge=0,
        le=MAX_MIN_ORDER_SIZE,
        description="Minimum order size in shares. Paper trading and the backtest use it; "
        "live uses the market's own minimum (read from its book, or stated by a refusal) "
        "and this only when that is not known.",
    )

    @model_validator(mode="after")
    def _cross_field(self) -> Self:
        if self.max_fade_score >= self.min_whale_score:
            raise ValueError(
                f"max_fade_score ({self.max_fade_score}) must be below "
                f"min_whale_score ({self.min_whale_score})"
            )
        if self.max_position_usd > self.bankroll_usd:
            raise ValueError(
                f"max_position_usd ({self.max_position_usd}) exceeds "
                f"bankroll_usd ({self.bankroll_usd})"
            )
        return self

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """Read the seed's environment variables (upper-case field names). The mode comes from
        ``ENABLE_PAPER_TRADING`` alone: a generic ``MODE`` (another tool's variable) must not
        make a strategy live."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name in cls.model_fields:
            if name == "mode":
                continue
            raw = env.get(name.upper())
            if raw is not None and raw != "":
                values[name] = raw
        paper = env.get("ENABLE_PAPER_TRADING")
        if paper is not None and paper != "":
            flag = paper.strip().lower()
            if flag not in _TRUE | _FALSE:
                raise ValueError(f"ENABLE_PAPER_TRADING must be true or false, got {paper!r}")
            values["mode"] = "paper" if flag in _TRUE else "live"
        return cls.model_validate(values)
