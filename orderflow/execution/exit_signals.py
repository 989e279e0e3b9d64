"""Exits: which leaders' sells close a held position, and their decisions recorded.

A FOLLOW_WHALE position is exited when the leader it followed sells the token. The trading loop
looks at each batch's sells; maintenance looks again for sells that found the strategy holding
nothing yet (``Trader.late_exits``). Both pick the sells with :func:`exits_of` and decide them
with :func:`decide_exits` (:func:`orderflow.signals.exits.exit_decision`): one exit per held
token, never a second while one is under way.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableSet, Sequence
from datetime import datetime

import asyncpg

from orderflow.execution.book import Holdings
from orderflow.execution.order_worker import OrderJob
from orderflow.execution.signal_record import record_signal
from orderflow.execution.strategies import StrategyState
from orderflow.signals.exits import exit_decision
from orderflow.signals.views import MarketView, Side, StrategyBook, TradeView, WalletView


def exits_of(sells: Sequence[TradeView], holdings: Holdings) -> list[TradeView]:
    """The sells by the leader of a held position, unless an exit of it is under way (stored,
    or on its way: ``holdings.exiting``, read in the same moment as the position)."""
    held = holdings.held
    return [
        t
        for t in sells
        if t.token_id in held
        and held[t.token_id].leader == t.wallet
        and t.token_id not in holdings.exiting
    ]


async def decide_exits(
    conn: asyncpg.Connection,
    state: StrategyState,
    exits: Sequence[TradeView],
    markets: Mapping[int, Mapping[Side, MarketView]],
    book: StrategyBook,
    holdings: Holdings,
    wallets: Mapping[str, WalletView],
    now: datetime,
    exiting: MutableSet[tuple[str, int]],
    attempts: Mapping[int, int] | None = None,
) -> tuple[int, list[OrderJob]]:
    """Decide and record the exits of ``exits`` (one per held token); returns how many signals
    were recorded and the accepted ones as jobs to send (each marked in ``exiting``).
    ``attempts``: by trade id, the attempt number of an exit tried again (0 otherwise)."""
    held = dict(holdings.held)
    created = 0
    accepted: list[OrderJob] = []
    for trade in exits:
        market = markets[trade.id or 0]["SELL"]  # an exit meets the bids
        decision = exit_decision(
            trade, held.pop(trade.token_id, None), market, book, state.settings, now
        )
        if decision is None:
            continue
        wallet = wallets.get(trade.wallet) or WalletView(trade.wallet, None)
        attempt = (attempts or {}).get(trade.id or 0, 0)
        recorded = await record_signal(conn, state, trade, wallet, decision, attempt)
        if recorded is None:
            continue
        created += 1
        if decision.accepted:
            exiting.add((state.name, trade.token_id))
            # An exit goes where the position is (a live position is never closed on
            # paper, whatever the strategy's mode says now).
            mode = holdings.modes.get(trade.token_id, state.settings.mode)
            accepted.append(
                OrderJob.decided(
                    state, recorded.signal_id, trade, decision, market, mode, recorded.traceparent
                )
            )
    return created, accepted
