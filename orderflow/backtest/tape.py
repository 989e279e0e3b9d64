"""What the market looked like at a moment of the replay: prices seen so far, resolutions so far.

The tape is fed in time order and answers only about the past: the price a position in a token
is marked at (the executor's: its tape price, :mod:`orderflow.signals.tape`, which one wash pair
printing last cannot set; the last traded price where no maker row was seen), its highest price
in a look-back window before the current fill, the ask and the bid the fills seen so far show
(the executor's quote, :func:`orderflow.signals.quotes.quote`, over the same fills: the latest
``QUOTE_FILLS`` of the token and of its complement since the quote window's start, held to the
tape price of that window, :func:`orderflow.signals.tape.held_to_tape`), whether its market has
a resolution *already*, and whether a wallet has sold a token since one of its fills (sold it,
or bought its complement). It is the backtest's half of the as-of gate (the scorer is the
other).
"""

from __future__ import annotations

from collections import deque
from datetime import date, datetime, timedelta
from decimal import Decimal

from orderflow.signals.exits import left_token
from orderflow.signals.quotes import (
    QUOTE_FILLS,
    QUOTE_WINDOW_SECS,
    Seen,
    in_panic_high,
    is_level,
    levels_of,
    quote,
)
from orderflow.signals.tape import Print, TokenPrints, held_to_tape, pair_of
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
        # Per token, the maker rows its tape price reads (its own and its complement's), and
        # the tape prices computed since its last print (a mark is read at every decision).
        self._prints: dict[int, TokenPrints] = {}
        self._marks: dict[int, Decimal | None] = {}
        # Per token, the fills of the panic-sell look-back window: (time, price, wallet, a maker
        # row's taker), whose high is read per seller (orderflow.signals.quotes.in_panic_high).
        self._recent: dict[int, deque[tuple[datetime, Decimal, str, str | None]]] = {}
        self.resolved: dict[str, tuple[Decimal, ...]] = {}
        # Last prices before 00:00 UTC of ``_day``, the day of the latest observed fill; the
        # tape prices before it of the tokens with a maker row since (taken at the first).
        self._day: date | None = None
        self._before_day: dict[int, Decimal] = {}
        self._tape_before_day: dict[int, Decimal | None] = {}
        # Fills observed so far, and per (wallet, token) the number of its latest departure (a
        # SELL of the token, a BUY of its complement).
        self.seen = 0
        self._sold: dict[tuple[str, int], int] = {}

    def last_price(self, token_id: int) -> Decimal | None:
        """What a position in the token is marked at now (the executor's mark,
        ``orderflow.execution.position_queries.mark_price``): its tape price; the last traded
        price where no maker row of it was seen; None: no print at all."""
        tape = self._tape(token_id)
        return self._last.get(token_id) if tape is None else tape

    def last_prices(self) -> dict[int, Decimal]:
        """Every printed token's mark (:meth:`last_price`)."""
        marks = {t: self.last_price(t) for t in {*self._last, *self._prints}}
        return {t: mark for t, mark in marks.items() if mark is not None}

    def midnight_price(self, token_id: int, day: date) -> Decimal | None:
        """The token's mark as of 00:00 UTC of ``day`` (a day not yet in the past): its tape
        price before then, else its last traded price before then.

        What the executor marks a position at when it computes the day's P&L
        (:mod:`orderflow.execution.daypnl`): the replay asks only about the current day.
        """
        if self._day is None or day > self._day:
            return self.last_price(token_id)  # nothing observed on ``day`` yet
        if day < self._day:
            raise ValueError(f"the tape is past {day}: it keeps only the current midnight")
        if token_id in self._tape_before_day:
            tape = self._tape_before_day[token_id]
        else:
            tape = self._tape(token_id)  # no maker row of it since midnight
        return self._before_day.get(token_id) if tape is None else tape

    def _tape(self, token_id: int) -> Decimal | None:
        """The token's tape price (:class:`orderflow.signals.tape.TokenPrints`); None: no
        maker row of it or its complement seen."""
        if token_id not in self._marks:
            prints = self._prints.get(token_id)
            self._marks[token_id] = None if prints is None else prints.price()
        return self._marks[token_id]

    def _print(self, trade: TradeView, complement: int | None, counterparty: str) -> None:
        """Add a maker row (its taker: ``counterparty``) to its token's prints and, mirrored,
        to its complement's; a token's tape price before midnight is kept at its first."""
        pair = pair_of(trade.wallet, counterparty)
        for token, price, own in (
            (trade.token_id, trade.price, True),
            (complement, 1 - trade.price, False),
        ):
            if token is None:
                continue
            if token not in self._tape_before_day:
                self._tape_before_day[token] = self._tape(token)
            prints = self._prints.get(token)
            if prints is None:
                prints = self._prints[token] = TokenPrints()
            (prints.own if own else prints.mirror).add(
                Print(trade.timestamp, self.seen, pair, price)
            )
            self._marks.pop(token, None)

    def observe(
        self,
        trade: TradeView,
        *,
        taker: bool = True,
        complement: int | None = None,
        counterparty: str | None = None,
    ) -> MarketView:
        """Record ``trade`` (``taker``: its row is the taker's; ``complement``: the token whose
        book mirrors its token's; ``counterparty``: a maker row's taker, the pair its print is
        of — without it, a maker row does not count towards the tape price) and return its
        market as a follower sees it right after the fill.

        ``window_high`` covers the look-back window *before* this fill's time (its own block's
        fills left out, as the executor's read leaves them), the market's high for a sale of
        this fill's wallet: its own prints (its fills, the maker rows of the orders it took)
        and prints at no price left out, as the executor's
        (:func:`orderflow.signals.quotes.in_panic_high`); ``last_price`` is this
        fill's price (the latest observed price; the decision replaces it with :meth:`quote`).
        """
        # a fill at no price shows no level, in either book (its mirror is at none either): kept,
        # it would push the levels out of the QUOTE_FILLS the quote reads, as the executor's read
        # leaves it out before its limit (market_queries._recent_fills)
        fills = levels_of(trade.token_id, complement, trade.side, taker, trade.price)
        for token, met, price in fills if is_level(trade.price) else ():
            book = self._own if token == trade.token_id else self._mirror
            levels = book.get(token)
            if levels is None:
                levels = book[token] = deque(maxlen=QUOTE_FILLS)
            levels.append(Seen(trade.timestamp, met, price))
        day = trade.timestamp.date()
        if self._day is None or day > self._day:
            self._day, self._before_day = day, dict(self._last)
            self._tape_before_day = {}
        if not taker and counterparty is not None:
            self._print(trade, complement, counterparty)
        recent = self._recent.setdefault(trade.token_id, deque())
        cutoff = trade.timestamp - self._window
        while recent and recent[0][0] < cutoff:
            recent.popleft()
        # strictly before this fill's time, as the executor's read (market_queries._MARKETS:
        # t.timestamp < x.ts): not the fills of its own block — a panic sell's own maker legs,
        # emitted before its taker row, made the first bid it hit the "high" it fell from; nor
        # the seller's own prints, nor prints at no price (market_queries._MARKETS_HIGH)
        high = max(
            (
                p
                for at, p, wallet, taker in recent
                if at < trade.timestamp and in_panic_high(p, wallet, taker, trade.wallet)
            ),
            default=None,
        )
        recent.append((trade.timestamp, trade.price, trade.wallet, counterparty))
        if is_level(trade.price):  # the executor's last traded price is a level's
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
        since ``since`` (the executor's quote: its trigger's time less the quote window), held
        to the tape price of the prints since then (a quote one wash pair's print set is
        replaced by where distinct pairs trade: ``orderflow.signals.market_queries``); None: no
        level of that side seen (the executor's ``no_price``)."""
        seen = [
            level
            for book in (self._own, self._mirror)
            for level in book.get(token_id, ())
            if level.time >= since
        ]
        return held_to_tape(quote(seen, side), self.tape_price(token_id, since))

    def tape_price(self, token_id: int, since: datetime) -> Decimal | None:
        """The token's tape price of the prints from ``since`` on (None: no maker row since:
        ``orderflow.signals.tape.tape_price`` with ``last`` False)."""
        prints = self._prints.get(token_id)
        return None if prints is None else prints.price(since)

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
