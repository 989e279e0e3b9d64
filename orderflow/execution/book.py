"""A strategy's book as the risk limits see it: positions, live orders and orders on their way.

Open positions come from ``orderflow_positions``; live orders (resting, in doubt) from
``orderflow_orders``; orders accepted but not yet stored from the order worker's ``inflight``. Each
live BUY counts as the position it becomes if it fills (remaining size at its limit price, plus the
taker fee it may still pay: :func:`fee_reserved`) until it fills, is cancelled or expires, and what
it would lose at once if it filled now counts against the daily loss budget.
A BUY closed at the exchange with more of it matched than the account's trades list yet counts
what matched beyond its fills the same way, while its late fills are asked for; a SELL closed so
leaves what it matched out of the shares held for an exit
(:func:`~orderflow.execution.order_queries.matched_unlisted`).

All of it is one moment's: read in one snapshot (repeatable read), the orders on their way taken
before it. A fill moves exposure from an order to a position in one transaction; read in
statements of their own, a fill booked between the read of the positions and that of the orders
was in neither, and the decision saw nothing in its market (a second entry, an exit made again:
``tests/execution/test_book_snapshot.py``). An order on its way counts until its intent is stored,
never also as the order it has become.

``day_pnl`` is P&L since 00:00 UTC (:mod:`orderflow.execution.daypnl`). ``cash`` is what the
strategy may still spend: its bankroll plus all it realized to date, less the cost of all that
(:func:`orderflow.signals.views.cash_left`); ``realized`` (all to date): a loss shrinks the
bankroll Kelly stakes a fraction of.

Those three are the strategy's mode's (its settings' ``mode``, where its entries go): its
positions of that mode (a position's mode is its first fill's, stored with it: migration 069),
its orders sent there, and its orders on their way. Each mode has the bankroll to itself: paper's
P&L is not money the live wallet has. They summed both modes, so after a switch from paper to
live, paper's profit raised the live cash above ``bankroll_usd`` (live stakes of money the wallet
never made), paper's loss shrank Kelly's live bankroll, and today's paper gain widened the live
daily-loss budget (``tests/execution/test_mode_pnl.py``). The positions and orders left in the
other mode still count as held (``position_exists``, ``max_open_positions``, the market's
exposure): they are still managed — exited where they were bought, cancelled by a kill — and
no entry is made in their token, dust included (``other_mode``): its fill would be booked into
their position (one open position per token), the other mode's shares exited with it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

import asyncpg

from orderflow.execution import order_queries, position_queries
from orderflow.execution.broker import Mode
from orderflow.execution.daypnl import DayMarks, unrealized_pnl
from orderflow.execution.performance import day_start
from orderflow.execution.strategies import StrategyState
from orderflow.signals.decide import Decision
from orderflow.signals.exits import HeldPosition
from orderflow.signals.sizing import booked_fee, fee_per_share
from orderflow.signals.views import MarketView, OpenPosition, StrategyBook, TradeView, cash_left
from orderflow.strategy.settings import StrategySettings

# All the P&L a strategy realized to date in a mode (closed positions, partial sells of open
# ones; a position not filled yet has realized nothing).
_REALIZED = """
SELECT COALESCE(sum(realized_pnl), 0) FROM orderflow_positions
 WHERE strategy = $1 AND COALESCE(mode, $2) = $2
"""


@dataclass(frozen=True, slots=True)
class Holdings:
    """Per held token: who the position followed in (for exits) and where it trades; the
    tokens being exited and the leaders live entry orders follow."""

    held: dict[int, HeldPosition]
    modes: dict[int, Mode]
    exiting: set[int]  # tokens with a live SELL order: no second exit while it rests
    # (token, leader) of live FOLLOW_WHALE BUY orders: the leader's sell cancels them
    following: set[tuple[int, str]]


def order_exposure(
    token: int,
    market: str | None,
    remaining: Decimal,
    price: Decimal,
    last: Decimal | None,
    fee: Decimal = Decimal(0),
) -> OpenPosition:
    """A live BUY as the position it becomes if it fills: its cost at its limit plus ``fee`` a
    share (the taker fee it may still pay: :func:`fee_reserved`), its mark loss if it filled
    now."""
    cost = remaining * (price + fee)
    loss = cost - remaining * last if last is not None else Decimal(0)
    return OpenPosition(token, market, remaining, cost, -max(Decimal(0), loss))


def fee_reserved(
    mode: str,
    status: str,
    price: Decimal,
    rate: Decimal | None,
    exponent: Decimal | None,
    *,
    may_take: bool = False,
) -> Decimal:
    """The taker fee a share of a stored BUY may still pay (``rate``, ``exponent``: the
    schedule it carries, migration 084; None: not known, nothing), which the limits count with
    it: one in doubt or about to be sent (``INTENT``) may take; so may a resting paper order
    (the paper exchange charges the fee on the levels it takes) and a live one whose matching
    the exchange holds (``may_take``: answered ``delayed``, shown ``DELAYED`` or ``UNMATCHED``,
    migration 088); a live order resting on the CLOB is a maker's, charged nothing."""
    if rate is None or (mode == "live" and status == "OPEN" and not may_take):
        return Decimal(0)
    return fee_per_share(price, rate, exponent or Decimal(1))


