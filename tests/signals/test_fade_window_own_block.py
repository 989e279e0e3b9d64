"""The backtest's panic-sell high leaves out the trigger's own block, as the executor's does.

FADE_DEGEN fires on a SELL at least ``fade_price_drop`` below "the token's highest traded price
during the ``fade_window_secs`` before the fill" (orderflow/signals/rules.py). The executor reads
that high with ``t.timestamp >= x.ts - window AND t.timestamp < x.ts``
(orderflow/signals/market_queries.py ``_MARKETS``): nothing of the trigger's own second, i.e. of
its own block. The backtest's tape (orderflow/backtest/tape.py ``Tape.observe``) keeps every
fill observed before the trigger, its own block's included — the maker legs of the panic sell
itself, which the exchange emits before the taker's row. So a degen sweeping the bids in one
transaction with nothing traded in the 15 minutes before was faded by the backtest off the first
bid it hit, and never by the executor ("The executor's code, not a copy", docs/backtest.md):
FADE_DEGEN EXECUTED, 1,455.23 shares, P&L -669.41, where the executor recorded no signal (until
6 Dec 2026). The tape's high now reads the fills strictly before the trigger's time.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import asyncpg

from orderflow.backtest import BacktestOptions, run_backtest
from orderflow.signals.market_queries import market_views
from orderflow.signals.queries import trade_view
from orderflow.signals.views import WalletView
from orderflow.strategy.settings import StrategySettings
from tests.backtest.factory import History, addr, h32

T0 = datetime(2026, 5, 1, tzinfo=UTC)
T = T0 + timedelta(hours=1)  # the panic sell's block
DEGEN = addr("degen")
SETTINGS = StrategySettings(enable_degen_fading=True, order_ttl_secs=1800)


async def degen_scores(conn: asyncpg.Connection, as_of: datetime) -> Mapping[str, WalletView]:
    return {
        DEGEN: WalletView(
            DEGEN,
            1.0,
            "DEGEN",
            edge=-0.40,
            edge_se=0.05,
            resolved_buys=50,
            follower_cost=0.02,
            prior_mean=-0.10,
        )
    }


def _one_transaction(h: History, first: int) -> None:
    """Make the rows from the ``first``-th on one transaction of one block: its maker legs
    first (log 1, 2), the taker's aggregate last (log 3), as the exchange emits them."""
    tx, block_hash = h32("sweep tx"), h32("sweep block")
    sweep = [
        (row[0], tx, i + 1, 5000, block_hash, *row[5:]) for i, row in enumerate(h.trades[first:])
    ]
    h.trades = h.trades[:first] + sweep


async def test_the_panic_sells_own_block_is_not_its_look_back_window(pool: asyncpg.Pool) -> None:
    h = History()
    market = h.market("sweep")
    # An offer taken 20 minutes before: outside the 15-minute look-back, inside the quote's.
    h.ask(market, 0, "0.46", "300", T - timedelta(minutes=20))
    # The degen's taker SELL of 400 shares sweeps two bids: 200 at 0.60, 200 at 0.30 (avg 0.45).
    for price in ("0.60", "0.30"):
        h.trade(addr("bidder " + price), market, 0, "BUY", price, "200", T, taker=False,
                taker_address=DEGEN)  # fmt: skip
    h.trade(DEGEN, market, 0, "SELL", "0.45", "400", T)
    _one_transaction(h, 1)
    h.ask(market, 0, "0.46", "5000", T + timedelta(minutes=1))  # fills a fade's order
    h.resolve(market, 1, T + timedelta(hours=6))  # the dumped token loses
    await h.store(pool)

    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT t.*, tok.complement_token_id FROM orderflow_trades t"
            " LEFT JOIN orderflow_tokens tok ON tok.token_id = t.token_id"
            " WHERE t.is_taker_aggregate AND t.wallet_address = $1",
            DEGEN,
        )
        assert row is not None
        trigger = trade_view(row)
        executor = await market_views(conn, [trigger], SETTINGS.fade_window_secs)
        options = BacktestOptions(start=T0, end=T0 + timedelta(days=1), step_secs=86_400)
        report = await run_backtest(conn, SETTINGS, options, degen_scores)
    assert report is not None
    # The executor: nothing traded in the 15 minutes before the sell's block, no panic sell.
    assert executor[trigger.id or 0]["BUY"].window_high is None
    fades = [
        (s.status, s.reason, str(s.shares), str(s.pnl))
        for s in report.result.runs[0].book.signals
        if s.signal_type == "FADE_DEGEN"
    ]
    assert fades == [], (
        f"the backtest faded the sell (status, reason, shares, P&L) {fades}: its look-back"
        f" high is the 0.60 bid the sell itself hit (a 25 % 'drop' to 0.45); the executor's"
        f" window_high for the same stored fill is None and it records no signal"
    )
