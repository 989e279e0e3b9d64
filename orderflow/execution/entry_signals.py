"""Entries: which of a batch's trades may be signals, and their decisions recorded.

The trading loop (:mod:`orderflow.execution.trading`) pre-filters a strategy's trades cheaply
with :func:`may_trigger` (wallet score, size, enabled rules) and, once the survivors have market
views and the strategy's book, decides and records them with :func:`decide_entries`
(:func:`orderflow.signals.evaluate`): each accepted entry is in the book the next one of the
batch sees; a live strategy's entries spend no more than its wallet has left.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

import asyncpg

from orderflow.execution.book import entry_exposure, merge
from orderflow.execution.broker import Collateral
from orderflow.execution.order_worker import OrderJob
from orderflow.execution.signal_record import record_signal
from orderflow.execution.strategies import StrategyState
from orderflow.execution.wallet import capped
from orderflow.signals.decide import evaluate
from orderflow.signals.views import (
    MarketView,
    OpenPosition,
    Side,
    StrategyBook,
    TradeView,
    WalletView,
)
from orderflow.strategy.settings import StrategySettings


def may_trigger(trade: TradeView, wallet: WalletView | None, settings: StrategySettings) -> bool:
    """Cheap pre-filter (no market data): can this fill be a signal for these settings?"""
    if wallet is None or wallet.score is None:
        return False
    if trade.usdc_size < Decimal(repr(settings.min_trigger_usd)):
        return False
    if trade.side == "BUY":
        return settings.enable_whale_following and wallet.score >= settings.min_whale_score
    return settings.enable_degen_fading and wallet.score <= settings.max_fade_score


def _with_position(book: StrategyBook, opened: OpenPosition) -> StrategyBook:
    """The book as the next trade of the same batch must see it: the entry ``opened`` is on
    its way (:func:`~orderflow.execution.book.entry_exposure`, as the order worker counts it),
    added to what is held in the token (dust under the minimum, which took the entry); its cost
    — the taker fee it may pay included — taken from the cash; what it would lose if it filled
    now taken from the day's P&L. (The loss was left out until 6 Dec 2026: a second entry of the
    batch was read one loss short of the daily budget, two resting orders losing ~8 on a budget
    of 2; the fee until 6 Dec 2026: three entries of a batch spent 1,109.13 of a 1,000
    bankroll.)"""
    positions = dict(book.open_positions)
    merge(positions, opened)
    cash = None if book.cash is None else book.cash - opened.cost
    return replace(
        book, open_positions=positions, cash=cash, day_pnl=book.day_pnl + opened.unrealized_pnl
    )


async def decide_entries(
    conn: asyncpg.Connection,
    state: StrategyState,
    candidates: Sequence[TradeView],
    markets: Mapping[int, Mapping[Side, MarketView]],
    book: StrategyBook,
    wallets: Mapping[str, WalletView],
    now: datetime,
    funds: Collateral | None = None,
    left: Mapping[int, Decimal] | None = None,
) -> tuple[int, list[OrderJob]]:
    """Decide and record the entries of ``candidates`` (in the decision's transaction); returns
    the signals recorded and the accepted ones as jobs to send. Each accepted entry is in the
    book the next one sees. A live strategy's entry of a token in ``left`` (what the wallet
    ``funds`` has left for it: :func:`~orderflow.execution.wallet.wallet_cash`) spends no more
    than that, less what the batch's entries before it took."""
    settings = state.settings
    created = 0
    accepted: list[OrderJob] = []
    taken = Decimal(0)  # the batch's entries' cost (fees in): out of every exchange's share
    for trade in candidates:
        wallet = wallets[trade.wallet]
        market = markets[trade.id or 0]["BUY"]  # both signals buy: the asks
        cap = None if left is None else left.get(trade.token_id)
        seen = book if cap is None else capped(book, cap - taken)
        decision = evaluate(trade, wallet, market, seen, settings, now)
        if decision is None:
            continue
        recorded = await record_signal(conn, state, trade, wallet, decision)
        if recorded is None:
            continue  # already recorded (a replay)
        created += 1
        if decision.accepted:
            opened = entry_exposure(trade, decision, market, settings)
            book = _with_position(book, opened)
            taken += opened.cost
            accepted.append(
                OrderJob.decided(
                    state,
                    recorded.signal_id,
                    trade,
                    decision,
                    market,
                    settings.mode,
                    recorded.traceparent,
                    funds,
                    wallet,
                )
            )
    return created, accepted
