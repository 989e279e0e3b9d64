"""What a strategy holds, rests and made: ``orderflow strategy status`` (read-only).

Every figure comes from the executor's own code and queries, so it is the number the executor
acts on: open positions as the book reads them (:func:`position_queries.book_rows`, marked at the
token's tape price, or its payout once resolved), today's P&L and the cash as the limits
count them (:func:`book.load_book`: P&L since 00:00 UTC plus the immediate loss of live orders;
both of the strategy's mode, paper or live, whose limits they are), the day's trades, wins and
losses and all realized P&L from the performance row's own query
(:func:`performance_queries.day_figures`; of both modes, with each mode's part), the maximum
drawdown of the latest performance row.
Equity is the performance row's formula (bankroll + all realized P&L + unrealized P&L), with the
open positions marked now rather than at the executor's last maintenance tick. Nothing is
written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import asyncpg

from orderflow.execution import (
    order_queries,
    performance_queries,
    position_queries,
    settlement,
    status_queries,
    strategy_queries,
)
from orderflow.execution.book import load_book
from orderflow.execution.daypnl import unrealized_pnl
from orderflow.execution.performance import day_start
from orderflow.execution.strategies import StrategyState, state_of

TOP_SKIP_REASONS = 10


@dataclass(frozen=True, slots=True)
class PositionLine:
    token_id: int
    market_id: str | None
    outcome_index: int | None
    shares: Decimal
    cost_basis: Decimal
    last_price: Decimal | None
    unrealized_pnl: Decimal
    leader: str | None
    signal_type: str | None
    mode: str
    opened_at: datetime


@dataclass(frozen=True, slots=True)
class OrderLine:
    id: int
    side: str
    token_id: int
    market_id: str | None
    price: Decimal
    shares: Decimal
    filled: Decimal
    status: str  # OPEN (resting) or INTENT (on its way or in doubt)
    mode: str
    created_at: datetime
    age_secs: float
    expires_at: datetime | None
    signal_type: str
    leader: str
    # The cancels the exchange refused (a killed strategy's, an entry its leader left): how
    # many in a row, the first and the last one and why (``not_canceled: …``, ``credentials:
    # …``).
    cancel_refusals: int = 0
    cancel_refused_at: datetime | None = None
    cancel_refused_why: str | None = None
    cancel_refused_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class OrderOutcomes:
    sent: int  # stored and not abandoned unsent
    open: int
    filled: int
    partly_filled: int  # closed with part of it filled
    expired_unfilled: int
    canceled: dict[str, int]  # closed unfilled, by reason (expiry apart)
    rejected: int
    abandoned: int
    shares_ordered: Decimal
    shares_filled: Decimal

    @property
    def fill_ratio(self) -> float | None:
        """Shares filled / shares ordered (of the orders that reached the exchange)."""
        return float(self.shares_filled / self.shares_ordered) if self.shares_ordered else None


@dataclass(frozen=True, slots=True)
class KeyRefusal:
    """The exchange refuses the executor's API key for the strategy's mode: no order of the
    mode is sent (:mod:`orderflow.execution.key_watch`)."""

    since: datetime
    refusals: int
    last_refused_at: datetime
    last_error: str | None


@dataclass(frozen=True, slots=True)
class StrategyStatus:
    name: str
    mode: str
    state: str  # active, paused, killed, halted (invalid settings), deleted
    error: str | None
    as_of: datetime
    since: datetime
    bankroll: Decimal
    equity: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    day_pnl: Decimal
    max_daily_loss: Decimal
    max_drawdown: float | None
    trades_today: int
    wins_today: int
    losses_today: int
    positions: list[PositionLine]
    live_orders: list[OrderLine]
    orders: OrderOutcomes
    signal_counts: dict[str, dict[str, int]]  # type -> status -> count
    skip_reasons: dict[str, int]  # most frequent first
    credentials: KeyRefusal | None = None  # None: the exchange has not refused the key
    # What the strategy may still spend in its mode (the cash cap: bankroll + the mode's
    # realized P&L - the cost of the mode's open positions and BUY orders); ``day_pnl`` is the
    # mode's too. Each mode has the bankroll to itself (:mod:`orderflow.execution.book`).
    cash: Decimal | None = None
    # All realized P&L to date per mode traded in (``realized_pnl`` is their sum).
    realized_by_mode: dict[str, Decimal] = field(default_factory=dict)
    # Shares of live positions that left the wallet outside the executor, and their cost: in
    # ``realized_pnl`` as sold for nothing (:mod:`orderflow.execution.wallet_shares`).
    left_wallet: tuple[Decimal, Decimal] = (Decimal(0), Decimal(0))


def _state(row: asyncpg.Record, state: StrategyState) -> str:
    if row["deleted_at"] is not None:
        return "deleted"
    if state.killed:
        return "killed"
    if state.paused:
        return "paused"
    return "halted" if state.error is not None else "active"


async def strategy_status(
    conn: asyncpg.Connection, name: str, now: datetime, since: datetime
) -> StrategyStatus | None:
    """``name``'s status at ``now``, its orders and signals since ``since`` (None: no such
    strategy)."""
    row = await strategy_queries.strategy_row(conn, name)
    if row is None:
        return None
    state = await state_of(conn, row)
    positions = [_position(r, state) for r in await position_queries.book_rows(conn, name)]
    book = await load_book(conn, state, now)
    figures = await performance_queries.day_figures(conn, name, day_start(now))
    ratios = await performance_queries.latest_ratios(conn, name)
    unrealized = sum((p.unrealized_pnl for p in positions), Decimal(0))
    counts, canceled = await status_queries.order_outcomes(conn, name, since)
    by_status, reasons = await status_queries.signal_counts(conn, name, since, TOP_SKIP_REASONS)
    refusal = await status_queries.key_refusal(conn, state.settings.mode)
    signal_counts: dict[str, dict[str, int]] = {}
    for r in by_status:
        signal_counts.setdefault(r["signal_type"], {})[r["status"]] = int(r["n"])
    return StrategyStatus(
        name=name,
        mode=state.settings.mode,
        state=_state(row, state),
        error=state.error,
        as_of=now,
        since=since,
        bankroll=state.bankroll,
        equity=state.bankroll + figures["realized"] + unrealized,
        realized_pnl=figures["realized"],
        unrealized_pnl=unrealized,
        day_pnl=book.day_pnl,
        max_daily_loss=Decimal(repr(state.settings.max_daily_loss)),
        max_drawdown=None if ratios is None else ratios["max_drawdown"],
        trades_today=int(figures["trades"]),
        wins_today=int(figures["wins"]),
        losses_today=int(figures["losses"]),
        positions=positions,
        live_orders=sorted(
            (_order(r, now) for r in await order_queries.live_orders(conn, name)),
            key=lambda o: o.id,
        ),
        orders=OrderOutcomes(
            sent=int(counts["orders"]) - int(counts["abandoned"]),
            open=int(counts["open"]),
            filled=int(counts["filled"]),
            partly_filled=int(counts["partly_filled"]),
            expired_unfilled=int(counts["expired_unfilled"]),
            canceled={str(r["reason"]): int(r["n"]) for r in canceled},
            rejected=int(counts["rejected"]),
            abandoned=int(counts["abandoned"]),
            shares_ordered=counts["shares_ordered"],
            shares_filled=counts["shares_filled"],
        ),
        signal_counts=signal_counts,
        skip_reasons={str(r["reason"]): int(r["n"]) for r in reasons},
        cash=book.cash,
        realized_by_mode=await status_queries.realized_by_mode(conn, name, state.settings.mode),
        left_wallet=await status_queries.left_wallet(conn, name),
        credentials=None
        if refusal is None
        else KeyRefusal(
            since=refusal["refused_since"],
            refusals=int(refusal["refusals"]),
            last_refused_at=refusal["last_refused_at"],
            last_error=refusal["last_error"],
        ),
    )


async def day_pnl_of(conn: asyncpg.Connection, name: str, now: datetime) -> Decimal | None:
    """``name``'s P&L since 00:00 UTC in its mode at ``now``, as :func:`strategy_status` shows
    it and the daily loss limit counts it (the book's ``day_pnl``: the mode's positions, a live
    BUY's immediate loss); None: no such strategy. The operator's ``todayPnlUsd``."""
    row = await strategy_queries.strategy_row(conn, name)
    if row is None:
        return None
    return (await load_book(conn, await state_of(conn, row), now)).day_pnl


def _position(r: asyncpg.Record, state: StrategyState) -> PositionLine:
    return PositionLine(
        token_id=int(r["token_id"]),
        market_id=r["market_id"],
        outcome_index=r["outcome_index"],
        shares=r["shares"],
        cost_basis=r["cost_basis"],
        last_price=r["last_price"],
        unrealized_pnl=unrealized_pnl(r["shares"], r["cost_basis"], r["last_price"]),
        leader=r["leader"],
        signal_type=r["leader_type"],
        mode=r["mode"] or state.settings.mode,
        opened_at=r["opened_at"],
    )


def _order(r: asyncpg.Record, now: datetime) -> OrderLine:
    return OrderLine(
        id=int(r["id"]),
        side=r["side"],
        token_id=int(r["token_id"]),
        market_id=r["market_id"],
        price=r["price"],
        shares=r["shares"],
        filled=r["filled_shares"],
        status=r["status"],
        mode=r["mode"],
        created_at=r["created_at"],
        age_secs=max(0.0, (now - r["created_at"]).total_seconds()),
        expires_at=settlement.expiry(r),
        signal_type=r["signal_type"],
        leader=r["leader"],
        cancel_refusals=int(r["cancel_refusals"]),
        cancel_refused_at=r["cancel_refused_at"],
        cancel_refused_why=r["cancel_refused_why"],
        cancel_refused_since=r["cancel_refused_since"],
    )
