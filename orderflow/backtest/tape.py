"""What the market looked like at a moment of the replay: prices seen so far, resolutions so far.

The tape is fed in time order and answers only about the past: the last traded price of a token,
its highest price in a look-back window before the current fill, the ask and the bid the fills
seen so far show (the executor's quote, :func:`orderflow.signals.quotes.quote`, over the same
fills: the latest ``QUOTE_FILLS`` of the token and of its complement since the quote window's
start), whether its market has a resolution *already*, and whether a wallet has sold a token
since one of its fills (sold it, or bought its complement). It is the backtest's half of the
as-of gate (the scorer is the other).
"""

from __future__ import annotations

from collections import deque
from datetime import date, datetime, timedelta
from decimal import Decimal

from orderflow.signals.exits import left_token
from orderflow.signals.quotes import QUOTE_FILLS, QUOTE_WINDOW_SECS, Seen, levels_of, quote
from orderflow.signals.views import MarketView, Side, TradeView

# How often (in fills observed) tokens not traded within the quote window are forgotten.
_SWEEP_EVERY = 100_000


class Tape:
    def __init__(self, fade_window_secs: float, latency: timedelta = timedelta(0)) -> None:
        self._window = timedelta(seconds=fade_window_secs)
        # Levels per token, from its own fills and from its complement's (the mirror), the latest
        # QUOTE_FILLS of each (the executor reads as many); kept for the quote window back from a
        # decision, which comes ``latency`` after its trigger.
        self._own: dict[int, deque[Seen]] = {}
        self._mirror: dict[int, deque[Seen]] = {}
        self._quote_keep = timedelta(seconds=QUOTE_WINDOW_SECS) + latency
        self._last: dict[int, Decimal] = {}
        self._recent: dict[int, deque[tuple[datetime, Decimal]]] = {}
        self.resolved: dict[str, tuple[Decimal, ...]] = {}
        # Last prices before 00:00 UTC of ``_day``, the day of the latest observed fill.
        self._day: date | None = None
        self._before_day: dict[int, Decimal] = {}
        # Fills observed so far, and per (wallet, token) the number of its latest departure (a
        # SELL of the token, a BUY of its complement).
        self.seen = 0
        self._sold: dict[tuple[str, int], int] = {}

    def last_price(self, token_id: int) -> Decimal | None:
        return self._last.get(token_id)

    def last_prices(self) -> dict[int, Decimal]:
        return dict(self._last)

    def midnight_price(self, token_id: int, day: date) -> Decimal | None:
        """The token's last traded price before 00:00 UTC of ``day`` (a day not yet in the past).

        What the executor marks a position at when it computes the day's P&L
        (:mod:`orderflow.execution.daypnl`): the replay asks only about the current day.
        """
        if self._day is None or day > self._day:
            return self._last.get(token_id)  # nothing observed on ``day`` yet
        if day < self._day:
            raise ValueError(f"the tape is past {day}: it keeps only the current midnight")
        return self._before_day.get(token_id)

    def observe(
        self, trade: TradeView, *, taker: bool = True, complement: int | None = None
    ) -> MarketView:
        """Record ``trade`` (``taker``: its row is the taker's; ``complement``: the token whose
        book mirrors its token's) and return its market as a follower sees it right after the
        fill.

        ``window_high`` covers the look-back window *before* this fill; ``last_price`` is this
        fill's price (the latest observed price; the decision replaces it with :meth:`quote`).
        """
        for token, met, price in levels_of(
            trade.token_id, complement, trade.side, taker, trade.price
        ):
            book = self._own if token == trade.token_id else self._mirror
            levels = book.get(token)
            if levels is None:
                levels = book[token] = deque(maxlen=QUOTE_FILLS)
            levels.append(Seen(trade.timestamp, met, price))
        day = trade.timestamp.date()
        if self._day is None or day > self._day:
            self._day, self._before_day = day, dict(self._last)
        recent = self._recent.setdefault(trade.token_id, deque())
        cutoff = trade.timestamp - self._window
        while recent and recent[0][0] < cutoff:
            recent.popleft()
        high = max((p for _, p in recent), default=None)
        recent.append((trade.timestamp, trade.price))
        self._last[trade.token_id] = trade.price
        self.seen += 1
        if self.seen % _SWEEP_EVERY == 0:
            self._sweep(trade.timestamp - self._quote_keep)
        left = left_token(trade, complement)  # a SELL, or a BUY of the complement
        if left is not None:
            self._sold[(trade.wallet, left)] = self.seen
        return MarketView(
            token_id=trade.token_id,
            market_id=trade.market_id,
            resolved=trade.market_id is not None and trade.market_id in self.resolved,
            last_price=trade.price,
            window_high=high,
        )

    def quote(self, token_id: int, side: Side, since: datetime) -> Decimal | None:
        """The price a taker on ``side`` of ``token_id`` meets now, from the fills seen so far
        since ``since`` (the executor's quote: its trigger's time less the quote window); None:
        no level of that side seen (the executor's ``no_price``)."""
        seen = [
            level
            for book in (self._own, self._mirror)
            for level in book.get(token_id, ())
            if level.time >= since
        ]
        return quote(seen, side)

    def _sweep(self, before: datetime) -> None:
        """Forget the levels of tokens with none at or after ``before``: no quote reads them."""
        for book in (self._own, self._mirror):
            for token in [t for t, levels in book.items() if levels[-1].time < before]:
                del book[token]

    def left_since(self, trade: TradeView, seen: int) -> bool:
        """Whether ``trade``'s wallet has left its token in a fill observed after the ``seen``-th
        (the executor's ``leader_exited``: a SELL of it, or a BUY of its complement, after the
        trade on the chain, the order the tape is fed in:
        ``orderflow.signals.market_queries.left_since``)."""
        return self._sold.get((trade.wallet, trade.token_id), 0) > seen

    def resolve(self, market_id: str, payouts: tuple[Decimal, ...]) -> None:
        self.resolved[market_id] = payouts