def entry_exposure(
    trade: TradeView, decision: Decision, market: MarketView, settings: StrategySettings
) -> OpenPosition:
    """An accepted entry not stored yet (on its way) as the position it becomes: at its limit
    plus the taker fee it may pay, on the schedule its order will carry (``booked_fee``)."""
    price = decision.price or Decimal(0)
    fee = booked_fee(market, settings)
    return order_exposure(
        trade.token_id,
        trade.market_id,
        decision.shares,
        price,
        market.last_price,
        fee_per_share(price, fee.rate, fee.exponent),
    )


def merge(book: dict[int, OpenPosition], extra: OpenPosition) -> None:
    held = book.get(extra.token_id)
    if held is None:
        book[extra.token_id] = extra
        return
    book[extra.token_id] = OpenPosition(
        extra.token_id,
        held.market_id or extra.market_id,
        held.shares + extra.shares,
        held.cost + extra.cost,
        held.unrealized_pnl + extra.unrealized_pnl,
    )


# Of the signals whose orders are on their way, those without an order yet (the intent not
# stored): the others count as the order they became (live, filled or closed).
_NO_ORDER_YET = """
SELECT s.id FROM orderflow_signals s
 WHERE s.id = ANY($1::bigint[]) AND s.status = 'PENDING'
   AND NOT EXISTS (SELECT 1 FROM orderflow_orders o WHERE o.signal_id = s.id)
"""


async def load_book_and_holdings(
    conn: asyncpg.Connection,
    state: StrategyState,
    now: datetime,
    inflight: Mapping[int, OpenPosition] | None = None,
    marks: DayMarks | None = None,
    exiting: Collection[int] = (),
    leaving_out: int | None = None,
) -> tuple[StrategyBook, Holdings]:
    """The strategy's book — open positions, live orders (resting, in doubt) and orders
    accepted but not yet stored (``inflight``, by signal id), each counted until it fills, is
    cancelled or expires — and, per held token, who the position followed in and where it
    trades; ``exiting``: tokens whose exit is on its way (not stored yet); ``leaving_out``: an
    order (its row id) not counted (an entry about to be sent, decided again against the rest:
    :mod:`orderflow.execution.send_check`).

    One moment's (see the module): ``inflight`` and ``exiting`` are copied before anything is
    read, and the rest is read in one repeatable-read snapshot — the caller's transaction when
    ``conn`` is in one (its isolation is then the caller's to choose), else one of its own. An
    order that left ``inflight`` before the copy was stored before the snapshot."""
    pending = dict(inflight or {})  # before the snapshot: nothing is awaited before this
    leaving = set(exiting)
    if conn.is_in_transaction():
        return await _read_book(conn, state, now, pending, leaving, marks, leaving_out)
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        return await _read_book(conn, state, now, pending, leaving, marks, leaving_out)


