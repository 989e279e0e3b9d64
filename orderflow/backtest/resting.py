"""The followers' orders between their decision and their close: resting, filled when met.

The executor's order rests on the exchange (paper: :mod:`orderflow.execution.paper_book`) from
its placement until it is filled, expires (the strategy's ``order_ttl_secs``), is cancelled — its
leader left the token (the leader-exit cancel, docs/executor.md) — or is closed by its market's
resolution (the CLOB cancels what rests on a resolved market); each fill is booked when the trade
that makes it comes, at its price, and the position starts there. So here: an accepted order
rests with the levels the chain reveals within its life (:mod:`orderflow.backtest.liquidity`),
and when the replay reaches a level's time the order meets the levels revealed then by the one
fill rule (:func:`orderflow.execution.depth.fill_resting`, the paper exchange's: the offers it
could have met on arrival as a taker, the flow crossing it at its limit as maker), each fill
booked at that time (:meth:`orderflow.backtest.book.Book.fill`). The paper exchange's matching
pass offers an order the levels revealed since it rested, less those it took; a level met
earlier is then either taken (to the order's size, or to the last share a follower's earlier
order left of it) or beyond the order's reach for good (its price, the quote and the limit do not
change), so meeting each time's new levels is the pass run at every level. What rests counts in
the follower's book as the executor's live orders do (:meth:`Orders.view`).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from orderflow.backtest.book import NO_LIQUIDITY, Book, SignalRecord
from orderflow.backtest.tape import Tape
from orderflow.execution.book import fee_reserved, order_exposure
from orderflow.execution.depth import ZERO, Level, LevelKey, fill_resting
from orderflow.signals.views import Side, StrategyBook

FILLED = "filled"
EXPIRED = "expired"
LEADER_EXITED = "leader_exited"
MARKET_RESOLVED = "market_resolved"
# What a signal whose order closed with nothing filled is SKIPPED for.
UNFILLED = {
    FILLED: NO_LIQUIDITY,
    EXPIRED: NO_LIQUIDITY,
    LEADER_EXITED: LEADER_EXITED,
    MARKET_RESOLVED: MARKET_RESOLVED,
}

# An event's kind, in the order events of one time are taken: the levels revealed then meet the
# order before its expiry closes it (a level at the expiry still fills it, as on paper).
_MEET, _EXPIRE = 0, 1


@dataclass(eq=False)
class Resting:
    """One follower's order resting at ``limit`` from its decision until ``expires``.

    ``levels``: what the chain reveals within its life, as (level, True for an offer — a level a
    taker on its side meets — False for the opposite side), oldest first; ``seen``: the tape's
    count of fills when its trigger was observed; ``follows``: the wallet whose leaving the token
    after the trigger cancels what rests (an entry that follows its trigger's wallet), None: no
    leader-exit cancel; ``then``: told once the order has closed.
    """

    book: Book
    consumed: dict[LevelKey, Decimal]
    signal: SignalRecord
    limit: Decimal
    quote: Decimal
    remaining: Decimal
    expires: datetime
    levels: list[tuple[Level, bool]]
    seen: int = 0
    follows: str | None = None
    then: Callable[[Resting], None] | None = None
    closed: bool = field(default=False, init=False)
    _next: int = field(default=0, init=False)

    @property
    def side(self) -> Side:
        return "SELL" if self.signal.side == "SELL" else "BUY"

    @property
    def token_id(self) -> int:
        return self.signal.token_id

    def event(self) -> tuple[datetime, int]:
        """When the order next meets levels, else when it expires."""
        if self._next < len(self.levels):
            return self.levels[self._next][0].time, _MEET
        return self.expires, _EXPIRE

    def meet(self) -> datetime:
        """Meet the levels revealed at the next level's time; book what they fill."""
        at = self.levels[self._next][0].time
        offers: list[Level] = []
        opposite: list[Level] = []
        while self._next < len(self.levels) and self.levels[self._next][0].time == at:
            level, offer = self.levels[self._next]
            (offers if offer else opposite).append(level)
            self._next += 1
        for take in fill_resting(
            offers, opposite, self.side, self.remaining, self.limit, self.quote, self.consumed
        ):
            self.book.fill(self.signal, take.report(self.book.fee_rate, at))
            self.remaining -= take.shares
        return at


def revealed(offers: list[Level], opposite: list[Level]) -> list[tuple[Level, bool]]:
    """The levels of an order's life, oldest first, each marked as an offer or not."""
    marked = [(lv, True) for lv in offers] + [(lv, False) for lv in opposite]
    return sorted(marked, key=lambda m: (m[0].time, m[0].key))


class Orders:
    """Every follower's resting orders, met in time order (:meth:`step`)."""

    def __init__(self) -> None:
        self.live: list[Resting] = []
        self._events: list[tuple[datetime, int, int, Resting]] = []
        self._seq = 0

    def place(self, order: Resting) -> None:
        self.live.append(order)
        self._push(order)

    def _push(self, order: Resting) -> None:
        self._seq += 1
        at, kind = order.event()
        heapq.heappush(self._events, (at, kind, self._seq, order))

    def next_at(self) -> datetime | None:
        """The time of the next event of a live order (None: nothing rests)."""
        while self._events and self._events[0][3].closed:
            heapq.heappop(self._events)
        return self._events[0][0] if self._events else None

    def step(self) -> None:
        """Take the next event: the order meets the levels revealed then (filled: closed), or
        expires."""
        if self.next_at() is None:
            return
        at, kind, _, order = heapq.heappop(self._events)
        if kind == _EXPIRE:
            self.close(order, EXPIRED, at)
            return
        order.meet()
        if order.remaining <= 0:
            self.close(order, FILLED, at)
        else:
            self._push(order)

    def close(self, order: Resting, how: str, at: datetime) -> None:
        order.closed = True
        self.live.remove(order)
        order.book.order_ended(order.signal, how, at, UNFILLED[how])
        if order.then is not None:
            order.then(order)

    def of(self, book: Book) -> list[Resting]:
        return [o for o in self.live if o.book is book]

    def view(self, book: Book, now: datetime, tape: Tape) -> StrategyBook:
        """``book`` as the executor's view of it at ``now``, its live orders counted: a BUY as
        the position it becomes (:func:`orderflow.execution.book.order_exposure`), the taker fee
        it may still pay included as for a resting paper order
        (:func:`orderflow.execution.book.fee_reserved`: the paper exchange charges it on the
        levels the order takes), a SELL as an exit that still rests."""
        mine = self.of(book)
        entries = [
            order_exposure(
                o.token_id,
                o.signal.market_id,
                o.remaining,
                o.limit,
                tape.last_price(o.token_id),
                fee_reserved("paper", "OPEN", o.limit, book.fee_rate, None),
            )
            for o in mine
            if o.side == "BUY" and o.remaining > ZERO
        ]
        exits = frozenset(o.token_id for o in mine if o.side == "SELL")
        return book.view(now, tape, entries, exits)

    def following(self, book: Book, token_id: int, wallet: str) -> bool:
        """Whether an order of ``book`` rests in ``token_id`` following ``wallet``."""
        return any(o.token_id == token_id and o.follows == wallet for o in self.of(book))

    def leader_left(self, book: Book, token_id: int, wallet: str, seen: int, at: datetime) -> None:
        """``wallet`` left ``token_id`` in the ``seen``-th fill: what rests of ``book``'s entries
        that followed it in on an earlier fill is cancelled at ``at`` (the executor's leader-exit
        cancel: ``orderflow.execution.switch_queries.left_behind``)."""
        for order in self.of(book):
            if order.token_id == token_id and order.follows == wallet and order.seen < seen:
                self.close(order, LEADER_EXITED, at)

    def resolved(self, market_id: str, at: datetime) -> None:
        """The market resolved at ``at``: what rests on it is closed (the CLOB cancels it)."""
        for order in [o for o in self.live if o.signal.market_id == market_id]:
            self.close(order, MARKET_RESOLVED, at)
