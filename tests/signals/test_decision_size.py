"""A leader's decision is what it did in its transaction: its taker rows of one token and side
there (a taker order matched against several makers, a row per match) are one decision, and the
strategy's ``min_trigger_usd`` is compared with their total — in the executor and in the
backtest alike (``orderflow.signals.decisions``).

Until 6 Dec 2026 each row was compared on its own: a whale's buy of 600 USDC matched against
three makers (three rows of 200) made no signal under a trigger of 500, where the same buy
matched against one maker was followed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

import asyncpg

from orderflow.backtest import BacktestOptions, run_backtest
from orderflow.execution.engine import Executor
from orderflow.signals.views import WalletView
from orderflow.strategy.settings import StrategySettings
from tests.backtest.factory import History, addr
from tests.execution.conftest import (
    MARKET,
    TOKEN_NO,
    TOKEN_YES,
    WHALE,
    add_strategy,
    add_token,
    add_trade,
    add_wallet,
    reveal,
)
from tests.signals.test_exactly_once import _COPY

TRIGGER = 500.0


async def test_a_buy_matched_against_three_makers_is_one_decision_of_its_total(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    ex = make_executor()
    async with pool.acquire() as conn:
        await add_strategy(conn, "alpha", min_trigger_usd=TRIGGER)
        await add_token(conn, TOKEN_YES, MARKET, 0)
        await add_token(conn, TOKEN_NO, MARKET, 1)
        await add_wallet(conn, WHALE, 8.5, edge=0.10, edge_se=0.02)
        await ex.registry.refresh(conn)
        # The whale's one taker order, 600 USDC at 0.50, matched against three makers.
        first = await add_trade(conn, price="0.50", usdc="200")
        row = await conn.fetchrow("SELECT * FROM orderflow_trades WHERE id = $1", first)
        for n in (1000, 2000):
            await conn.execute(_COPY, row, n, 0)
        await reveal(conn, price="0.51", shares="2000")
    await ex.catch_up()
    signals = [tuple(r) for r in await pool.fetch("SELECT status, reason FROM orderflow_signals")]
    assert len(signals) == 1 and signals[0][0] != "SKIPPED", (
        f"the whale's 600 USDC buy in three rows of 200 made {len(signals)} signals under a"
        f" trigger of {TRIGGER}: {signals}"
    )


T0 = datetime(2026, 5, 1, tzinfo=UTC)
BT_WHALE = addr("whale")
_SCORES = {BT_WHALE: WalletView(BT_WHALE, 9.0, "WHALE", edge=0.10, edge_se=0.01, resolved_buys=50)}


async def _scores(conn: asyncpg.Connection, as_of: datetime) -> Mapping[str, WalletView]:
    return _SCORES


async def test_the_backtest_follows_the_same_decision(pool: asyncpg.Pool) -> None:
    h = History()
    won = h.market("won")
    at = T0 + timedelta(hours=1)
    for _ in range(3):  # 600 USDC at 0.40 in three rows of 200 (500 shares each)
        h.trade(BT_WHALE, won, 0, "BUY", "0.40", "500", at)
    first = h.trades[-3]
    for i in (1, 2):  # the same transaction, block and order: a row per match
        row = list(h.trades[-3 + i])
        row[1], row[2], row[3], row[4] = first[1], 1 + i, first[3], first[4]
        h.trades[-3 + i] = tuple(row)
    h.ask(won, 0, "0.40", "5000", at + timedelta(minutes=1))
    h.resolve(won, 0, T0 + timedelta(days=2))
    await h.store(pool)
    settings = StrategySettings(min_trigger_usd=TRIGGER)
    options = BacktestOptions(start=T0, end=T0 + timedelta(days=3), step_secs=86_400)
    async with pool.acquire() as conn:
        report = await run_backtest(conn, settings, options, _scores)
    assert report is not None
    signals = report.result.runs[0].book.signals
    assert [(s.signal_type, s.status) for s in signals] == [("FOLLOW_WHALE", "EXECUTED")], (
        f"the backtest made {len(signals)} signals of the whale's 600 USDC buy in three rows"
        f" of 200 under a trigger of {TRIGGER}: {[(s.status, s.reason) for s in signals]}"
    )
