"""The live broker's reads of the account's trades (``GET /data/trades``), the exchange's
complete record of our fills: every page of them, each trade once by its id (a trade listed
twice — the cursor is an offset, and a match during the read repeats one — was two parts of it
to a settlement's reversal, which took back twice its shares), each parsed on its own
(:func:`~orderflow.execution.live_reads.account_trades`: one that does not parse is refused —
logged once, counted — and the orders it names reported unreadable), a read longer than
:data:`MAX_TRADE_PAGES` pages made again a day at a time
(:func:`~orderflow.execution.live_reads.trades_by_span`); our fills in them
(:func:`~orderflow.execution.live_replies.our_fills`) priced with their market's fee schedule
(:class:`~orderflow.execution.live_rules.LiveRules`). A trade that FAILED is no fill.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from datetime import datetime
from typing import Any

from polymarket import PolymarketError

from orderflow.execution.broker import AccountFills, ExchangeFill
from orderflow.execution.live_errors import busy
from orderflow.execution.live_reads import (
    TRADE_SPAN_SECS,
    TooManyPagesError,
    account_trades,
    by_id,
    names,
    raw_trade_id,
    trades_by_span,
)
from orderflow.execution.live_replies import our_fills
from orderflow.execution.live_rules import LiveRules
from orderflow.execution.reply_checks import refuse_reply
from orderflow.signals.views import FeeSchedule

# GET /data/trades pages read at most in one go: an exchange naming a new cursor on every page
# would otherwise be read for ever (the SDK refuses only a repeated one).
MAX_TRADE_PAGES = 1000


class LiveTrades(LiveRules):
    """``fills`` and ``trade`` of :class:`~orderflow.execution.live.LiveBroker`: our fills in
    the account's trades, each at its market's fee schedule (``market_fee``)."""

    async def fills(self, order_ids: Collection[str], since: datetime) -> AccountFills:
        wanted = set(order_ids)
        if not wanted:
            return AccountFills()
        found: list[ExchangeFill] = []
        after = max(0, int(since.timestamp()))
        try:
            trades, unreadable = await self._account_trades("trades", wanted, after=str(after))
        except TooManyPagesError:
            if time.time() - after <= TRADE_SPAN_SECS:
                raise
            trades, unreadable = await trades_by_span(
                lambda query: self._account_trades("trades", wanted, **query),
                after,
                int(time.time()),
                TRADE_SPAN_SECS,
            )
        for trade in trades:
            if trade.status == "FAILED":
                continue  # never settled: not a fill
            found.extend(our_fills(trade, wanted, await self._fee_of(trade)))
        return AccountFills(found, frozenset(unreadable))

    async def trade(self, trade_id: str, order_ids: Collection[str]) -> list[ExchangeFill]:
        wanted = set(order_ids)
        found: list[ExchangeFill] = []
        # A trade that does not parse is refused (logged once, counted) and not shown: its
        # status is asked again next time, until the settlement horizon keeps it as booked.
        trades, _ = await self._account_trades("trade", wanted, id=trade_id)
        for trade in trades:
            if str(trade.id) == trade_id:
                found.extend(our_fills(trade, wanted, await self._fee_of(trade)))
        return found

    async def _fee_of(self, trade: Any) -> FeeSchedule | None:
        """The fee schedule of the trade's market (cached per token), None: not known."""
        try:
            token = int(trade.asset_id)
        except ValueError:
            return None
        return await self.market_fee(token)

    async def _account_trades(
        self, what: str, wanted: Collection[str], **query: str
    ) -> tuple[list[Any], set[str]]:
        """The account's trades (``GET /data/trades``), every page of them, each once by its id
        (:func:`~orderflow.execution.live_reads.by_id`), and the orders of
        ``wanted`` that a trade which does not parse names (that trade refused: logged, counted;
        the others used). A page that does not parse as a whole (no ``data`` list, a bad cursor),
        a repeated cursor (refused by the SDK's paginator) or more than :data:`MAX_TRADE_PAGES`
        pages is a failed read, as a 5xx is (nothing of it is used)."""
        trades: list[Any] = []
        unreadable: set[str] = set()
        lower = {w.lower(): w for w in wanted}
        pages = 0
        try:
            async for page in account_trades(self.client, **query):
                for part in page.items:
                    trades.extend(part.trades)
                    for raw, problem in part.unreadable:
                        unreadable |= names(raw, lower)
                        refuse_reply(
                            "trade",
                            f"does not parse: {problem}",
                            once=raw_trade_id(raw) or repr(raw),
                            trade_id=raw_trade_id(raw),
                        )
                pages += 1
                if pages >= MAX_TRADE_PAGES and page.has_more:
                    problem = f"more than {MAX_TRADE_PAGES} pages"
                    refuse_reply(what, problem)
                    raise TooManyPagesError(f"{what} failed: {problem}")
        except PolymarketError as exc:
            raise busy(what, exc) from None
        return list(by_id(trades).values()), unreadable
