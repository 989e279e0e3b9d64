"""Which fills are signals: FOLLOW_WHALE and FADE_DEGEN, defined precisely.

FOLLOW_WHALE
    A BUY fill by a wallet whose reputation score is at least ``min_whale_score``, worth at least
    ``min_trigger_usd``: we buy the same outcome token.

FADE_DEGEN (off unless ``enable_degen_fading``)
    A *panic sell*: a SELL fill by a wallet scoring at most ``max_fade_score``, worth at least
    ``min_trigger_usd``, at a price at least ``fade_price_drop`` (a fraction) below the token's
    highest traded price during the ``fade_window_secs`` before the fill — the market's: the
    seller's own prints (its fills, the makers' rows of the asks it took) are left out, a sale
    closing a position it opened at its own price is no fall of the market, and so are prints
    at no price (0, or 1 or more) (``orderflow.signals.market_queries``). We buy the token it
    dumped, betting the low-skill seller capitulated at a bad price.

Never a signal: a wallet without a score (not yet rated); a *maker* fill (the wallet's resting
order was crossed by someone else: liquidity provision, not a decision -- only the row of the
order that crossed the book, ``is_taker``, is); a fill at 0, or at 1 or more (no order rests
there: :func:`orderflow.signals.quotes.is_level`); a wallet with a behaviour flag is never followed
(MARKET_MAKER, WASH, PENNY_PICKER, WASH_COUNTERPARTY, HEDGED, COPIER: their record is not
copyable skill, or is another wallet's decisions a minute late) and a WASH, WASH_COUNTERPARTY,
HEDGED or COPIER wallet is never faded (its losses may be staged for a partner; a complete set's
legs carry no information; a copier's decisions are its leader's).
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from orderflow.reputation.flags import UNFADABLE
from orderflow.signals.decisions import is_decision_row
from orderflow.signals.views import MarketView, TradeView, WalletView
from orderflow.strategy.settings import StrategySettings

# Never faded, whatever the score (a MAX_FADE_SCORE above the DEGEN band included): a wash wallet's
# or a wash counterparty's losses may be staged for its ring; a complete set's legs carry no
# information either way (orderflow.reputation.flags.UNFADABLE).


class SignalType(StrEnum):
    FOLLOW_WHALE = "FOLLOW_WHALE"
    FADE_DEGEN = "FADE_DEGEN"


def price_drop(trade: TradeView, market: MarketView) -> Decimal | None:
    """Fractional drop from the window's high to this fill's price (None: no prior trades)."""
    high = market.window_high
    if high is None or high <= 0:
        return None
    return (high - trade.price) / high


def is_panic_sell(trade: TradeView, market: MarketView, settings: StrategySettings) -> bool:
    drop = price_drop(trade, market)
    return (
        trade.side == "SELL" and drop is not None and drop >= Decimal(str(settings.fade_price_drop))
    )


def classify(
    trade: TradeView, wallet: WalletView, market: MarketView, settings: StrategySettings
) -> SignalType | None:
    """The signal a fill triggers for a strategy, or None (no signal row is written then)."""
    if wallet.score is None or trade.usdc_size < Decimal(str(settings.min_trigger_usd)):
        return None
    if not is_decision_row(trade):
        # A maker fill is liquidity provision; a fill at 0, or at 1 or more, is no decision at
        # a price (no order rests there: a gift, a wash print): a whale's "buy" at 1.00 was
        # followed at the market's ask (tests/signals/test_tape_levels.py).
        return None
    if (
        settings.enable_whale_following
        and trade.side == "BUY"
        and wallet.score >= settings.min_whale_score
        and not wallet.flags
    ):
        return SignalType.FOLLOW_WHALE
    if (
        settings.enable_degen_fading
        and wallet.score <= settings.max_fade_score
        and not UNFADABLE.intersection(wallet.flags)
        and is_panic_sell(trade, market, settings)
    ):
        return SignalType.FADE_DEGEN
    return None
