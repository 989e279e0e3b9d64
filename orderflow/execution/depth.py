"""Walking revealed depth: how much of an order the book's levels fill, and at what prices.

The chain shows fills, not the book; each maker fill is a level that rested until a taker took it
(:mod:`orderflow.signals.quotes` names its side). Both consumers of revealed depth fill an order
here, by one rule (:func:`fill_resting`), as the levels are revealed while it rests: the
backtest's followers (:mod:`orderflow.backtest.resting`, over the book of
:mod:`orderflow.backtest.liquidity`) and the executor's paper exchange
(:mod:`orderflow.execution.paper_book`), each fill at the time of the level that made it.

An order rests at its limit ``L`` from its decision to its close, on a CLOB that matches by price,
then time. For a BUY of ``X`` priced from the quote ``q`` (the best ask seen by the decision):

* an ask revealed at ``q <= p <= L`` could have been resting when the order arrived: the order
  takes it as a taker, best price first, each at its own price, paying the taker fee
  (:func:`paper_fill`);
* an ask revealed *below* the quote was posted after the decision; posted while the order rested
  at ``L > p``, it crossed the order's bid and filled it — at ``L``, the resting order's price,
  as maker (no fee: Polymarket's makers pay none). So did every seller revealed during its life
  at a price below ``L``: a taker selling into a bid at ``p < L`` would have met the order's
  better bid first. The complement's mirror flows are these through the unified book
  (:func:`orderflow.signals.quotes.levels_of`: a maker buying the complement at ``c`` is an ask
  of ``X`` at ``1 - c``; a maker selling it, a bid). These fills come oldest first, after the
  taker's: the order meets the price falling through it — adverse selection.

The SELL is the mirror (bids for asks, above for below). Not counted: flow at exactly ``L``
(another order resting at ``L`` may be older: time priority, which the chain does not show) or
beyond it, and a fill no resting order could have made (no shares, a price outside (0, 1)). Who
traded is not asked: the operator matches a taker against the book by price, so a cross between
two wallets — a wash pair's, or one wallet's with itself — posted through our better order
would have met it. What was taken is remembered (``consumed``, by the level's maker fill) and is
not there for the next order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from orderflow.execution.broker import FillReport
from orderflow.signals.quotes import is_level
from orderflow.signals.sizing import USDC_STEP, fill_fee
from orderflow.signals.views import FeeSchedule, Side

LevelKey = tuple[str, int]  # (tx_hash, log_index) of the maker fill
ZERO = Decimal(0)


def paper_fill(
    shares: Decimal, price: Decimal, taker_fee_rate: Decimal, at: datetime, *, maker: bool
) -> FillReport:
    """A fill at ``price``: gross collateral and the V2 fee on top, as the exchange charges it
    (:func:`orderflow.signals.sizing.fill_fee`: a taker's at ``taker_fee_rate``, a maker's
    nothing)."""
    usdc = (shares * price).quantize(USDC_STEP)
    fee = fill_fee(shares, price, FeeSchedule(taker_fee_rate), maker=maker)
    return FillReport(fill_key="paper", shares=shares, usdc=usdc, fee=fee, price=price, at=at)


@dataclass(frozen=True, slots=True)
class Level:
    """One revealed maker order, priced in the followed token."""

    key: LevelKey
    time: datetime
    price: Decimal
    shares: Decimal


def better_first(levels: Iterable[Level], side: Side) -> list[Level]:
    """Best price first for a taker on ``side`` (cheapest ask / highest bid), then oldest."""
    if side == "BUY":
        return sorted(levels, key=lambda lv: (lv.price, lv.time, lv.key))
    return sorted(levels, key=lambda lv: (-lv.price, lv.time, lv.key))


def could_rest(level: Level) -> bool:
    """Whether a resting order could have made ``level``: shares at a price
    (:func:`orderflow.signals.quotes.is_level`). A fill of no shares or no collateral (stored at
    price 0), a wash ring's price-0 gift or a "bid" at 1 or more is no level."""
    return level.shares > 0 and is_level(level.price)


