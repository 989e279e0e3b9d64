"""Walking revealed depth: how much of an order the book's levels fill, and at what prices.

The chain shows fills, not the book; each maker fill is a level that rested until a taker took it
(:mod:`orderflow.signals.quotes` names its side). Both consumers of revealed depth walk it here:
the backtest's followers at their decision (:mod:`orderflow.backtest.liquidity`) and the
executor's paper exchange for an order resting until its expiry
(:mod:`orderflow.execution.paper_book`). A taker walks the levels best price first up to its
limit, each level at its own price, paying the taker fee on each (:func:`paper_fill`); what it
took is remembered (``consumed``) and is not there for the next order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from orderflow.execution.broker import FillReport
from orderflow.signals.sizing import USDC_STEP, taker_fee
from orderflow.signals.views import Side

LevelKey = tuple[str, int]  # (tx_hash, log_index) of the maker fill
ZERO = Decimal(0)


def paper_fill(
    shares: Decimal, price: Decimal, taker_fee_rate: Decimal, at: datetime
) -> FillReport:
    """A fill at ``price``: gross collateral and the V2 taker fee on top (as the exchange
    charges it)."""
    usdc = (shares * price).quantize(USDC_STEP)
    fee = taker_fee(shares, price, taker_fee_rate)
    return FillReport(fill_key="paper", shares=shares, usdc=usdc, fee=fee, price=price, at=at)


@dataclass(frozen=True, slots=True)
class Level:
    """One revealed maker order, priced in the followed token."""

    key: LevelKey
    time: datetime
    price: Decimal
    shares: Decimal


@dataclass(frozen=True, slots=True)
class DepthFill:
    """What walking the book gave: gross shares and collateral, fees, levels touched."""

    shares: Decimal
    usdc: Decimal
    fee: Decimal
    levels: int

    @property
    def price(self) -> Decimal | None:
        """Average price per share (None when nothing filled)."""
        return None if self.shares <= 0 else self.usdc / self.shares


def better_first(levels: Iterable[Level], side: Side) -> list[Level]:
    """Best price first for a taker on ``side`` (cheapest ask / highest bid), then oldest."""
    if side == "BUY":
        return sorted(levels, key=lambda lv: (lv.price, lv.time, lv.key))
    return sorted(levels, key=lambda lv: (-lv.price, lv.time, lv.key))


def plausible(levels: Iterable[Level], side: Side, leader_price: Decimal) -> list[Level]:
    """The levels that could have been resting when the leader traded.

    An ask *below* the leader's own price (a bid above it, for a sell) would have filled the
    leader first, so it was posted after the leader's trade — typically a pre-arranged cross (a
    wash ring's off-market trade) that nobody else could have hit. Counting it would flatter the
    follower; it is left out. So is a fill no resting order could have made: no shares, or a
    price outside (0, 1) — a wash ring's price-0 gift, a "bid" at 1 or more (the CLOB rests
    orders strictly between); a quote taken from such a fill must not let one through.
    """
    real = [lv for lv in levels if lv.shares > 0 and 0 < lv.price < 1]
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


def walk(
    levels: Iterable[Level],
    side: Side,
    shares: Decimal,
    limit: Decimal,
    fee_rate: Decimal,
    consumed: MutableMapping[LevelKey, Decimal],
    at: datetime,
) -> DepthFill:
    """Take up to ``shares`` from the best levels within ``limit``; remember what was taken."""
    taken, usdc, fee = ZERO, ZERO, ZERO
    touched = takes(levels, side, shares, limit, consumed)
    for level, take in touched:
        report = paper_fill(take, level.price, fee_rate, at)
        usdc += report.usdc
        fee += report.fee
        taken += take
    return DepthFill(taken, usdc, fee, len(touched))
