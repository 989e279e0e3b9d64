"""The order desk's last look at the database before a stored intent is sent: the strategy's
switches, and an entry's limits, as its row and its book hold them now.

A trading loop busy with a large batch, or an order queued behind a slow exchange, sends what
was decided seconds ago; meanwhile the operator may have killed, paused or switched the
strategy, or lowered its limits (a TradingStrategy edited). The switches are read from the row
(:func:`~orderflow.execution.strategy_queries.switched_off`: a kill, a pause or a mode switch
since the decision, even lifted again). An entry (BUY) is then **decided again**
(:func:`orderflow.signals.evaluate`, the decision's own function) on the trade, wallet and
market its decision saw, with the row's settings and the strategy's book as it stands — its
positions and live orders, but the entry's own stored intent (:func:`~orderflow.execution.book.
load_book`) — and sent only when that decision would place it at its size or larger. So a
lowered ``max_open_positions``, ``max_daily_loss``, ``max_market_exposure_usd``,
``max_position_usd``, ``bankroll_usd`` or ``kelly_fraction`` (and any other setting the
decision reads) stops an entry decided under the old ones, as does the book having moved
against it (a loss past the daily budget, the cash spent meanwhile). A refusal is the
decision's reason (``max_open_positions``, ``daily_loss_limit``…), ``limits_lowered`` (sized
smaller now: nothing is re-signed, the entry is dropped) or ``not_a_signal`` (the settings no
longer make the trade a signal). Until 6 Dec 2026 the limits were not looked at again: entries
queued when ``max_open_positions`` was lowered to 1 went out, 3 where 1 was on its way
(``tests/execution/test_limits_queued.py``).

An exit is never refused for limits (it lowers exposure); a row whose settings no longer
validate halts the strategy, and refuses an entry ``strategy_paused`` as the worker's guard
does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import asyncpg

from orderflow.execution import strategy_queries
from orderflow.execution.book import load_book
from orderflow.execution.broker import Mode, OrderRequest
from orderflow.execution.daypnl import DayMarks
from orderflow.execution.strategies import state_of
from orderflow.execution.strategy_queries import Switches
from orderflow.signals.decide import evaluate
from orderflow.signals.risk import Reason
from orderflow.signals.views import MarketView, StrategyBook, TradeView, WalletView
from orderflow.strategy.settings import StrategySettings

LIMITS_LOWERED = "limits_lowered"  # decided again, the entry is sized smaller now
NOT_A_SIGNAL = "not_a_signal"  # decided again, the trade is no signal under the settings now


@dataclass(frozen=True, slots=True)
class Entry:
    """An entry as its decision saw it: what the desk decides again before sending it."""

    trade: TradeView
    wallet: WalletView
    market: MarketView
    shares: Decimal


def limits_refusal(
    entry: Entry, book: StrategyBook, settings: StrategySettings, now: datetime
) -> str | None:
    """Why ``entry`` must not go out under ``settings`` and ``book`` (without the entry), the
    decision taken again now (None: it would be placed at its size or larger)."""
    decision = evaluate(entry.trade, entry.wallet, entry.market, book, settings, now)
    if decision is None:
        return NOT_A_SIGNAL
    if not decision.accepted:
        return str(decision.reason)
    if decision.shares < entry.shares:
        capped = ", ".join(decision.sizing.capped_by) if decision.sizing else ""
        return (
            f"{LIMITS_LOWERED}: {decision.shares.normalize():f} shares now"
            f" (capped by {capped or 'kelly'}), {entry.shares.normalize():f} on order"
        )
    return None


async def refusal(
    conn: asyncpg.Connection,
    order_id: int,
    request: OrderRequest,
    mode: Mode,
    *,
    seen: Switches | None,
    entry: Entry | None,
    now: datetime,
    marks: DayMarks,
) -> str | None:
    """Why the stored intent ``order_id`` must not be sent now (None: send it): a switch of its
    strategy (since ``seen``, the row's counts at the decision), or, an entry decided with
    ``entry``, the limits as they stand (:func:`limits_refusal`). No row: the registry's word
    stands (the worker's guard)."""
    row = await strategy_queries.strategy_row(conn, request.strategy)
    if row is None:
        return None
    refused = strategy_queries.switched_off(row, request.side, mode, seen)
    if refused is not None or request.side != "BUY" or entry is None:
        return refused
    state = await state_of(conn, row)
    if state.error is not None:  # halted: its settings do not validate
        return str(Reason.PAUSED)
    book = await load_book(conn, state, now, leaving_out=order_id, marks=marks)
    return limits_refusal(entry, book, state.settings, now)
