"""Exits: which leaders' sells close a held position, and their decisions recorded.

A FOLLOW_WHALE position is exited when the leader it followed sells the token, or buys its
complement (:func:`orderflow.signals.exits.leaving`: read as the sale it is, a SELL of the held
token keyed by the BUY). The trading loop
looks at each batch's sells; maintenance looks again for sells that found the strategy holding
nothing yet (``Trader.late_exits``). Both pick the sells with :func:`exits_of` and decide them
with :func:`decide_exits` (:func:`orderflow.signals.exits.exit_decision`): one exit per held
token, never a second while one is under way. A sell before the buy the position followed, on
the chain, is none of its exits (:func:`sells_before_entries`: stored late, as a block read again
after a retraction or a reorg re-storing both; maintenance reads only later sells,
``exit_queries.exits_tried``).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableSet, Sequence
from datetime import datetime
from decimal import Decimal

import asyncpg

from orderflow.execution.book import Holdings
from orderflow.execution.exit_queries import (
    LEADER_LEFT,
    SIGNAL_TRIGGER,
    TRIGGER_COMPLEMENT,
    triggers_since,
)
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


# Of the sells ($2, in the blocks $3, leaving the tokens $4: a SELL's own, the complement of a
# BUY's — orderflow.signals.exits.leaving), those by the leader of an open position of the
# strategy ($1) in that token that are not after any of the position's triggering buys on the
# chain (orderflow.signals.market_queries.left_since's order): the leader left, then bought what we
# followed. A position whose trigger is not stored (its block retracted, not read again yet)
# keeps them.
# The triggers are looked for from the earliest of those positions' triggers on (its time, less
# the reorg margin: exit_queries.triggers_since), so the partitions before it are pruned: by
# transaction hash alone, every partition of history was probed, twice per batch with a sale of
# a held token (tests/execution/test_exit_trigger_pruning.py).
_EARLIEST_TRIGGER = """(SELECT min(s.trade_time) FROM orderflow_positions p
  JOIN orderflow_signals s ON s.id = p.signal_id
 WHERE p.strategy = $1 AND p.status = 'OPEN' AND p.token_id = ANY($4::numeric[]))"""
_BEFORE_ENTRY = f"""
SELECT t.id FROM unnest($2::bigint[], $4::numeric[]) AS v(id, token)
  JOIN orderflow_trades t ON t.id = v.id
  JOIN orderflow_positions p ON p.strategy = $1 AND p.status = 'OPEN' AND p.token_id = v.token
  JOIN orderflow_signals s ON s.id = p.signal_id AND s.wallet_address = t.wallet_address
 WHERE t.block_number = ANY($3::bigint[])
   AND s.signal_type = 'FOLLOW_WHALE' AND s.side = 'BUY'
   AND EXISTS (SELECT 1 FROM orderflow_trades trig
                WHERE {SIGNAL_TRIGGER} AND {triggers_since(_EARLIEST_TRIGGER)})
   AND NOT EXISTS (SELECT 1 FROM orderflow_trades trig{TRIGGER_COMPLEMENT}
                    WHERE {SIGNAL_TRIGGER} AND {triggers_since(_EARLIEST_TRIGGER)}
                      AND {LEADER_LEFT})
"""


async def sells_before_entries(
    conn: asyncpg.Connection, strategy: str, sells: Sequence[TradeView]
) -> list[TradeView]:
    """``sells`` (the leaders' sells of held tokens, :func:`exits_of`) but those before the buy
    their position followed on the chain."""
    if not sells:
        return []
    before = {
        int(r["id"])
        for r in await conn.fetch(
            _BEFORE_ENTRY,
            strategy,
            [t.id for t in sells],
            sorted({t.block_number for t in sells if t.block_number is not None}),
            [Decimal(t.token_id) for t in sells],
        )
    }
    return [t for t in sells if t.id not in before]


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
