"""What the market looked like at a moment of the replay: prices seen so far, resolutions so far.

The tape is fed in time order and answers only about the past: the last traded price of a token,
its highest price in a look-back window before the current fill, whether its market has a
resolution *already*, and whether a wallet has sold a token since one of its fills. It is the
backtest's half of the as-of gate (the scorer is the other).
"""

from __future__ import annotations

from collections import deque
from datetime import date, datetime, timedelta
from decimal import Decimal

from orderflow.signals.views import MarketView, TradeView


class Tape:
    def __init__(self, fade_window_secs: float) -> None:
        self._window = timedelta(seconds=fade_window_secs)
        self._last: dict[int, Decimal] = {}
        self._recent: dict[int, deque[tuple[datetime, Decimal]]] = {}
        self.resolved: dict[str, tuple[Decimal, ...]] = {}
        # Last prices before 00:00 UTC of ``_day``, the day of the latest observed fill.
        self._day: date | None = None
        self._before_day: dict[int, Decimal] = {}
        # Fills observed so far, and per (wallet, token) the number of its latest SELL.
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

    def observe(self, trade: TradeView) -> MarketView:
        """Record ``trade`` and return its market as a follower sees it right after the fill.

        ``window_high`` covers the look-back window *before* this fill; ``last_price`` is this
        fill's price (the latest observed price at decision time).
        """
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
        if trade.side == "SELL":
            self._sold[(trade.wallet, trade.token_id)] = self.seen
        return MarketView(
            token_id=trade.token_id,
            market_id=trade.market_id,
            resolved=trade.market_id is not None and trade.market_id in self.resolved,
            last_price=trade.price,
            window_high=high,
        )

    def sold_since(self, trade: TradeView, seen: int) -> bool:
        """Whether ``trade``'s wallet has sold its token in a fill observed after the ``seen``-th
        (the executor's ``leader_exited``: a SELL after the trade on the chain, the order the
        tape is fed in: ``orderflow.signals.queries.sold_since``)."""
        return self._sold.get((trade.wallet, trade.token_id), 0) > seen

    def resolve(self, market_id: str, payouts: tuple[Decimal, ...]) -> None:
        self.resolved[market_id] = payouts
