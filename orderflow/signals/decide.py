"""``evaluate``: one fill, one strategy -> the decision to record, with no I/O.

The executor calls it for every new trade and every strategy; the backtest calls the same
function over history. Everything it needs arrives as arguments (views of the wallet, market and
strategy book as of ``now``); everything it concludes is in the returned :class:`Decision`,
including the inputs that led there, which the executor stores on the signal row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from orderflow.signals.model import confidence, win_probability
from orderflow.signals.risk import Reason, book_gates, market_gates
from orderflow.signals.rules import SignalType, classify, price_drop
from orderflow.signals.sizing import (
    MIN_BUY_USDC,
    Sizing,
    below_min_buy,
    dec,
    decision_fee,
    min_order_shares,
    size_position,
)
from orderflow.signals.views import MarketView, StrategyBook, TradeView, WalletView
from orderflow.strategy.settings import StrategySettings

Status = Literal["PENDING", "SKIPPED", "EXPIRED"]


@dataclass(frozen=True, slots=True)
class Decision:
    """What to record for a signal; ``status == "PENDING"`` means: place this order."""

    signal_type: SignalType
    status: Status
    reason: Reason
    confidence: float | None = None
    win_probability: float | None = None
    sizing: Sizing | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    side: Literal["BUY", "SELL"] = "BUY"  # SELL: an exit (orderflow.signals.exits)

    @property
    def accepted(self) -> bool:
        return self.status == "PENDING"

    @property
    def shares(self) -> Decimal:
        return self.sizing.shares if self.sizing else Decimal(0)

    @property
    def price(self) -> Decimal | None:
        return self.sizing.price if self.sizing else None

    @property
    def size_usdc(self) -> Decimal | None:
        return self.sizing.size_usdc if self.sizing else None


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _inputs(
    trade: TradeView, wallet: WalletView, market: MarketView, book: StrategyBook, now: datetime
) -> dict[str, Any]:
    return {
        "trigger": {
            "price": str(trade.price),
            "size": str(trade.size),
            "usdc_size": str(trade.usdc_size),
            "side": trade.side,
            "is_taker": trade.is_taker,
            "age_secs": round((now - trade.timestamp).total_seconds(), 3),
        },
        "wallet": {
            "score": wallet.score,
            "tier": wallet.tier,
            "edge": wallet.edge,
            "edge_se": wallet.edge_se,
            "resolved_buys": wallet.resolved_buys,
            "flags": list(wallet.flags),
            "p_edge_above_cost": wallet.p_edge_above_cost,
            "p_edge_below_zero": wallet.p_edge_below_zero,
        },
        "market": {
            "last_price": _s(market.last_price),
            "quote_from": market.quote_from,
            "window_high": _s(market.window_high),
            "price_drop": _s(price_drop(trade, market)),
            "resolved": market.resolved,
            "leader_exited": market.leader_exited,
        },
        "book": {
            "bankroll": str(book.bankroll),
            "realized": str(book.realized),
            "open_positions": len(book.open_positions),
            "day_pnl": str(book.day_pnl),
            "market_exposure": str(book.market_exposure(market.market_id)),
            "cash": _s(book.cash),
        },
    }


def evaluate(
    trade: TradeView,
    wallet: WalletView,
    market: MarketView,
    book: StrategyBook,
    settings: StrategySettings,
    now: datetime,
) -> Decision | None:
    """The decision for one fill, or None when the fill is not a signal for this strategy."""
    signal = classify(trade, wallet, market, settings)
    if signal is None:
        return None
    inputs = _inputs(trade, wallet, market, book, now)

    def refuse(reason: Reason, **extra: Any) -> Decision:
        status: Status = "EXPIRED" if reason is Reason.STALE else "SKIPPED"
        return Decision(signal, status, reason, inputs=inputs, **extra)

    gate = market_gates(trade, market, book, settings, now)
    if gate is not None:
        return refuse(gate)
    if signal is SignalType.FOLLOW_WHALE and market.leader_exited:
        # The leader sold the token after this buy (same batch, or stored before we got to
        # it): following the buy now would enter a position the leader has already left.
        return refuse(Reason.LEADER_EXITED)
    p = win_probability(signal, trade, wallet, market.last_price)
    if p is None:
        return refuse(Reason.WALLET_UNMEASURED)
    conf = confidence(signal, wallet)
    inputs["model"] = {"p": p, "confidence": conf}
    if conf < settings.min_signal_confidence:
        return refuse(Reason.LOW_CONFIDENCE, confidence=conf, win_probability=p)
    gate = book_gates(trade, book, settings, min_order_shares(market, settings))
    if gate is not None:
        return refuse(gate, confidence=conf, win_probability=p)
    assert market.last_price is not None  # market_gates refused otherwise
    tick = market.tick_size or dec(settings.tick_size)
    fee = decision_fee(market, settings)
    sizing = size_position(
        p,
        market.last_price,
        settings,
        bankroll=book.kelly_bankroll,
        market_exposure=book.market_exposure(market.market_id),
        tick=tick,
        fee=fee,
        cash=book.cash,
        depth=market.depth,
    )
    inputs["sizing"] = {
        "price": str(sizing.price),
        "all_in_price": str(sizing.all_in_price),
        "kelly_f": str(sizing.kelly_f),
        "stake_usd": str(sizing.stake_usd),
        "shares": str(sizing.shares),
        "capped_by": list(sizing.capped_by),
        "fee_rate": str(fee.rate),
        "fee_exponent": str(fee.exponent),
    }
    extra: dict[str, Any] = {"confidence": conf, "win_probability": p, "sizing": sizing}
    if sizing.kelly_f <= 0:
        return refuse(Reason.NO_EDGE, **extra)
    if below_min_buy(sizing.shares, sizing.size_usdc, market, settings):
        if "cash" in sizing.capped_by or book.kelly_bankroll < MIN_BUY_USDC:
            # The cash (the last cap applied) set the stake, or the losses left no bankroll.
            return refuse(Reason.BANKROLL_SPENT, **extra)
        if "max_market_exposure_usd" in sizing.capped_by:
            return refuse(Reason.MARKET_EXPOSURE, **extra)
        # Not sized up to the minimum: that would stake more than Kelly and the caps allow.
        inputs["sizing"]["min_order_size"] = str(min_order_shares(market, settings))
        return refuse(Reason.BELOW_MIN_SIZE, **extra)
    return Decision(signal, "PENDING", Reason.ACCEPTED, inputs=inputs, **extra)
