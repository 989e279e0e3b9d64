"""Paper trading: orders rest on a paper exchange and fill from the depth the chain reveals.

A paper order is priced like a live one: its limit is the quote plus ``paper_slippage_bps``
rounded to the tick (up for a BUY, down for a SELL), the quote being the ask for a BUY and the
bid for a SELL read from the fills the database holds (:mod:`orderflow.signals.quotes`), never the
last trade. Sent, it rests as a GTD order does (``expires_in_secs``) on the paper exchange
(:mod:`orderflow.execution.paper_book`), which fills it from maker fills stored after it was
accepted — each level at its own price, up to the limit, each level's shares once across every
paper order — and charges the CLOB V2 taker fee, ``shares x taker_fee_rate x price x (1 - price)``
in collateral on top of the gross amount. What no maker fill shows within the order's life is not
filled: a large order takes the levels the chain reveals, not its whole size at its limit.

The executor reconciles paper orders exactly as live ones (:mod:`orderflow.execution.orders`):
the fills come from :meth:`PaperBroker.fills`, each booked once under its level's key; an order
expires, is cancelled by the kill switch or when its leader sells; an intent a crash left unsent
is unknown to the paper exchange and abandoned after its expiry. A paper fill's trade settles
like a live one's (:meth:`PaperBroker.trade`, :mod:`orderflow.execution.paper_trades`): it
FAILED when a reorg took its level away, and the desk reverses it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta

import asyncpg

from orderflow.execution import paper_book, paper_trades
from orderflow.execution.book_reads import PublicBooks
from orderflow.execution.broker import (
    AccountFills,
    BookTop,
    CancelResult,
    Collateral,
    ExchangeFill,
    MarketRules,
    Mode,
    OrderOutcome,
    OrderRequest,
    PreparedOrder,
    WalletShares,
)
from orderflow.execution.orders import utcnow


class PaperBroker:
    """The paper exchange behind the broker protocol (state in PostgreSQL: restart-safe).

    ``books``: the exchange's public books (``PAPER_BOOKS``), which the decisions of a strategy
    quoting from the book read as live ones do (:mod:`orderflow.execution.market_rules`); None:
    the tape's quote. The fills stay the chain's either way (:mod:`paper_book`)."""

    mode: Mode = "paper"

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        clock: Callable[[], datetime] = utcnow,
        books: PublicBooks | None = None,
    ) -> None:
        self.pool = pool
        self.clock = clock
        self.books = books

    async def prepare(self, request: OrderRequest) -> PreparedOrder:
        key = f"paper-{uuid.uuid4()}"
        expires = self.clock() + timedelta(seconds=request.expires_in_secs)
        return PreparedOrder(
            request=request,
            client_order_id=key,
            candidate_order_ids=(key,),
            signed={"expiration": str(int(expires.timestamp())), "paper": True},
        )

    async def send(self, order: PreparedOrder) -> OrderOutcome:
        assert order.signed is not None  # prepared by this broker
        now = self.clock()
        expires = datetime.fromtimestamp(int(order.signed["expiration"]), tz=UTC)
        async with self.pool.acquire() as conn:
            await paper_book.accept(conn, order.client_order_id, order.request, now, expires)
        return OrderOutcome(status="OPEN", exchange_order_id=order.client_order_id)

    async def lookup(self, order_ids: tuple[str, ...]) -> OrderOutcome | None:
        async with self.pool.acquire() as conn:
            return await paper_book.status(conn, order_ids, self.clock())

    async def fills(self, order_ids: Collection[str], since: datetime) -> AccountFills:
        async with self.pool.acquire() as conn:
            await paper_book.match(conn, self.clock())
            return AccountFills(await paper_book.fills_of(conn, order_ids, since))

    async def trade(self, trade_id: str, order_ids: Collection[str]) -> list[ExchangeFill]:
        async with self.pool.acquire() as conn:
            return await paper_trades.trade(conn, trade_id, order_ids, self.clock())

    async def cancel(self, order_ids: list[str]) -> CancelResult:
        async with self.pool.acquire() as conn:
            canceled = await paper_book.cancel(conn, order_ids, self.clock())
        return CancelResult(
            canceled=tuple(canceled),
            not_canceled={o: "not live" for o in order_ids if o not in set(canceled)},
        )

    async def check_credentials(self) -> None:
        return None  # no key to refuse

    async def market_rules(self, token_id: int) -> MarketRules | None:
        """The market's minimum order size and tick as its public book states them, when the
        executor reads the books (``PAPER_BOOKS``: paper rehearses live, whose orders the
        exchange refuses under its minimum or off its tick); else none — the strategy's
        minimum and tick apply, as in the backtest. The fee stays the strategy's rate (the
        public book states no schedule)."""
        if self.books is None:
            return None
        return await self.books.book_rules(token_id)

    async def read_book(self, token_id: int) -> None:
        if self.books is not None:  # else no book: the quote is the tape's
            await self.books.read_book(token_id)

    def book_top(self, token_id: int) -> BookTop | None:
        return None if self.books is None else self.books.book_top(token_id)

    async def collateral(self, token_ids: Collection[int]) -> Collateral | None:
        return None  # no wallet: each strategy's bankroll is all there is

    async def wallet_shares(self, token_id: int, *, refresh: bool = False) -> WalletShares | None:
        return None  # no wallet: the books are all there is

    async def order_heartbeat(self) -> bool:
        return False  # no exchange holds paper orders

    async def close(self) -> None:
        if self.books is not None:
            await self.books.close()
