"""The backtest's panic-sell high is the executor's: the market's, not the seller's own prints.

FADE_DEGEN fades a SELL at least ``fade_price_drop`` below the token's highest price of the
look-back window before it. The executor's high leaves out the seller's own prints (its fills,
and the makers' rows of the asks it took: their taker is the seller) and prints at no price (0,
or 1 or more) (``_MARKETS_HIGH`` in orderflow/signals/market_queries.py;
tests/signals/test_panic_high.py). The backtest's tape (``Tape.observe``) took the highest of
every print of the window: a degen that bought at 0.55-0.60 over a market at 0.51 and sold at
0.50 was faded off its own buy, and a print at 1.00 made its sale a panic — FADE_DEGEN EXECUTED
where the executor, reading a high of 0.51 for the same stored fill, records no signal (until 6
Dec 2026). The tape now reads the executor's rule (``orderflow.signals.quotes.in_panic_high``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest

from orderflow.backtest import BacktestOptions, run_backtest
from orderflow.backtest.history import stream_trades
from orderflow.backtest.tape import Tape
from orderflow.signals.market_queries import market_views
from orderflow.signals.queries import trade_view
from orderflow.signals.views import WalletView
from orderflow.strategy.settings import StrategySettings
from tests.backtest.factory import History, addr

T0 = datetime(2026, 5, 1, tzinfo=UTC)
T = T0 + timedelta(hours=1)  # the degen's sale
DEGEN = addr("degen")
OTHER, OTHER_MAKER, OTHER_TAKER = addr("other"), addr("other maker"), addr("other taker")
SETTINGS = StrategySettings(
    enable_degen_fading=True, enable_whale_following=False, order_ttl_secs=1800
)


async def degen_scores(conn: asyncpg.Connection, as_of: datetime) -> Mapping[str, WalletView]:
    return {DEGEN: WalletView(DEGEN, 1.0, "DEGEN", edge=-0.40, edge_se=0.05, resolved_buys=50)}


def _round_trip(h: History, market: str, at: datetime) -> None:
    """The degen takes two asks, 0.55 and 0.60, of a maker who sold to it: it paid 0.575."""
    for price in ("0.55", "0.60"):
        h.trade(OTHER_MAKER, market, 0, "SELL", price, "250", at, taker=False,
                taker_address=DEGEN)  # fmt: skip
    h.trade(DEGEN, market, 0, "BUY", "0.575", "500", at)


def _print_at_one(h: History, market: str, at: datetime) -> None:
    """A match at 1.00 between two wallets nobody scored."""
    h.trade(OTHER_MAKER, market, 0, "SELL", "1.00", "60", at, taker=False,
            taker_address=OTHER_TAKER)  # fmt: skip
    h.trade(OTHER_TAKER, market, 0, "BUY", "1.00", "60", at)


@pytest.mark.parametrize("high", [_round_trip, _print_at_one], ids=["own buy", "print at 1"])
async def test_no_fade_without_the_market_falling(
    pool: asyncpg.Pool, high: Callable[[History, str, datetime], None]
) -> None:
    h = History()
    market = h.market("round trip")
    h.trade(OTHER, market, 0, "BUY", "0.51", "400", T - timedelta(minutes=12))  # the market
    high(h, market, T - timedelta(minutes=10))
    h.trade(OTHER, market, 0, "BUY", "0.51", "400", T - timedelta(minutes=5))
    h.trade(DEGEN, market, 0, "SELL", "0.50", "600", T)
    h.ask(market, 0, "0.51", "5000", T + timedelta(minutes=1))  # fills a fade's order
    h.resolve(market, 1, T + timedelta(hours=6))
    await h.store(pool)

    window = SETTINGS.fade_window_secs
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT t.*, tok.complement_token_id FROM orderflow_trades t"
            " LEFT JOIN orderflow_tokens tok ON tok.token_id = t.token_id"
            " WHERE t.is_taker_aggregate AND t.wallet_address = $1 AND t.side = 'SELL'",
            DEGEN,
        )
        assert row is not None
        trigger = trade_view(row)
        executor = (await market_views(conn, [trigger], window))[trigger.id or 0]["BUY"]
        # The tape fed the same stored fills, as the replay feeds it.
        tape, highs = Tape(window), []
        async for fill in stream_trades(conn, T0, T0 + timedelta(days=1)):
            seen = tape.observe(fill.view, taker=fill.taker, complement=fill.complement,
                                counterparty=fill.counterparty)  # fmt: skip
            if fill.view.id == trigger.id:
                highs.append(seen.window_high)
        options = BacktestOptions(start=T0, end=T0 + timedelta(days=1), step_secs=86_400)
        report = await run_backtest(conn, SETTINGS, options, degen_scores)
    assert report is not None
    assert executor.window_high == Decimal("0.51")  # the market's
    fades = [
        (s.signal_type, s.status, s.reason, str(s.shares), str(s.pnl))
        for s in report.result.runs[0].book.signals
    ]
    assert fades == [], (
        f"the backtest faded the degen's sale at 0.50 in a market at 0.51 (type, status,"
        f" reason, shares, P&L): {fades}; the executor records no signal"
    )
    assert highs == [executor.window_high], (
        f"the tape's panic-sell high for the degen's sale {highs}, the executor's"
        f" {executor.window_high}"
    )
