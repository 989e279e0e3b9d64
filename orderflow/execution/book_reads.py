"""A token's book read from the CLOB (``GET /book?token_id=``): the market's minimum order size
and tick, and the levels a decision prices against.

:class:`BookReads` is the read the live broker makes through its authenticated client
(:class:`~orderflow.execution.live_rules.LiveRules`) and :class:`PublicBooks` the same read
through the SDK's public client, which paper decisions use when the executor is asked to
(``PAPER_BOOKS``): the book is a public read, no credentials. Each read keeps the market's rules
in a :class:`~orderflow.execution.market_rules.RulesCache` (its pauses after a failure
included) and the book's levels as a :class:`~orderflow.execution.broker.BookTop`, a quote for
:data:`~orderflow.execution.market_rules.BOOK_TOP_MAX_AGE_SECS`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Protocol

from orderflow.execution.broker import BookTop, MarketRules
from orderflow.execution.market_rules import BOOK_TOP_MAX_AGE_SECS, RULES_TIMEOUT_SECS, RulesCache
from orderflow.execution.reply_checks import refuse_reply, rules_problem

if TYPE_CHECKING:  # the SDK is imported by a read, not by a paper executor that reads no book
    from polymarket import AsyncPublicClient
    from polymarket.models.clob import OrderBook

log = logging.getLogger(__name__)

_TOPS_KEPT = 10_000  # tokens' books kept before those too old to be a quote are forgotten


class _BookClient(Protocol):
    async def get_order_book(self, *, token_id: str | None = None) -> OrderBook: ...


def _top(book: OrderBook, read_at: float) -> BookTop | str:
    """The book's levels, best first (the SDK's order puts the best last; taken by price
    here), or why the book cannot be one: a level outside (0, 1) or of no size, or a bid at or
    above an ask (the exchange matches a crossed pair at once)."""
    for level in (*book.bids, *book.asks):
        if not (0 < level.price < 1) or not level.size > 0:
            return f"a level at {level.price} for {level.size} shares"
    asks = tuple(sorted((level.price, level.size) for level in book.asks))
    bids = tuple(sorted(((level.price, level.size) for level in book.bids), reverse=True))
    if asks and bids and bids[0][0] >= asks[0][0]:
        return f"a crossed book: bid {bids[0][0]} at or above ask {asks[0][0]}"
    return BookTop(asks=asks, bids=bids, read_at=read_at)


class BookReads:
    """Books read through ``client``: the market's rules in ``rules``, the levels in ``tops``."""

    client: Any  # the SDK's client, authenticated or public (_BookClient)
    rules: RulesCache
    tops: dict[int, BookTop]

    async def read_book(self, token_id: int) -> None:
        """The token's book read now (its rules refreshed by the same read), unless its last
        read failed and the pause after it has not ended, or every read is paused."""
        self.rules.refresh(token_id)
        await self.book_rules(token_id)

    def book_top(self, token_id: int) -> BookTop | None:
        """The levels the last read found, if it is at most ``BOOK_TOP_MAX_AGE_SECS`` old."""
        top = self.tops.get(token_id)
        if top is None or self.rules.clock() - top.read_at > BOOK_TOP_MAX_AGE_SECS:
            return None
        return top

    async def book_rules(self, token_id: int) -> MarketRules | None:
        """The token's minimum order size and tick as its public book states them."""
        return await self.rules.ask(token_id, lambda known: self._read_rules(token_id, known))

    def _keep_top(self, token_id: int, top: BookTop) -> None:
        """Keep the token's book; past :data:`_TOPS_KEPT` tokens, those too old to be a quote
        are forgotten (an executor runs for months over ever new markets)."""
        self.tops[token_id] = top
        if len(self.tops) > _TOPS_KEPT:
            old = top.read_at - BOOK_TOP_MAX_AGE_SECS
            self.tops = {t: kept for t, kept in self.tops.items() if kept.read_at >= old}

    async def _read_rules(self, token_id: int, known: MarketRules | None) -> MarketRules | None:
        from polymarket.errors import UnexpectedResponseError

        from orderflow.execution.live_reads import problem_of
        from orderflow.execution.unanswered import exchange_unanswered

        client: _BookClient = self.client
        try:
            async with asyncio.timeout(RULES_TIMEOUT_SECS):
                book = await client.get_order_book(token_id=str(token_id))
        except UnexpectedResponseError as exc:
            # The exchange answered, with a book that does not parse: this token's read failed,
            # not the exchange (it used to pause every token's reads for a minute).
            problem = problem_of(exc)
        except Exception as exc:  # best effort: nothing of it reaches the trading loop
            # A failed read (error, rate limit, no answer) falls back to what was known, else
            # to the strategy's settings; the exchange's refusal handles the rest.
            self.rules.failed(token_id, busy=exchange_unanswered(exc))
            log.warning(
                "market book not read; the rules known before (else the strategy's) and the "
                "tape's quote apply",
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


class PublicBooks(BookReads):
    """Books read through the SDK's public client (no credentials): paper decisions' quotes."""

    def __init__(self, client: AsyncPublicClient) -> None:
        self.client = client
        self.rules = RulesCache()
        self.tops = {}

    async def close(self) -> None:
        await self.client.close()
