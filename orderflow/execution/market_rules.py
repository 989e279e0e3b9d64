"""The traded market's own order rules (minimum order size, tick, taker fee schedule) in the
decision's market view.

Polymarket markets have their own minimum order size (5 shares for most, 15 or more for some)
and tick; the CLOB refuses an order under the minimum, BUY or SELL (``order 0x… is invalid.
Size (10) lower than the minimum: 15``). The live broker reads them from the token's book
(``GET /book?token_id=``: ``min_order_size``, ``tick_size``) and keeps them in a
:class:`RulesCache` for :data:`RULES_TTL_SECS` (they rarely change: one read per token, not per
order); a refusal under the minimum records the minimum it states
(:meth:`RulesCache.refused`), so the next decision knows it even when the book cannot be read.
Any other refusal of an order, or an order that could not be built, has its token's rules read
again at the next decision (:meth:`RulesCache.stale`): the tick may have changed since.
A read that fails (an error, a rate limit, no answer in :data:`RULES_TIMEOUT_SECS`, a book that
does not parse) is not tried again for :data:`RULES_RETRY_SECS` (a busy exchange — no answer,
429, 5xx —: no token's book is read meanwhile; any other failure: that token's), and the
decision falls back to the strategy's ``min_order_size`` and ``tick_size``; the exchange's
refusal handles the rest. Trading never fails on it, nor waits for it more than one timeout a
minute. The market's taker fee schedule is read and kept alike, in a cache of its own
(:mod:`orderflow.execution.live_rules`): the decision's fee per share, and the fee of a fill
booked from the account's trades; not known, the strategy's ``taker_fee_rate``. Each cache reads
a token once at a time (:meth:`RulesCache.ask`): its concurrent askers share the read under way,
its failure or refusal logged and counted once.

:func:`with_market_rules` puts the rules into the views the decision reads (entries and exits,
:mod:`orderflow.execution.trading`), with the broker of each decision's mode: paper has no book
to read and keeps the strategy's settings, as the backtest does. The trader asks first, before
taking its decision lock and opening the decision's transaction (:func:`warm_market_rules`):
a read the exchange is slow to answer holds up no other decision and no transaction, and the
cache answers inside.

**The quote of a live decision is the exchange's book** (the strategy's ``quote_from``, by
default ``book``; ``tape`` keeps the fills' quote). The same early step reads each token's book
afresh (``Broker.read_book``: live ``GET /book``, which refreshes the rules too; not while
the token's or the exchange's reads are paused after a failure), and the view's ``last_price``
becomes the book's best ask for a BUY, its best bid for a SELL, when that read is at most
:data:`BOOK_TOP_MAX_AGE_SECS` old: the price gates (``price_moved``, ``no_price``) and the
order's limit then read what the order will meet, not the fills of the last half hour (after a
leader's BUY swept the asks, the tape shows the level it took, the book the one left above),
and an entry buys no more than the levels offer at its limit (``depth``: the sizing's
``book_depth``).
No fresh read: paper keeps the tape's quote, as before; a live entry is SKIPPED ``no_book`` (priced
from the tape, a live order may pay what the market no longer offers; until 7 Dec 2026 it was
sent on the tape's quote: tests/execution/test_book_rate_limit.py), a live exit keeps the tape's
quote (leaving matters more, and its limit is never below the leader's sale less
``max_price_move``: :mod:`orderflow.signals.exits`).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Coroutine, Mapping, MutableSet, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from orderflow.execution.broker import BookTop, Broker, MarketRules
from orderflow.execution.reply_checks import minimum_problem, refuse_reply
from orderflow.signals.views import MarketView, Side, TradeView

RULES_TTL_SECS = 3600.0  # a market's minimum and tick, once read, for an hour
RULES_RETRY_SECS = 60.0  # after a failed read, the exchange is not asked again for a minute
RULES_TIMEOUT_SECS = 3.0  # a read that takes longer is a failed read
# A live decision's quote is the exchange's book read before it (Broker.read_book) when the read
# is at most this old; else the tape's (the decision's reads take a moment per token).
BOOK_TOP_MAX_AGE_SECS = 30.0
READS_AT_ONCE = 8  # tokens whose book and rules a decision reads at once
# The CLOB's refusal of an order under the market's minimum (BUY or SELL).
_UNDER_MINIMUM = re.compile(r"lower than the minimum: ([0-9]+(?:\.[0-9]+)?)")


def refused_minimum(reason: str | None) -> Decimal | None:
    """The market's minimum order size stated by a refusal (``… Size (10) lower than the
    minimum: 15`` -> 15), None for any other refusal, or a minimum no market has (refused:
    :mod:`orderflow.execution.reply_checks`)."""
    found = _UNDER_MINIMUM.search(reason or "")
    if found is None:
        return None
    try:
        minimum = Decimal(found.group(1))
    except InvalidOperation:
        return None
    problem = minimum_problem(minimum)
    if problem is not None:
        refuse_reply("refused minimum", problem)
        return None
    return minimum


@dataclass(frozen=True, slots=True)
class _Entry:
    rules: MarketRules | None
    until: float  # monotonic time after which the exchange is asked again
    failed: bool = False  # the last read failed: ``until`` ends its pause


class RulesCache:
    """Market rules by token, each until its lifetime ends (a failed read: until its pause
    ends, keeping what was known before)."""

    def __init__(
        self,
        *,
        ttl_secs: float = RULES_TTL_SECS,
        retry_secs: float = RULES_RETRY_SECS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_secs = ttl_secs
        self.retry_secs = retry_secs
        self.clock = clock
        self._entries: dict[int, _Entry] = {}
        self._paused_until = 0.0  # after a read the exchange was too busy for: no reads
        self._reading: dict[int, asyncio.Task[MarketRules | None]] = {}  # by token, under way

    async def ask(
        self,
        token_id: int,
        read: Callable[[MarketRules | None], Coroutine[Any, Any, MarketRules | None]],
    ) -> MarketRules | None:
        """The token's rules: those kept while they live or reads are paused (:meth:`lookup`),
        else what ``read`` (given the rules known before; it stores them, or records its
        failure) answers. One read per token at a time: the trading loop and maintenance ask
        before taking the decision lock, and each fill booked asks for its market's fee
        schedule, maybe for the same token at once; a later asker waits for the read under way
        (a waiter cancelled: the read goes on, and is kept)."""
        ask, known = self.lookup(token_id)
        if not ask:
            return known
        reading = self._reading.get(token_id)
        if reading is None:
            reading = asyncio.create_task(read(known))
            self._reading[token_id] = reading
            reading.add_done_callback(lambda _: self._reading.pop(token_id, None))
        return await asyncio.shield(reading)

    def lookup(self, token_id: int) -> tuple[bool, MarketRules | None]:
        """(whether to ask the exchange now, the rules last known): ask when the token's rules
        are unknown or past their lifetime, unless reads are paused."""
        entry = self._entries.get(token_id)
        now = self.clock()
        known = None if entry is None else entry.rules
        if now < self._paused_until or (entry is not None and now < entry.until):
            return False, known
        return True, known

    def store(self, token_id: int, rules: MarketRules) -> None:
        self._entries[token_id] = _Entry(rules, self.clock() + self.ttl_secs)

    def failed(self, token_id: int, *, busy: bool) -> None:
        """A failed read: not asked again for a while, for this token (it has no book, say)
        or, ``busy`` (no answer, 429, 5xx), for every token: the exchange is struggling, and
        each new token would wait for its timeout again."""
        known = self._entries.get(token_id)
        rules = None if known is None else known.rules
        until = self.clock() + self.retry_secs
        self._entries[token_id] = _Entry(rules, until, failed=True)
        if busy:
            self._paused_until = until

    def refresh(self, token_id: int) -> None:
        """Read the token again at the next ask (its book is wanted now), unless the last read
        failed and its pause has not ended: a token without a book is not asked every decision."""
        known = self._entries.get(token_id)
        if known is not None and not known.failed:
            self._entries[token_id] = _Entry(known.rules, min(known.until, self.clock()))

    def stale(self, token_id: int) -> None:
        """The token's rules may be wrong (the exchange refused an order priced and sized by
        them, or the order could not be built): read again at the next ask, the rules known
        meanwhile (a market's tick changes as its price nears 0 or 1)."""
        known = self._entries.get(token_id)
        if known is not None:
            self._entries[token_id] = _Entry(known.rules, min(known.until, self.clock()))

    def refused(self, token_id: int, reason: str | None) -> Decimal | None:
        """Record the minimum a refusal states (None: the refusal states none)."""
        minimum = refused_minimum(reason)
        if minimum is None:
            return None
        known = self._entries.get(token_id)
        tick = known.rules.tick_size if known is not None and known.rules is not None else None
        self.store(token_id, MarketRules(min_order_size=minimum, tick_size=tick))
        return minimum


def _with(
    view: MarketView, rules: MarketRules | None, top: BookTop | None, side: Side, *, unread: bool
) -> MarketView:
    """The view with the market's own rules and, from the exchange's book read for this
    decision, the quote the order meets: the best ask for a BUY, the best bid for a SELL (None:
    nobody offers: an entry is ``no_price``). ``unread``: a live decision's book was wanted and
    none is read (``book_unread``: an entry is ``no_book``)."""
    if rules is not None:
        view = replace(
            view,
            min_order_size=rules.min_order_size or view.min_order_size,
            tick_size=rules.tick_size or view.tick_size,
            fee=rules.fee or view.fee,
        )
    if top is not None:
        buy = side == "BUY"
        view = replace(
            view,
            last_price=top.ask if buy else top.bid,
            quote_from="book",
            depth=top.asks if buy else top.bids,
        )
    elif unread:
        view = replace(view, book_unread=True)
    return view


async def _ask(
    trades: Sequence[TradeView],
    broker_of: Callable[[TradeView], Broker | None],
    *,
    books: bool = False,
    read: MutableSet[tuple[int, int]] | None = None,
) -> dict[tuple[int, int], MarketRules | None]:
    """Each trade's market rules by (broker, token), from the broker that would trade it
    (``broker_of``; None: no broker, not asked), its book read first when ``books`` unless
    ``read`` holds it (read for another strategy's decisions of the same pass: added). One
    question per token, :data:`READS_AT_ONCE` tokens at a time: a slow exchange delays a batch
    of fills in many markets by one read's time, not one per market."""
    read = set() if read is None else read
    slots: dict[tuple[int, int], tuple[Broker, int]] = {}
    for trade in trades:
        broker = broker_of(trade)
        if broker is not None:
            slots.setdefault((id(broker), trade.token_id), (broker, trade.token_id))
    gate = asyncio.Semaphore(READS_AT_ONCE)

    async def one(broker: Broker, token_id: int) -> MarketRules | None:
        async with gate:
            if books and (id(broker), token_id) not in read:
                read.add((id(broker), token_id))
                await broker.read_book(token_id)
            return await broker.market_rules(token_id)

    answers = await asyncio.gather(*(one(b, t) for b, t in slots.values()))
    return dict(zip(slots, answers, strict=True))


async def warm_market_rules(
    trades: Sequence[TradeView],
    broker_of: Callable[[TradeView], Broker | None],
    *,
    books: bool = True,
    read: MutableSet[tuple[int, int]] | None = None,
) -> None:
    """Read, ahead of the decision, the rules :func:`with_market_rules` will put in the views
    of ``trades`` and, with ``books`` (the strategy's ``quote_from`` is ``book``), each token's
    book: a read the exchange is slow to answer then happens before the decision lock and its
    transaction, and the brokers' caches answer inside. ``read``: the (broker, token) books
    read already in this pass, by other strategies' decisions: not read again (each read counts
    against the exchange's rate limit; two strategies following one buy read its book twice)."""
    await _ask(trades, broker_of, books=books, read=read)


async def with_market_rules(
    views: Mapping[int, Mapping[Side, MarketView]],
    trades: Sequence[TradeView],
    broker_of: Callable[[TradeView], Broker | None],
    *,
    books: bool = True,
) -> dict[int, dict[Side, MarketView]]:
    """``views`` (by trade id, then side) with each trade's market rules from the broker that
    would trade it (``broker_of``; None: no broker, the view as it is) and, with ``books``, the
    quote of the book it read for this decision (:func:`warm_market_rules`). One question per
    token."""
    out = {key: dict(sides) for key, sides in views.items()}
    asked = await _ask([t for t in trades if (t.id or 0) in out], broker_of)
    for trade in trades:
        broker = broker_of(trade)
        rules = asked.get((id(broker), trade.token_id))
        top = None if broker is None or not books else broker.book_top(trade.token_id)
        # paper keeps the tape's quote when its books (PAPER_BOOKS) are not read: it risks no money
        unread = top is None and books and broker is not None and broker.mode == "live"
        key = trade.id or 0
        if key in out:
            out[key] = {
                side: _with(view, rules, top, side, unread=unread)
                for side, view in out[key].items()
            }
    return out
