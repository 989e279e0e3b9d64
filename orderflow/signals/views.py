"""What the decision pipeline sees: plain, immutable snapshots with no database behind them.

The executor builds these from PostgreSQL (``orderflow.signals.queries``,
``orderflow.signals.market_queries``); the walk-forward backtest builds them from its own as-of
view of history. Either way :func:`evaluate` receives the
same types, so live trading and backtests run the same decision code.

Money and prices are ``Decimal`` (exact); probabilities and scores are floats (they are estimates,
never stored as money).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

Side = Literal["BUY", "SELL"]


@dataclass(frozen=True, slots=True)
class TradeView:
    """One stored fill (a row of ``orderflow_trades``) as seen from its owner, the wallet."""

    chain_id: int
    tx_hash: str
    log_index: int
    wallet: str
    side: Side
    token_id: int
    price: Decimal
    size: Decimal
    usdc_size: Decimal
    timestamp: datetime
    market_id: str | None = None
    outcome_index: int | None = None
    id: int | None = None
    traceparent: str | None = None
    inserted_at: datetime | None = None  # when the listener stored it (latency metric only)
    # True: the row of the order that crossed the book (is_taker_aggregate), the wallet's own
    # decision; False: its resting order was filled (liquidity provision, never a signal);
    # None: not known (hand-built views).
    is_taker: bool | None = None
    # The fill's block: with ``log_index`` its place on the chain, which orders a leader's buy
    # and its sell (``orderflow.signals.market_queries.left_since``); None for hand-built views.
    block_number: int | None = None
    # The other token of the fill's condition (the token registry's complement), None when not
    # known: its wallet buying it leaves this token (``orderflow.signals.exits.leaving``).
    complement: int | None = None
    # This view is its wallet's BUY of the complement read as the sale of this token it is
    # (``orderflow.signals.exits.leaving``): token, outcome, side and price are the mirror's.
    mirrored: bool = False


@dataclass(frozen=True, slots=True)
class WalletView:
    """The reputation stage's verdict on a wallet at decision time.

    ``edge`` is the posterior mean of the wallet's fee-net edge per dollar on its taker decisions
    (shrunk toward the population) and ``edge_se`` its posterior standard deviation;
    ``p_edge_above_cost`` / ``p_edge_below_zero`` the posterior probabilities the run stored;
    ``follower_cost`` the cost per dollar the run judged the edge against; ``prior_mean`` the
    population's mean fee-net edge it shrank toward (what the average taker loses: the spread and
    fees every taker pays, a follower or fader too); ``resolved_buys``
    the resolved events behind them (0: not measured); ``flags`` the behaviour flags
    (MARKET_MAKER, WASH, PENNY_PICKER, WASH_COUNTERPARTY, HEDGED, COPIER: never followed; WASH,
    WASH_COUNTERPARTY, HEDGED and COPIER: never faded).
    """

    address: str
    score: float | None
    tier: str | None = None
    edge: float | None = None
    edge_se: float | None = None
    resolved_buys: int = 0
    flags: tuple[str, ...] = ()
    p_edge_above_cost: float | None = None
    p_edge_below_zero: float | None = None
    follower_cost: float | None = None  # the cost per dollar the run judged the edge against
    prior_mean: float | None = None  # the population's mean fee-net edge (<= 0)


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """A taker fee schedule: ``shares x rate x (p(1 - p))^exponent`` in collateral (the CLOB
    V2's, as the official SDK applies a market's ``GET /clob-markets`` ``fd``)."""

    rate: Decimal
    exponent: Decimal = Decimal(1)


# A market that states no fee schedule (the SDK's rate 0: a V2 order carries no fee, the
# exchange charges the market's): known to charge nothing, unlike a schedule not known (None).
NO_FEE = FeeSchedule(Decimal(0))


@dataclass(frozen=True, slots=True)
class MarketView:
    """The traded token's market at decision time.

    ``last_price`` is the price we would trade at now: the quote of the side we meet (the ask for
    a BUY, the bid for a SELL; :mod:`orderflow.signals.quotes` in the executor, the best revealed
    level in the backtest), None when none is known; ``window_high`` the highest trade price of
    the token during the panic-sell look-back window before the triggering fill (None when it did
    not trade then). ``resolves_at`` is the
    scheduled end when a source knows it (on-chain data does not: then None).
    ``fee``: the market's own taker fee schedule when the exchange stated one (live: read per
    market, :mod:`orderflow.execution.market_rules`); None: the strategy's ``taker_fee_rate``.
    ``leader_exited``: the fill's wallet has left the token since the fill (a SELL of it, or a
    BUY of its complement, after the fill on the chain): a leader followed on that BUY would be
    followed into a position it has left. ``quote_from``: where ``last_price`` comes from, the
    chain's fills (``tape``) or the exchange's book read for a live decision (``book``:
    :mod:`orderflow.execution.market_rules`); ``depth``, with a book's quote, the levels of the
    side met as (price, shares), best first: an entry buys no more than they offer at its limit.
    ``window_high`` is the market's: the fill's own wallet's prints, and prints at no price (0,
    or 1 or more), are left out (:mod:`orderflow.signals.market_queries`). ``market_id`` None:
    the token's market is not known (no entry: ``market_unknown``).
    """

    token_id: int
    market_id: str | None
    resolved: bool = False
    last_price: Decimal | None = None
    window_high: Decimal | None = None
    resolves_at: datetime | None = None
    tick_size: Decimal | None = None
    min_order_size: Decimal | None = None
    leader_exited: bool = False
    fee: FeeSchedule | None = None
    quote_from: Literal["tape", "book"] = "tape"
    depth: tuple[tuple[Decimal, Decimal], ...] | None = None
    # A live decision that wanted the exchange's book (``quote_from: book``) and has none read
    # now (the read failed, or reads are paused after a failure): ``last_price`` is the tape's.
    # An entry is SKIPPED ``no_book`` (:func:`orderflow.signals.risk.market_gates`).
    book_unread: bool = False


@dataclass(frozen=True, slots=True)
class OpenPosition:
    """One open position of a strategy, as far as risk limits care. The executor folds its
    resting and in-flight BUY orders in (their remaining size at their limit price): exposure is
    what is held plus what may still fill."""

    token_id: int
    market_id: str | None
    shares: Decimal
    cost: Decimal
    unrealized_pnl: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class StrategyBook:
    """A strategy's state that limits what it may open next.

    ``open_positions`` holds positions and live (resting, in-flight or in-doubt) BUY orders by
    token; ``exits`` the token of each live SELL (an exit resting or in doubt).
    ``day_pnl`` is the P&L since 00:00 UTC: realized since midnight (partial sells included)
    plus the change of unrealized P&L since midnight's mark, minus what live orders would lose
    at once if they filled at their limit now (see docs/executor.md).
    ``cash`` is what the strategy may still spend: ``bankroll`` plus all its realized P&L to date,
    less the cost of its open positions and live BUY orders (:func:`cash_left`); None: not
    known (a hand-built book), no limit. ``realized``: all the P&L it realized to date; a loss
    shrinks the bankroll Kelly stakes a fraction of (:attr:`kelly_bankroll`). The executor's
    ``day_pnl``, ``cash`` and ``realized`` are those of the strategy's mode (paper or live: each
    has the bankroll to itself), ``open_positions`` every mode's
    (:mod:`orderflow.execution.book`).
    """

    bankroll: Decimal
    open_positions: Mapping[int, OpenPosition] = field(default_factory=dict)
    day_pnl: Decimal = Decimal(0)
    paused: bool = False
    killed: bool = False
    exits: frozenset[int] = frozenset()
    cash: Decimal | None = None
    realized: Decimal = Decimal(0)
    # Tokens held or on order in the other mode (paper or live) than the one entries go to now:
    # an entry in one would be booked into that mode's position (one open position per token).
    other_mode: frozenset[int] = frozenset()

    @property
    def kelly_bankroll(self) -> Decimal:
        """What Kelly stakes a fraction of: the bankroll less what the strategy has lost to date
        (never below 0); gains do not raise it (the bankroll does not compound)."""
        return max(Decimal(0), self.bankroll + min(Decimal(0), self.realized))

    def market_exposure(self, market_id: str | None) -> Decimal:
        if market_id is None:
            return Decimal(0)
        return sum(
            (p.cost for p in self.open_positions.values() if p.market_id == market_id),
            Decimal(0),
        )

    def holds(self, token_id: int, market_id: str | None, min_shares: Decimal) -> bool:
        """A position or live order in this token, or in any outcome of its market: one
        position per market (a YES and a NO of one market is a locked loss, not two bets).

        Dust — fewer than ``min_shares``, the market's minimum order size, held and on order —
        is not a position here: the exchange refuses to sell it, so it is held to resolution,
        and it must not close its market to new entries (its cost still counts in
        :meth:`market_exposure`). A new entry makes it sellable again. But not an entry in the
        token while an exit of it is still live (what is left of a partly filled SELL): a BUY
        of the token would meet our own resting SELL on the book. A BUY of another outcome
        cannot (in the unified book it is on that SELL's side): the market stays open to it,
        as to any dust's. Nor in a token held or on order in the other mode, dust included
        (:attr:`other_mode`): the fill would join that mode's position."""
        if token_id in self.exits or token_id in self.other_mode:
            return True
        return any(
            p.shares >= min_shares
            and (p.token_id == token_id or (market_id is not None and p.market_id == market_id))
            for p in self.open_positions.values()
        )

    def open_count(self, besides: tuple[int, str | None] | None = None) -> int:
        """Open positions, counted by market (by token when the market is unknown); ``besides``
        (a token and its market): not counting that market."""
        keys = {p.market_id or str(p.token_id) for p in self.open_positions.values()}
        if besides is not None:
            keys.discard(besides[1] or str(besides[0]))
        return len(keys)


def cash_left(
    bankroll: Decimal, realized: Decimal, open_positions: Mapping[int, OpenPosition]
) -> Decimal:
    """What a strategy may still spend: its bankroll and all it realized to date, less what its
    open positions and live BUY orders (``open_positions``, at cost) tie up. The exchange refuses
    a BUY the wallet cannot pay for; this is the paper exchange's wallet, and the backtest's."""
    return bankroll + realized - sum((p.cost for p in open_positions.values()), Decimal(0))
