"""Signals: which fills to follow, how much to stake, which risk limits refuse it.

The decision pipeline is pure (no database, no clock): :func:`evaluate` takes a fill and views of
the wallet, market and strategy book and returns a :class:`Decision`. ``orderflow.signals.queries``
(trades, wallets) and ``orderflow.signals.market_queries`` (markets) build those views from
PostgreSQL, and ``queries`` stores decisions; the backtest builds them from history.
"""

from orderflow.signals.decide import Decision, evaluate
from orderflow.signals.risk import Reason
from orderflow.signals.rules import SignalType, classify, is_panic_sell
from orderflow.signals.sizing import Sizing, kelly_fraction_of_bankroll, size_position
from orderflow.signals.views import (
    MarketView,
    OpenPosition,
    StrategyBook,
    TradeView,
    WalletView,
)

__all__ = [
    "Decision",
    "MarketView",
    "OpenPosition",
    "Reason",
    "SignalType",
    "Sizing",
    "StrategyBook",
    "TradeView",
    "WalletView",
    "classify",
    "evaluate",
    "is_panic_sell",
    "kelly_fraction_of_bankroll",
    "size_position",
]
