"""A limit order book per condition, kept in YES terms, matched the way the CLOB matches.

Polymarket's books for a condition's two tokens are one book: a BUY of NO at 0.40 is an offer of
YES at 0.60 (the exchange mints a YES/NO pair from the two buyers' collateral), a SELL of NO at
0.40 is a bid for YES at 0.60 (the exchange merges a pair). So each resting order sits on the
YES-bid side (BUY YES, SELL NO) or the YES-ask side (SELL YES, BUY NO) at its YES price, and a
taker order walks the opposite side best price first, oldest first within a price. Each maker
order it meets is filled at the maker's own price; the match type (transfer, mint, merge)
follows from the two orders' sides and tokens, exactly as on the exchange.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Side = Literal["BUY", "SELL"]
SHARE_STEP = 10_000  # fills are whole hundredths of a share (base units: 6 decimals)


@dataclass(slots=True)
class Order:
    """A resting maker order, in its owner's terms (its own token, side and price)."""

    owner: int  # wallet index
    side: Side
    outcome: int  # 0 = YES token, 1 = NO token
    cents: int  # limit price of its own token
    remaining: int  # shares, base units
    seq: int  # arrival number: time priority within a price
    order_hash: str = ""  # given when first filled (an unfilled order never reaches the chain)
    yes_cents: int = field(init=False)  # its price as a YES price
    is_yes_bid: bool = field(init=False)  # BUY YES or SELL NO

    def __post_init__(self) -> None:
        self.yes_cents = self.cents if self.outcome == 0 else 100 - self.cents
        self.is_yes_bid = (self.side == "BUY") == (self.outcome == 0)


@dataclass(frozen=True, slots=True)
class Take:
    """One maker order's part in a taker's match."""

    order: Order
    shares: int
    taker_cents: int  # the price in the taker's token terms at this maker's level


@dataclass(slots=True)
class Book:
    bids: list[Order] = field(default_factory=list)  # YES bids, best (highest) first
    asks: list[Order] = field(default_factory=list)  # YES asks, best (lowest) first
    quoted_at: dict[int, float] = field(default_factory=dict)  # maker -> last requote time
    # maker -> (bid, ask, YES held, NO held) of its standing quotes, dropped once one fills
    quote_key: dict[int, tuple[int, int, int, int]] = field(default_factory=dict)

    def add(self, *orders: Order) -> None:
        for order in orders:
            (self.bids if order.is_yes_bid else self.asks).append(order)
        self.bids.sort(key=lambda o: (-o.yes_cents, o.seq))
        self.asks.sort(key=lambda o: (o.yes_cents, o.seq))

    def cancel_owner(self, owner: int) -> None:
        self.bids = [o for o in self.bids if o.owner != owner]
        self.asks = [o for o in self.asks if o.owner != owner]

    def clear(self) -> None:
        self.bids.clear()
        self.asks.clear()
        self.quoted_at.clear()
        self.quote_key.clear()

    def best_yes(self, bid: bool) -> int | None:
        side = self.bids if bid else self.asks
        return side[0].yes_cents if side else None

    def taker_price(self, side: Side, outcome: int) -> int | None:
        """Best price a taker of (side, outcome) would get, in its own token's cents."""
        consumes_asks = (side == "BUY") == (outcome == 0)
        yes = self.best_yes(bid=not consumes_asks)
        if yes is None:
            return None
        return yes if outcome == 0 else 100 - yes

    def depth_at(self, side: Side, outcome: int, cents: int) -> int:
        """Shares resting at ``cents`` (in the taker's token terms) that a taker of (side,
        outcome) would meet there, before any maker's holdings limit."""
        consumes_asks = (side == "BUY") == (outcome == 0)
        yes = cents if outcome == 0 else 100 - cents
        side_ = self.asks if consumes_asks else self.bids
        return sum(o.remaining for o in side_ if o.yes_cents == yes)

    def walk(
        self,
        side: Side,
        outcome: int,
        limit_cents: int,
        max_shares: int,
        max_collateral: int,
        taker: int,
        maker_holdings: dict[int, dict[int, int]],
        key_base: int,
    ) -> list[Take]:
        """Fill a taker order against the book, best first, up to its limit and size.

        A BUY is bounded by ``max_collateral`` (base units) and, when it is not 0, by
        ``max_shares``; a SELL by ``max_shares``. A maker
        SELL order is good only for the shares its owner still holds (``maker_holdings`` maps a
        wallet index to its holdings, keyed ``key_base + outcome``). Filled orders leave the
        book; the taker's own orders are skipped.
        """
        consumes_asks = (side == "BUY") == (outcome == 0)
        resting = self.asks if consumes_asks else self.bids
        takes: list[Take] = []
        shares_left, cash_left = max_shares, max_collateral
        used: dict[tuple[int, int], int] = {}  # (maker, token key) -> shares sold in this walk
        for order in list(resting):
            if order.owner == taker:
                continue
            cents = order.yes_cents if outcome == 0 else 100 - order.yes_cents
            if (side == "BUY" and cents > limit_cents) or (side == "SELL" and cents < limit_cents):
                break
            n = order.remaining
            if order.side == "SELL":
                slot = (order.owner, key_base + order.outcome)
                held = maker_holdings[order.owner].get(slot[1], 0) - used.get(slot, 0)
                n = min(n, held - held % SHARE_STEP)
            if side == "BUY":
                n = min(n, cash_left * 100 // cents // SHARE_STEP * SHARE_STEP)
                if max_shares:  # a BUY of so many shares (a complete set's leg)
                    n = min(n, shares_left)
            else:
                n = min(n, shares_left)
            if n <= 0:
                if side == "BUY" and cash_left * 100 // cents < SHARE_STEP:
                    break
                if order.side == "SELL":
                    resting.remove(order)
                continue
            takes.append(Take(order, n, cents))
            if order.side == "SELL":
                used[slot] = used.get(slot, 0) + n
            order.remaining -= n
            if order.remaining <= 0:
                resting.remove(order)
            if side == "BUY":
                cash_left -= n * cents // 100
                shares_left -= n
                if max_shares and shares_left <= 0:
                    break
            else:
                shares_left -= n
                if shares_left <= 0:
                    break
        return takes
