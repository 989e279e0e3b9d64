"""The live broker's reads of a market's own rules, cached per token
(:class:`~orderflow.execution.market_rules.RulesCache`, :data:`RULES_TTL_SECS`):

* its minimum order size and tick, from the token's book (``GET /book?token_id=``), and the
  book's levels (``tops``: a live decision's quote, read afresh before it; the read is
  :class:`~orderflow.execution.book_reads.BookReads`', shared with paper's public books);
* its taker fee schedule, as the official SDK reads it to build an order: ``GET
  /markets-by-token/{token}`` then ``GET /clob-markets/{condition}``, whose ``"fd": {"r", "e"}``
  the SDK applies as ``shares x r x (p(1 - p))^e`` (no ``fd``: rate 0, no fee). Read through the
  SDK's own per-market cache (:func:`~orderflow.execution.live_reads.read_fee_schedule`), which
  the order's build reads again: one read serves both.

A market stating no fee (rate 0, or no ``fd``) has ``fee`` :data:`~orderflow.signals.views.NO_FEE`:
the decision still prices with the strategy's ``taker_fee_rate`` (the conservative side), and its
fills are booked with none, as the exchange charges none (:func:`~orderflow.signals.sizing.
booked_fee`). A schedule that cannot be one
(:func:`~orderflow.execution.reply_checks.rules_problem`) or a read that fails leaves ``fee``
None: the decision prices with the strategy's ``taker_fee_rate`` (exponent 1) — at least the
nothing the SDK would count (the default rate is 0) —, the placement's fill is booked at it and
a fill from the account's trades at the trade's own ``fee_rate_bps`` (exponent 1). A failed fee read
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

from orderflow.execution.book_reads import BookReads
from orderflow.execution.broker import MarketRules
from orderflow.execution.live_reads import problem_of, read_fee_schedule
from orderflow.execution.market_rules import RULES_TIMEOUT_SECS, RulesCache
from orderflow.execution.reply_checks import refuse_reply, rules_problem
from orderflow.execution.unanswered import exchange_unanswered
from orderflow.signals.views import NO_FEE, FeeSchedule

log = logging.getLogger(__name__)


class LiveRules(BookReads):
    """``market_rules`` of :class:`~orderflow.execution.live.LiveBroker`: the book's rules in
    ``rules`` (and the books in ``tops``: :class:`~orderflow.execution.book_reads.BookReads`),
    the fee schedules in ``fees`` (a :class:`RulesCache` of their own, so that booking a fill,
    which needs the schedule alone, never reads a book)."""

    client: AsyncSecureClient
    fees: RulesCache

    async def market_rules(self, token_id: int) -> MarketRules | None:
        rules = await self.book_rules(token_id)
        fee = await self.market_fee(token_id)
        if fee is None:
            return rules
        return replace(rules or MarketRules(), fee=fee)

    async def market_fee(self, token_id: int) -> FeeSchedule | None:
        """The token's market's fee schedule, None when it states none or it is not known (a
        read that failed: not tried again for :data:`RULES_RETRY_SECS`)."""
        stated = await self.fees.ask(token_id, lambda known: self._read_fee(token_id, known))
        return None if stated is None else stated.fee

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
        stated = MarketRules(fee=FeeSchedule(info.rate, info.exponent) if info.rate else NO_FEE)
        problem = rules_problem(stated)
        if problem is not None:
            refuse_reply("market fee schedule", problem, token_id=str(token_id))
            self.fees.failed(token_id, busy=False)
            return known
        self.fees.store(token_id, stated)
        return stated
