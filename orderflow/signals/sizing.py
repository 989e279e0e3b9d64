"""Fractional Kelly sizing for a binary share, rounded to what the exchange accepts.

A share bought at price q pays 1 if it wins (probability p) and 0 otherwise. The Kelly fraction of
bankroll to stake is ``f* = (p - q) / (1 - q)``; we stake ``f* x kelly_fraction x bankroll`` (the
configured bankroll less what the strategy lost to date: ``StrategyBook.kelly_bankroll``),
nothing when ``f* <= 0``, at most ``max_position_usd``, at most what the market's exposure cap
leaves and at most the strategy's cash (``StrategyBook.cash``: what it has not spent or lost).
q is the *all-in* price we expect to pay: the observed price plus slippage rounded up to the
market's tick, plus the taker fee per share (``rate x (q x (1 - q))^exponent``: the market's own
schedule when the exchange stated one, else the strategy's ``taker_fee_rate`` with exponent 1,
:func:`decision_fee`). Shares are rounded down to
0.01 and must reach the market's minimum order size, and the order at least $1
(:data:`MIN_BUY_USDC`, the CLOB's minimum for a marketable BUY).

The full-Kelly fraction is capped at :data:`MAX_KELLY` (0.5) before ``kelly_fraction`` applies:
an estimated p near 1 (or a price near 0) would otherwise ask for most of the bankroll on one
binary outcome, and the estimate is never that good.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal

from orderflow.signals.views import FeeSchedule, MarketView
from orderflow.strategy.settings import StrategySettings

# An order's size precision: the SDK signs a limit order's size rounded *down* to 0.01 share on
# every tick (``_compute_limit_order_amounts``), whatever is asked (:func:`order_shares`).
SHARE_STEP = Decimal("0.01")
MAX_KELLY = Decimal("0.5")
USDC_STEP = Decimal("0.000001")
# The exchange charges a taker fee floored to five decimals: 5 shares at 0.71 at r = 0.03 is
# 0.030885 and the chain's OrderFilled says 0.03088 (polymarket.md §7).
FEE_STEP = Decimal("0.00001")
# The CLOB refuses a marketable BUY worth less than this ("invalid amount for a marketable BUY
# order ($0.77), min size: $1"), on top of the market's minimum size in shares; our BUYs are
# limits at the observed price plus slippage, meant to cross.
MIN_BUY_USDC = Decimal(1)
_BPS = Decimal(10_000)


def dec(value: float) -> Decimal:
    """A settings float as the decimal it was written as (0.1 -> Decimal('0.1'))."""
    return Decimal(repr(value))


def order_shares(shares: Decimal) -> Decimal:
    """The size an order of ``shares`` carries: rounded down to :data:`SHARE_STEP`, as the SDK
    signs it. One rule for every order, paper and live, entry and exit (an exit of a position
    holding micro-shares sells this and keeps the rest: dust held to resolution)."""
    return shares.quantize(SHARE_STEP, rounding=ROUND_DOWN)


def min_order_shares(market: MarketView, settings: StrategySettings) -> Decimal:
    """The fewest shares the exchange takes in one order in this market (BUY or SELL)."""
    return market.min_order_size or dec(settings.min_order_size)


def below_min_buy(
    shares: Decimal, size_usdc: Decimal, market: MarketView, settings: StrategySettings
) -> bool:
    """A BUY the exchange refuses: fewer shares than the market's minimum, or worth less than
    :data:`MIN_BUY_USDC` (``below_min_size``; the executor and the backtest's baselines)."""
    return shares <= 0 or shares < min_order_shares(market, settings) or size_usdc < MIN_BUY_USDC


def round_up_to_tick(price: Decimal, tick: Decimal) -> Decimal:
    return (price / tick).to_integral_value(rounding=ROUND_CEILING) * tick


def entry_price(observed: Decimal, settings: StrategySettings, tick: Decimal) -> Decimal:
    """Observed price plus slippage, rounded up to the tick, kept inside (0, 1)."""
    slipped = observed * (1 + dec(settings.paper_slippage_bps) / _BPS)
    price = round_up_to_tick(slipped, tick)
    return min(max(price, tick), 1 - tick)


def fee_per_share(price: Decimal, rate: Decimal, exponent: Decimal = Decimal(1)) -> Decimal:
    """``rate x (p x (1 - p))^exponent``: the official SDK's platform fee per share
    (``adjust_buy_amount_for_fees``)."""
    return rate * (price * (1 - price)) ** exponent


def taker_fee(
    shares: Decimal, price: Decimal, rate: Decimal, exponent: Decimal = Decimal(1)
) -> Decimal:
    """The CLOB V2 taker fee in collateral: ``shares x rate x (p x (1 - p))^exponent``, floored
    to :data:`FEE_STEP` as the exchange charges it."""
    return (shares * fee_per_share(price, rate, exponent)).quantize(FEE_STEP, rounding=ROUND_DOWN)


def fill_fee(shares: Decimal, price: Decimal, fee: FeeSchedule, *, maker: bool) -> Decimal:
    """What a fill of ours pays on the CLOB V2, paper and live alike (the one rule): a taker the
    market's schedule ``fee`` (:func:`taker_fee`), a maker nothing — the protocol charges takers
    only, at match time, and no order carries a fee (docs.polymarket.com/trading/fees: "Makers
    are never charged fees"; a maker fill's entry in the account's trades states a
    ``fee_rate_bps`` the SDK gives no meaning, not read)."""
    if maker:
        return Decimal(0)
    return taker_fee(shares, price, fee.rate, fee.exponent)


def decision_fee(market: MarketView, settings: StrategySettings) -> FeeSchedule:
    """The fee schedule a decision prices with: the market's own when the exchange stated one
    (live), else the strategy's ``taker_fee_rate`` with exponent 1 (paper, the backtest, a
    market stating none, a read that failed: at least the nothing the SDK counts for a market
    without a schedule; the default rate is 0, so a failed read understates a market's fee unless
    the strategy sets its own)."""
    if market.fee is not None and market.fee.rate > 0:
        return market.fee
    return FeeSchedule(dec(settings.taker_fee_rate))


def booked_fee(market: MarketView, settings: StrategySettings) -> FeeSchedule:
    """The fee schedule an order's taking fills are booked at until the exchange's trades say
    otherwise: what the market charges when known (its schedule; :data:`~orderflow.signals.
    views.NO_FEE` when it states none), else the decision's (paper, a read that failed)."""
    return market.fee if market.fee is not None else decision_fee(market, settings)


def kelly_fraction_of_bankroll(p: float, q: Decimal) -> Decimal:
    """Full-Kelly fraction ``(p - q) / (1 - q)`` for a binary share (may be <= 0)."""
    if q >= 1:
        return Decimal(0)
    return (dec(p) - q) / (1 - q)


@dataclass(frozen=True, slots=True)
class Sizing:
    price: Decimal  # limit / paper fill price per share (on the tick)
    all_in_price: Decimal  # price + fee per share: the q Kelly used
    kelly_f: Decimal  # full-Kelly fraction
    stake_usd: Decimal  # after kelly_fraction and caps, before rounding shares
    shares: Decimal  # rounded down to SHARE_STEP; 0 when nothing should be bought
    size_usdc: Decimal  # shares x price
    capped_by: tuple[str, ...]  # limits that reduced the stake


def size_position(
    p: float,
    observed: Decimal,
    settings: StrategySettings,
    *,
    bankroll: Decimal,
    market_exposure: Decimal,
    tick: Decimal,
    fee: FeeSchedule | None = None,
    cash: Decimal | None = None,
    depth: Sequence[tuple[Decimal, Decimal]] | None = None,
) -> Sizing:
    """``fee``: the market's schedule (:func:`decision_fee`); None: the strategy's rate.
    ``cash``: what the strategy may still spend (None: no limit); the stake, fee included,
    never exceeds it. ``depth``: the book's levels the order meets (a live decision's:
    :class:`~orderflow.signals.views.MarketView`); the order buys no more shares than they offer
    at its limit (``book_depth``), so that no remainder rests at a price the book has left."""
    price = entry_price(observed, settings, tick)
    schedule = fee or FeeSchedule(dec(settings.taker_fee_rate))
    all_in = price + fee_per_share(price, schedule.rate, schedule.exponent)
    f = kelly_fraction_of_bankroll(p, all_in)
    capped: list[str] = []
    if f > MAX_KELLY:
        capped.append("max_kelly")
    stake = min(max(Decimal(0), f), MAX_KELLY) * dec(settings.kelly_fraction) * bankroll
    cap = dec(settings.max_position_usd)
    if stake > cap:
        stake = cap
        capped.append("max_position_usd")
    room = max(Decimal(0), dec(settings.max_market_exposure_usd) - market_exposure)
    if stake > room:
        stake = room
        capped.append("max_market_exposure_usd")
    if depth is not None:
        offered = sum((size for level, size in depth if level <= price), Decimal(0))
        if stake > offered * all_in:
            stake = offered * all_in
            capped.append("book_depth")
    if cash is not None and stake > max(Decimal(0), cash):
        stake = max(Decimal(0), cash)
        capped.append("cash")
    shares = order_shares(stake / all_in) if stake > 0 else Decimal(0)
    return Sizing(
        price=price,
        all_in_price=all_in,
        kelly_f=f,
        stake_usd=stake,
        shares=shares,
        size_usdc=(shares * price).quantize(USDC_STEP),
        capped_by=tuple(capped),
    )
