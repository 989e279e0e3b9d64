"""The live broker's reads of a market's own rules, cached per token
(:class:`~orderflow.execution.market_rules.RulesCache`, :data:`RULES_TTL_SECS`):

* its minimum order size and tick, from the token's book (``GET /book?token_id=``), and the
  book's best ask and bid (``tops``: a live decision's quote, read afresh before it by
  :meth:`LiveRules.read_book`; :mod:`orderflow.execution.market_rules`);
* its taker fee schedule, as the official SDK reads it to build an order: ``GET
  /markets-by-token/{token}`` then ``GET /clob-markets/{condition}``, whose ``"fd": {"r", "e"}``
  the SDK applies as ``shares x r x (p(1 - p))^e`` (no ``fd``: rate 0, no fee). Read through the
  SDK's own per-market cache (:func:`~orderflow.execution.live_reads.read_fee_schedule`), which
  the order's build reads again: one read serves both.

A market stating no fee (rate 0, or no ``fd``), a schedule that cannot be one
(:func:`~orderflow.execution.reply_checks.rules_problem`) or a read that fails leaves ``fee``
None: the decision prices with the strategy's ``taker_fee_rate`` (exponent 1) — at least the
nothing the SDK would count (the default rate is 0) — and a fill from the account's
trades is booked at the trade's own ``fee_rate_bps`` (exponent 1), as before. A failed fee read
keeps the schedule known before, if any, and is tried again after ``RULES_RETRY_SECS``; the
book's rules and the schedule are cached apart: booking a fill reads no book. Each is read once
per token at a time (:meth:`~orderflow.execution.market_rules.RulesCache.ask`): the decision and
the fills booked meanwhile share one read, whose failure is logged (and refusal counted) once.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from polymarket import AsyncSecureClient
from polymarket.errors import UnexpectedResponseError
from polymarket.models.clob import OrderBook

from orderflow.execution.broker import BookTop, MarketRules
from orderflow.execution.live_reads import problem_of, read_fee_schedule
from orderflow.execution.market_rules import BOOK_TOP_MAX_AGE_SECS, RULES_TIMEOUT_SECS, RulesCache
from orderflow.execution.reply_checks import refuse_reply, rules_problem
from orderflow.execution.unanswered import exchange_unanswered
from orderflow.signals.views import FeeSchedule

log = logging.getLogger(__name__)

_TOPS_KEPT = 10_000  # tokens' tops of book kept before the old ones are forgotten


def _top(book: OrderBook, read_at: float) -> BookTop | str:
    """The book's best levels (the SDK's order puts the best last; taken by price here), or
    why the book cannot be one: a level outside (0, 1) or of no size, or a bid at or above an
    ask (the exchange matches a crossed pair at once)."""
    for level in (*book.bids, *book.asks):
        if not (0 < level.price < 1) or not level.size > 0:
            return f"a level at {level.price} for {level.size} shares"
    asks = tuple(sorted((level.price, level.size) for level in book.asks))
    bids = tuple(sorted(((level.price, level.size) for level in book.bids), reverse=True))
    if asks and bids and bids[0][0] >= asks[0][0]:
        return f"a crossed book: bid {bids[0][0]} at or above ask {asks[0][0]}"
    return BookTop(asks=asks, bids=bids, read_at=read_at)


class LiveRules:
    """``market_rules`` of :class:`~orderflow.execution.live.LiveBroker`: the book's rules in
    ``rules``, the fee schedules in ``fees`` (a :class:`RulesCache` of their own, so that
    booking a fill, which needs the schedule alone, never reads a book)."""

    client: AsyncSecureClient
    rules: RulesCache
    fees: RulesCache
    tops: dict[int, BookTop]  # each token's best levels, from its last book read

    async def read_book(self, token_id: int) -> None:
        """The token's book read now (its rules refreshed by the same read), unless its last
        read failed and the pause after it has not ended, or every read is paused."""
        self.rules.refresh(token_id)
        await self._book_rules(token_id)

    def book_top(self, token_id: int) -> BookTop | None:
        top = self.tops.get(token_id)
        if top is None or self.rules.clock() - top.read_at > BOOK_TOP_MAX_AGE_SECS:
            return None
        return top

    def _keep_top(self, token_id: int, top: BookTop) -> None:
        """Keep the token's top of book; past :data:`_TOPS_KEPT` tokens, those too old to be a
        quote are forgotten (an executor runs for months over ever new markets)."""
        self.tops[token_id] = top
        if len(self.tops) > _TOPS_KEPT:
            old = top.read_at - BOOK_TOP_MAX_AGE_SECS
            self.tops = {t: kept for t, kept in self.tops.items() if kept.read_at >= old}

    async def market_rules(self, token_id: int) -> MarketRules | None:
        rules = await self._book_rules(token_id)
        fee = await self.market_fee(token_id)
        if fee is None:
            return rules
        return replace(rules or MarketRules(), fee=fee)

    async def market_fee(self, token_id: int) -> FeeSchedule | None:
        """The token's market's fee schedule, None when it states none or it is not known (a
        read that failed: not tried again for :data:`RULES_RETRY_SECS`)."""
        stated = await self.fees.ask(token_id, lambda known: self._read_fee(token_id, known))
        return None if stated is None else stated.fee

    async def _book_rules(self, token_id: int) -> MarketRules | None:
        return await self.rules.ask(token_id, lambda known: self._read_rules(token_id, known))

    async def _read_fee(self, token_id: int, known: MarketRules | None) -> MarketRules | None:
        try:
            async with asyncio.timeout(RULES_TIMEOUT_SECS):
                info = await read_fee_schedule(self.client, token_id)
        except Exception as exc:  # best effort, as the book's read (and paused alike)
            problem = problem_of(exc) if isinstance(exc, UnexpectedResponseError) else None
            log.warning(
                "market fee schedule not read; the strategy's rate applies",
                extra={"token_id": str(token_id), "error": problem or type(exc).__name__},
            )
            self.fees.failed(token_id, busy=problem is None and exchange_unanswered(exc))
            return known
        stated = MarketRules(fee=FeeSchedule(info.rate, info.exponent) if info.rate else None)
        problem = rules_problem(stated)
        if problem is not None:
            refuse_reply("market fee schedule", problem, token_id=str(token_id))
            self.fees.failed(token_id, busy=False)
            return known
        self.fees.store(token_id, stated)
        return stated

    async def _read_rules(self, token_id: int, known: MarketRules | None) -> MarketRules | None:
        try:
            async with asyncio.timeout(RULES_TIMEOUT_SECS):
                book = await self.client.get_order_book(token_id=str(token_id))
        except UnexpectedResponseError as exc:
            # The exchange answered, with a book that does not parse: this token's read failed,
            # not the exchange (it used to pause every token's reads for a minute).
            problem = problem_of(exc)
        except Exception as exc:  # best effort: nothing of it reaches the trading loop
            # A failed read (error, rate limit, no answer) falls back to what was known, else
            # to the strategy's settings; the exchange's refusal handles the rest.
            self.rules.failed(token_id, busy=exchange_unanswered(exc))
            log.warning(
                "market rules not read; the strategy's minimum applies",
                extra={"token_id": str(token_id), "error": type(exc).__name__},
            )
            return known
        else:
            rules = MarketRules(min_order_size=book.min_order_size, tick_size=book.tick_size)
            top = _top(book, self.rules.clock())
            # refused like a book that does not parse
            impossible = rules_problem(rules) or (top if isinstance(top, str) else None)
            if impossible is None:
                self.rules.store(token_id, rules)
                if isinstance(top, BookTop):
                    self._keep_top(token_id, top)
                return rules
            problem = impossible
        refuse_reply("market rules", problem, token_id=str(token_id))
        self.rules.failed(token_id, busy=False)  # this token's read, not the exchange, failed
        return known
