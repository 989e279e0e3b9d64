"""Risk limits: each refusal is a named reason stored on the signal.

Checked in this order (the first that fails is the reason):

============================  ===========================================================
``strategy_killed``           the strategy is killed: no order at all
``strategy_paused``           the strategy is paused: nothing new is opened
``stale``                     the fill is older than ``max_signal_age_secs`` (status EXPIRED)
``market_unknown``            the fill's token names no market (not in the token registry):
                              its resolution, other outcomes and exposure cannot be checked
``market_resolved``           the market already has a resolution
``resolves_soon``             the market's known end is closer than ``max_signal_age_secs``
``no_book``                   a live decision's book could not be read (an error, the
                              exchange's rate limit, reads paused after a failure): priced on
                              the tape's quote instead, a live order may pay what the market no
                              longer offers
``no_price``                  no observed price for the token
``price_moved``               the price rose more than ``max_price_move`` since the fill
``wallet_unmeasured``         the wallet has no measured edge: no win probability
``low_confidence``            confidence below ``min_signal_confidence``
``position_exists``           the strategy holds, or has a live order in, this market (any outcome;
                              dust under the market's minimum order size does not count, but in
                              its own token while an exit of it still rests, or when it is held
                              in the other mode, paper or live)
``max_open_positions``        ``max_open_positions`` markets have positions or live orders
``daily_loss_limit``          P&L since 00:00 UTC (live orders included) <= -``max_daily_loss``
``no_edge``                   Kelly fraction <= 0 at the price we would pay
``market_exposure_cap``       the market's exposure cap leaves less than the minimum size
``bankroll_spent``            the strategy's cash (bankroll + realized P&L - cost of open
                              positions and live BUYs) leaves less than the minimum size, or its
                              losses left less than $1 of bankroll for Kelly
``below_min_size``            the Kelly stake buys fewer than the market's minimum shares or $1
============================  ===========================================================

The per-trade cap (``max_position_usd``) reduces a stake rather than refusing it; a capped stake
records ``capped_by`` in the signal's inputs. An exit (:mod:`orderflow.signals.exits`) is refused
only ``strategy_killed`` or ``exit_below_min_size`` (the position is smaller than the market's
minimum order size: held to resolution). Live orders (resting, in flight, in doubt) are part of
the book: they count as positions and exposure until they fill, are cancelled or expire.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from orderflow.signals.views import MarketView, StrategyBook, TradeView
from orderflow.strategy.settings import StrategySettings


class Reason(StrEnum):
    ACCEPTED = "accepted"
    EXIT_WITH_LEADER = "exit_with_leader"
    KILLED = "strategy_killed"
    PAUSED = "strategy_paused"
    STALE = "stale"
    MARKET_UNKNOWN = "market_unknown"
    MARKET_RESOLVED = "market_resolved"
    RESOLVES_SOON = "resolves_soon"
    NO_BOOK = "no_book"
    NO_PRICE = "no_price"
    PRICE_MOVED = "price_moved"
    LEADER_EXITED = "leader_exited"
    LOW_CONFIDENCE = "low_confidence"
    POSITION_EXISTS = "position_exists"
    MAX_OPEN_POSITIONS = "max_open_positions"
    DAILY_LOSS = "daily_loss_limit"
    WALLET_UNMEASURED = "wallet_unmeasured"
    NO_EDGE = "no_edge"
    MARKET_EXPOSURE = "market_exposure_cap"
    BANKROLL_SPENT = "bankroll_spent"
    BELOW_MIN_SIZE = "below_min_size"
    EXIT_BELOW_MIN_SIZE = "exit_below_min_size"  # an exit: the position is under the minimum


def _dec(value: float) -> Decimal:
    return Decimal(repr(value))


def market_gates(
    trade: TradeView,
    market: MarketView,
    book: StrategyBook,
    settings: StrategySettings,
    now: datetime,
) -> Reason | None:
    """Checks that need neither the wallet's numbers nor sizing."""
    if book.killed:
        return Reason.KILLED
    if book.paused:
        return Reason.PAUSED
    if now - trade.timestamp > timedelta(seconds=settings.max_signal_age_secs):
        return Reason.STALE
    if market.market_id is None:
        # No market, no entry: neither its resolution, nor its other outcomes (one position per
        # market), nor its exposure cap, nor its complement (a leader leaving by buying it) can
        # be read. Two whales' buys of the two outcomes of such a market were both followed:
        # YES and NO of one market (tests/signals/test_market_unknown.py).
        return Reason.MARKET_UNKNOWN
    if market.resolved:
        return Reason.MARKET_RESOLVED
    if market.resolves_at is not None and market.resolves_at - now < timedelta(
        seconds=settings.max_signal_age_secs
    ):
        return Reason.RESOLVES_SOON
    if market.book_unread:
        return Reason.NO_BOOK
    if market.last_price is None:
        return Reason.NO_PRICE
    if market.last_price - trade.price > _dec(settings.max_price_move):
        return Reason.PRICE_MOVED
    return None


def book_gates(
    trade: TradeView, book: StrategyBook, settings: StrategySettings, min_shares: Decimal
) -> Reason | None:
    """Limits that depend on what the strategy already holds and has lost today.

    ``min_shares``: the market's minimum order size. A position under it (dust, held to
    resolution) does not refuse an entry in its market; that market is already counted among
    the open ones, so entering it adds none to ``max_open_positions``."""
    if book.holds(trade.token_id, trade.market_id, min_shares):
        return Reason.POSITION_EXISTS
    if book.open_count(besides=(trade.token_id, trade.market_id)) >= settings.max_open_positions:
        return Reason.MAX_OPEN_POSITIONS
    if book.day_pnl <= -_dec(settings.max_daily_loss):
        return Reason.DAILY_LOSS
    return None
