"""The CLOB stand-in's markets and what a placement answers (:mod:`tests.execution.clob_exchange`
is what the exchange does with an order)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

# The CLOB refuses a marketable BUY worth less than this many dollars (whatever its size in shares).
MIN_MARKETABLE_BUY_USDC = Decimal(1)
# The order status of an order its market's resolution cancelled (Polymarket's order statuses:
# ``ORDER_STATUS_CANCELED_MARKET_RESOLVED``), and the statuses of a cancelled order.
MARKET_RESOLVED = "CANCELED_MARKET_RESOLVED"
CANCELED_STATUSES = ("CANCELED", MARKET_RESOLVED)


@dataclass
class Market:
    condition_id: str
    tokens: tuple[int, ...]
    neg_risk: bool = False
    tick: Decimal = Decimal("0.01")
    asks: dict[int, Decimal] = field(default_factory=dict)
    ask_sizes: dict[int, Decimal] = field(default_factory=dict)  # absent: unlimited
    bids: dict[int, Decimal] = field(default_factory=dict)
    bid_sizes: dict[int, Decimal] = field(default_factory=dict)
    min_size: Decimal = Decimal(5)
    # The market's taker fee schedule (rate r, exponent e: fee = shares x r x (p(1 - p))^e), as
    # GET /clob-markets/{condition} states it (``fd``); None: the market states none.
    fee: tuple[Decimal, Decimal] | None = None
    # The makers' orders resting at the level, in queue order (absent: one maker): a match takes
    # them in turn, one trade each.
    ask_lots: dict[int, list[Decimal]] = field(default_factory=dict)
    bid_lots: dict[int, list[Decimal]] = field(default_factory=dict)
    # Resolved (``ClobEvents.resolve_market``): its book is gone, what rested on it cancelled.
    resolved: bool = False


class Rejected(Exception):
    """The exchange refuses the order (the CLOB answers HTTP 400 with this message)."""


@dataclass(frozen=True)
class Placement:
    """What the placement answer reports."""

    order_id: str
    side: str
    price: Decimal
    matched: Decimal  # shares matched at placement
    unmatched: bool  # placed without matching (``unmatched_next``)
    trade_ids: list[str]
    delayed: bool = False  # its matching held back (``delayed_next``)