async def _read_book(
    conn: asyncpg.Connection,
    state: StrategyState,
    now: datetime,
    pending: Mapping[int, OpenPosition],
    exiting: set[int],
    marks: DayMarks | None,
    leaving_out: int | None,
) -> tuple[StrategyBook, Holdings]:
    mode = state.settings.mode
    positions: dict[int, OpenPosition] = {}  # every mode's: what the strategy holds
    own: dict[int, OpenPosition] = {}  # the mode's: what its cash pays for
    elsewhere: set[int] = set()  # tokens held or on order in the other mode
    held: dict[int, HeldPosition] = {}
    modes: dict[int, Mode] = {}
    for row in await position_queries.book_rows(conn, state.name):
        token = int(row["token_id"])
        upnl = unrealized_pnl(row["shares"], row["cost_basis"], row["last_price"])
        positions[token] = OpenPosition(
            token_id=token,
            market_id=row["market_id"],
            shares=row["shares"],
            cost=row["cost_basis"],
            unrealized_pnl=upnl,
        )
        held[token] = HeldPosition(token, row["shares"], row["leader"], row["leader_type"])
        modes[token] = row["mode"] or mode
        if modes[token] == mode:
            own[token] = positions[token]
        else:
            elsewhere.add(token)
    following: set[tuple[int, str]] = set()
    unsettled: list[tuple[Mode, OpenPosition]] = []  # BUYs that may still fill, by mode
    for row in await order_queries.live_orders(conn, state.name):
        if row["id"] == leaving_out:
            continue
        token = int(row["token_id"])
        if row["side"] == "SELL":
            exiting.add(token)
            continue
        if row["signal_type"] == "FOLLOW_WHALE":
            following.add((token, row["leader"]))
        if row["remaining"] <= 0:
            continue
        fee = fee_reserved(
            row["mode"],
            row["status"],
            row["price"],
            row["fee_rate"],
            row["fee_exponent"],
            may_take=row["may_take"],
        )
        order = order_exposure(
            token, row["market_id"], row["remaining"], row["price"], row["last_price"], fee
        )
        unsettled.append((row["mode"], order))
    for row in await order_queries.matched_unlisted(conn, state.name, now):
        # Closed with more matched than the trades list yet, counted until they list it.
        token = int(row["token_id"])
        if row["side"] == "SELL":
            # Sold at the exchange: not held to sell again (the position's cost still counts).
            was = held.get(token)
            if was is not None:
                held[token] = replace(was, shares=max(Decimal(0), was.shares - row["remaining"]))
            continue
        # Bought at the exchange (a maker's fill: no fee).
        order = order_exposure(
            token, row["market_id"], row["remaining"], row["price"], row["last_price"]
        )
        unsettled.append((row["mode"], order))
    pending_loss = Decimal(0)
    for order_mode, order in unsettled:
        merge(positions, order)
        if order_mode == mode:
            pending_loss += order.unrealized_pnl
            merge(own, order)
        else:
            elsewhere.add(order.token_id)
    rows = await conn.fetch(_NO_ORDER_YET, list(pending)) if pending else []
    for signal_id in (int(r["id"]) for r in rows):
        # Decided in the mode (one decided in the other is not sent: ``mode_changed``).
        order = pending[signal_id]
        pending_loss += order.unrealized_pnl
        merge(positions, order)
        merge(own, order)
    day_pnl = await (marks or DayMarks()).day_pnl(conn, state.name, day_start(now), mode)
    realized = Decimal(await conn.fetchval(_REALIZED, state.name, mode))
    book = StrategyBook(
        bankroll=state.bankroll,
        open_positions=positions,
        day_pnl=day_pnl + pending_loss,
        paused=state.paused or state.error is not None,
        killed=state.killed,
        exits=frozenset(exiting),
        cash=cash_left(state.bankroll, realized, own),
        realized=realized,
        other_mode=frozenset(elsewhere),
    )
    return book, Holdings(held, modes, exiting, following)


async def held_modes(
    conn: asyncpg.Connection, state: StrategyState, tokens: Collection[int]
) -> dict[int, tuple[str | None, Mode]]:
    """Per token of ``tokens`` the strategy holds: the wallet the position followed in and
    where it trades (as :func:`load_book_and_holdings` says), read ahead of the decision."""
    rows = await position_queries.held_in(conn, state.name, tokens) if tokens else []
    return {int(r["token_id"]): (r["leader"], r["mode"] or state.settings.mode) for r in rows}


async def load_book(
    conn: asyncpg.Connection,
    state: StrategyState,
    now: datetime,
    inflight: Mapping[int, OpenPosition] | None = None,
    *,
    leaving_out: int | None = None,
    marks: DayMarks | None = None,
) -> StrategyBook:
    book, _ = await load_book_and_holdings(
        conn, state, now, inflight, marks, leaving_out=leaving_out
    )
    return book
