"""The inputs of the decision tests (tests/signals/test_decide*.py): a trade, the wallets, the
market, the book and the settings they vary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from orderflow.signals import MarketView, StrategyBook, TradeView, WalletView
from orderflow.strategy.settings import StrategySettings

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
TOKEN = 1234
MARKET = "0x" + "ab" * 32
D = Decimal


def trade(**kw: object) -> TradeView:
    base: dict[str, object] = {
        "chain_id": 137,
        "tx_hash": "0x" + "11" * 32,
        "log_index": 1,
        "wallet": "0x" + "aa" * 20,
        "side": "BUY",
        "token_id": TOKEN,
        "price": D("0.50"),
        "size": D("400"),
        "usdc_size": D("200"),
        "timestamp": NOW - timedelta(seconds=5),
        "market_id": MARKET,
        "outcome_index": 0,
        "id": 1,
    }
    base.update(kw)
    return TradeView(**base)  # type: ignore[arg-type]


# edges are per dollar: +0.20 per dollar at 0.50 is +0.10 per share
WHALE = WalletView("0x" + "aa" * 20, score=8.5, tier="WHALE", edge=0.20, edge_se=0.06)
DEGEN = WalletView("0x" + "bb" * 20, score=1.5, tier="DEGEN", edge=-0.20, edge_se=0.04)
MARKET_VIEW = MarketView(token_id=TOKEN, market_id=MARKET, last_price=D("0.50"))
BOOK = StrategyBook(bankroll=D(10_000))
SETTINGS = StrategySettings()


def fade_inputs(**kw: object) -> tuple[TradeView, MarketView, StrategySettings]:
    """A degen's panic sell (0.40, down from a window high of 0.50), its market, and settings
    with fading on."""
    t = trade(side="SELL", price=D("0.40"), wallet=DEGEN.address, **kw)
    m = MarketView(token_id=TOKEN, market_id=MARKET, last_price=D("0.40"), window_high=D("0.50"))
    return t, m, SETTINGS.model_copy(update={"enable_degen_fading": True})