def plausible(levels: Iterable[Level], side: Side, leader_price: Decimal) -> list[Level]:
    """The levels that could have been resting when an order priced at ``leader_price`` (its
    quote) arrived: the ones it takes as a taker.

    An ask *below* the quote (a bid above it, for a sell) would have been the quote, so it was
    posted after the decision: not there to take on arrival (posted while the order rested, it
    crossed it: :func:`crossing`). Left out too is a fill no resting order could have made
    (:func:`could_rest`); a quote taken from such a fill must not let one through.
    """
    real = [lv for lv in levels if could_rest(lv)]
    if side == "BUY":
        return [lv for lv in real if lv.price >= leader_price]
    return [lv for lv in real if lv.price <= leader_price]


def available(level: Level, consumed: Mapping[LevelKey, Decimal]) -> Decimal:
    return max(ZERO, level.shares - consumed.get(level.key, ZERO))


def best_price(
    levels: Iterable[Level], side: Side, consumed: Mapping[LevelKey, Decimal]
) -> Decimal | None:
    """The price a taker on ``side`` would get first, after the follower's own consumption."""
    for level in better_first(levels, side):
        if available(level, consumed) > 0:
            return level.price
    return None


def takes(
    levels: Iterable[Level],
    side: Side,
    shares: Decimal,
    limit: Decimal,
    consumed: MutableMapping[LevelKey, Decimal],
) -> list[tuple[Level, Decimal]]:
    """Up to ``shares`` from the best levels within ``limit``, as (level, shares taken); what
    was taken is added to ``consumed``."""
    remaining = shares
    out: list[tuple[Level, Decimal]] = []
    for level in better_first(levels, side):
        if remaining <= 0:
            break
        if (side == "BUY" and level.price > limit) or (side == "SELL" and level.price < limit):
            break
        take = min(available(level, consumed), remaining)
        if take <= 0:
            continue
        out.append((level, take))
        remaining -= take
        consumed[level.key] = consumed.get(level.key, ZERO) + take
    return out


@dataclass(frozen=True, slots=True)
class Take:
    """What an order took of one level: as a taker at the level's price, or as the maker the
    level's flow met at the order's limit."""

    level: Level
    shares: Decimal
    price: Decimal
    maker: bool

    def report(self, taker_fee_rate: Decimal, at: datetime) -> FillReport:
        """The fill: a taker pays ``taker_fee_rate``, a maker nothing (:func:`paper_fill`)."""
        return paper_fill(self.shares, self.price, taker_fee_rate, at, maker=self.maker)


def _beyond(price: Decimal, bound: Decimal, side: Side) -> bool:
    """Whether ``price`` is strictly better for a resting order on ``side`` than ``bound``:
    below it for a BUY, above it for a SELL."""
    return price < bound if side == "BUY" else price > bound


def crossing(
    offers: Iterable[Level],
    opposite: Iterable[Level],
    side: Side,
    limit: Decimal,
    quote: Decimal,
) -> list[Level]:
    """The flow that met an order resting at ``limit`` after its decision, oldest first.

    ``offers`` are the levels a taker on ``side`` meets (asks, for a BUY), ``opposite`` the
    others (bids). An offer beyond the quote was posted after the decision, and crossed the order
    if beyond its limit; the taker who took an opposite level beyond the limit (a seller hitting
    a bid below a BUY's limit) met the order's better price first.
    """
    flow = [lv for lv in offers if _beyond(lv.price, quote, side)] + list(opposite)
    flow = [lv for lv in flow if could_rest(lv) and _beyond(lv.price, limit, side)]
    return sorted(flow, key=lambda lv: (lv.time, lv.key))


def fill_resting(
    offers: Iterable[Level],
    opposite: Iterable[Level],
    side: Side,
    shares: Decimal,
    limit: Decimal,
    quote: Decimal,
    consumed: MutableMapping[LevelKey, Decimal],
) -> list[Take]:
    """The one fill rule (module docstring): up to ``shares`` of an order on ``side`` at
    ``limit``, priced from ``quote`` — the offers it could have met on arrival, as a taker, best
    first; then the flow that crossed it while it rested, at ``limit``, as maker, oldest first.
    What was taken is added to ``consumed``."""
    offers = list(offers)
    out = [
        Take(level, took, level.price, False)
        for level, took in takes(plausible(offers, side, quote), side, shares, limit, consumed)
    ]
    remaining = shares - sum((t.shares for t in out), ZERO)
    for level in crossing(offers, opposite, side, limit, quote):
        if remaining <= 0:
            break
        took = min(available(level, consumed), remaining)
        if took <= 0:
            continue
        out.append(Take(level, took, limit, True))
        remaining -= took
        consumed[level.key] = consumed.get(level.key, ZERO) + took
    return out
