"""One follower's paper book during a replay: signals, positions, realized P&L by day, equity.

An accepted signal's order rests (:mod:`orderflow.backtest.resting`) and each of its fills is
booked when it comes, at its time and price (:meth:`Book.fill`), with the one accounting
implementation (:class:`orderflow.accounting.Position`); resolutions settle positions at the
market's payout per share.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from orderflow.accounting import Fill, Position
from orderflow.backtest.followers import Intent
from orderflow.backtest.tape import Tape
from orderflow.execution.book import merge
from orderflow.execution.broker import FillReport
from orderflow.signals.exits import HeldPosition
from orderflow.signals.sizing import dec
from orderflow.signals.views import (
    OpenPosition,
    StrategyBook,
    TradeView,
    WalletView,
    cash_left,
)

ZERO = Decimal(0)
PRICE_STEP = Decimal("0.000001")
NO_LIQUIDITY = "no_liquidity"
# A signal due after the backtest's end: the book it would meet is after the end, never read.
PAST_END = "past_end"


@dataclass(slots=True)
class SignalRecord:
    """One signal as the backtest saw it; ``pnl`` is set once its position is closed or marked."""

    time: datetime
    signal_type: str
    status: str  # EXECUTED / SKIPPED / EXPIRED (stale: the latency exceeded the signal's age)
    reason: str
    wallet: str
    wallet_score: float | None
    token_id: int
    market_id: str | None
    outcome_index: int | None
    trigger_price: Decimal
    tx_hash: str
    log_index: int
    confidence: float | None = None
    win_probability: float | None = None
    shares: Decimal = ZERO
    price: Decimal | None = None
    size_usdc: Decimal | None = None
    fee: Decimal = ZERO
    pnl: Decimal | None = None
    closed_at: datetime | None = None
    close_reason: str | None = None  # "resolved" or "exit" (sold after the leader sold)
    side: str = "BUY"  # SELL: an exit signal (its P&L is booked on the entry's signal)
    trigger_time: datetime | None = None  # the leader's fill (``time`` is ours: + latency)
    limit_price: Decimal | None = None  # the order's limit (the executor's sizing price)
    levels: int = 0  # book levels the fill walked through
    attempt: int = 0  # an exit tried again on the same sale: 1, 2, ... (the executor's attempt)
    # How and when its order closed: filled, expired, leader_exited (the leader left the token
    # and what rested was cancelled), market_resolved; None: no order (refused, past_end).
    order_close: str | None = None
    order_closed: datetime | None = None
    first_fill: datetime | None = None  # when its order first filled (the position's start)
    # The shares its position held to its market's resolution and their average cost per share
    # (fees in): what the verdict's no-edge variance reads (verdict.by_market). Zero: none (the
    # position was sold, is open at the end, or is another signal's).
    settled_shares: Decimal = ZERO
    settled_price: Decimal | None = None

    @property
    def is_entry(self) -> bool:
        return self.side == "BUY"


@dataclass(slots=True)
class Held:
    position: Position
    token_id: int
    market_id: str | None
    outcome_index: int | None
    signal: SignalRecord


@dataclass
class Book:
    bankroll: Decimal
    fee_rate: Decimal
    open: dict[int, Held] = field(default_factory=dict)
    closed: list[Held] = field(default_factory=list)
    signals: list[SignalRecord] = field(default_factory=list)
    realized_by_day: dict[date, Decimal] = field(default_factory=dict)
    realized: Decimal = ZERO
    # Unrealized P&L at 00:00 UTC of ``_day`` of the positions open then (the executor's mark).
    _day: date | None = field(default=None, init=False)
    _midnight_unrealized: Decimal = field(default=ZERO, init=False)

    def _roll(self, now: datetime, tape: Tape) -> None:
        """On the first look at a new day, mark the open positions at midnight's prices.

        Called before anything changes the book on that day, so the open positions are the ones
        held at midnight.
        """
        day = now.date()
        if day == self._day:
            return
        self._day = day
        total = ZERO
        for token, held in self.open.items():
            mark = tape.midnight_price(token, day)
            if mark is not None:
                total += held.position.mark(mark)
        self._midnight_unrealized = total

    def view(
        self,
        now: datetime,
        tape: Tape,
        orders: Iterable[OpenPosition] = (),
        exits: frozenset[int] = frozenset(),
    ) -> StrategyBook:
        """The executor's view of this book at ``now``. ``orders``: its live BUY orders as the
        positions they become if they fill (their remaining size at their limit plus the taker
        fee they may still pay, their loss if they filled now:
        :func:`orderflow.execution.book.order_exposure`), folded in as the executor folds them
        (open positions, exposure, cash, the day's P&L); ``exits``: the tokens an exit order of
        which still rests.

        Day P&L as :mod:`orderflow.execution.daypnl` computes it: realized since midnight plus
        the change of unrealized since midnight's mark (a position up since it was bought but
        down today is a loss today), less what the live orders would lose at once. Cash as the
        executor's: the bankroll and all realized to date, less the open positions' and live
        orders' cost (:func:`orderflow.signals.views.cash_left`); what was realized, whose
        losses shrink the bankroll Kelly stakes a fraction of.
        """
        self._roll(now, tape)
        positions: dict[int, OpenPosition] = {}
        unrealized = ZERO
        for token, held in self.open.items():
            mark = tape.last_price(token)
            upnl = held.position.mark(mark) if mark is not None else ZERO
            unrealized += upnl
            positions[token] = OpenPosition(
                token, held.market_id, held.position.shares, held.position.cost_basis, upnl
            )
        pending_loss = ZERO
        for order in orders:
            pending_loss += order.unrealized_pnl
            merge(positions, order)
        realized_today = self.realized_by_day.get(now.date(), ZERO)
        day_pnl = realized_today + unrealized - self._midnight_unrealized + pending_loss
        cash = cash_left(self.bankroll, self.realized, positions)
        return StrategyBook(
            bankroll=self.bankroll,
            open_positions=positions,
            day_pnl=day_pnl,
            cash=cash,
            realized=self.realized,
            exits=frozenset(t for t in exits if t in self.open),
        )

    def record(
        self,
        trade: TradeView,
        wallet: WalletView,
        intent: Intent,
        now: datetime,
        *,
        attempt: int = 0,
    ) -> SignalRecord:
        """Store the signal. An accepted one is PENDING: its order rests, and the fills are
        booked as they come (:meth:`fill`) until it closes (:meth:`order_ended`); an exit of a token
        no longer held is SKIPPED ``no_position``."""
        signal = SignalRecord(
            time=now,
            signal_type=intent.signal_type,
            status=intent.status,
            reason=intent.reason,
            wallet=trade.wallet,
            wallet_score=wallet.score,
            token_id=trade.token_id,
            market_id=trade.market_id,
            outcome_index=trade.outcome_index,
            trigger_price=trade.price,
            tx_hash=trade.tx_hash,
            log_index=trade.log_index,
            confidence=intent.confidence,
            win_probability=intent.win_probability,
            trigger_time=trade.timestamp,
            limit_price=intent.price,
        )
        signal.side, signal.attempt = intent.side, attempt
        self.signals.append(signal)
        if intent.accepted and intent.side == "SELL" and trade.token_id not in self.open:
            signal.status, signal.reason = "SKIPPED", "no_position"
        elif intent.accepted:
            signal.status = "PENDING"
        return signal

    @staticmethod
    def unfilled(signal: SignalRecord, reason: str) -> None:
        """An accepted signal whose order never rested (``past_end``: due after the end)."""
        signal.status, signal.reason = "SKIPPED", reason

    def fill(self, signal: SignalRecord, report: FillReport) -> None:
        """Book one fill of ``signal``'s order, at its time (``report.at``) and price.

        A BUY goes into what is held in the token (dust under the minimum order size, which
        does not refuse an entry): the position follows this entry's leader from its first
        fill on, as the executor's does (orderflow.execution.position_queries.open_position_for).
        A SELL sells the position; it closes once it is all sold."""
        self._filled(signal, report)
        if signal.side == "SELL":
            self._exit(signal, report)
            return
        held = self.open.get(signal.token_id)
        position = held.position if held is not None else Position()
        position.apply(Fill("BUY", report.shares, report.usdc, report.fee, "COLLATERAL", report.at))
        if held is None or held.signal is not signal:
            self.open[signal.token_id] = Held(
                position, signal.token_id, signal.market_id, signal.outcome_index, signal
            )

    @staticmethod
    def order_ended(signal: SignalRecord, how: str, at: datetime, unfilled: str) -> None:
        """``signal``'s order closed at ``at`` (``how``: filled, expired, leader_exited,
        market_resolved); with nothing filled the signal is SKIPPED ``unfilled``."""
        signal.order_close, signal.order_closed = how, at
        if signal.shares > 0:
            signal.status = "EXECUTED"
        else:
            signal.status, signal.reason = "SKIPPED", unfilled

    @staticmethod
    def _filled(signal: SignalRecord, report: FillReport) -> None:
        """Add a fill to what the signal's order got (shares, collateral, fees, levels)."""
        if signal.first_fill is None:
            signal.first_fill = report.at
        signal.shares += report.shares
        signal.size_usdc = (signal.size_usdc or ZERO) + report.usdc
        signal.fee += report.fee
        signal.price = (signal.size_usdc / signal.shares).quantize(PRICE_STEP)
        signal.levels += 1

    def leaders(self) -> dict[int, tuple[str, str]]:
        """Per held token: who its position followed in, and with which signal type."""
        return {t: (h.signal.wallet, h.signal.signal_type) for t, h in self.open.items()}

    def holdings(self) -> dict[int, HeldPosition]:
        """Per held token: its position's shares, who it followed in and with which signal type
        (what the executor exits: positions, never orders)."""
        return {
            t: HeldPosition(t, h.position.shares, h.signal.wallet, h.signal.signal_type)
            for t, h in self.open.items()
        }

    def leader(self, token_id: int) -> tuple[str, str] | None:
        """Who the position held in ``token_id`` followed in, and with which signal type."""
        held = self.open.get(token_id)
        return None if held is None else (held.signal.wallet, held.signal.signal_type)

    def _exit(self, signal: SignalRecord, report: FillReport) -> None:
        """Sell what the fill took; the position closes once it is all sold."""
        held = self.open[signal.token_id]
        shares = min(report.shares, held.position.shares)
        realized = held.position.apply(
            Fill("SELL", shares, report.usdc, report.fee, "COLLATERAL", report.at)
        )
        self._book_realized(realized, report.at)
        if held.position.shares > 0:
            return  # partly sold: the rest stays open (and is settled or marked later)
        del self.open[signal.token_id]
        held.signal.pnl = held.position.realized_pnl
        held.signal.closed_at, held.signal.close_reason = report.at, "exit"
        self.closed.append(held)

    def settle(
        self, market_id: str, payouts: tuple[Decimal, ...], when: datetime, tape: Tape
    ) -> None:
        """Close every open position of a resolved market at its payout per share."""
        self._roll(when, tape)
        for token, held in list(self.open.items()):
            if held.market_id != market_id or held.outcome_index is None:
                continue
            held.signal.settled_shares = held.position.shares
            held.signal.settled_price = held.position.avg_price
            realized = held.position.settle(payouts[held.outcome_index])
            self._book_realized(realized, when)
            held.signal.pnl = held.position.realized_pnl
            held.signal.closed_at, held.signal.close_reason = when, "resolved"
            self.closed.append(held)
            del self.open[token]

    def _book_realized(self, amount: Decimal, when: datetime) -> None:
        self.realized += amount
        day = when.date()
        self.realized_by_day[day] = self.realized_by_day.get(day, ZERO) + amount

    def unrealized(self, tape: Tape) -> Decimal:
        total = ZERO
        for token, held in self.open.items():
            mark = tape.last_price(token)
            if mark is not None:
                total += held.position.mark(mark)
        return total

    def equity(self, tape: Tape) -> Decimal:
        return self.bankroll + self.realized + self.unrealized(tape)

    def mark_open_signals(self, tape: Tape) -> None:
        """At the end of the replay: open positions carry their unrealized P&L as signal P&L."""
        for token, held in self.open.items():
            mark = tape.last_price(token)
            held.signal.pnl = held.position.total_pnl(mark)


def fee_rate_of(rate: float) -> Decimal:
    return dec(rate)
