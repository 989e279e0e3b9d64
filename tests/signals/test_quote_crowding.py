"""Fills at no price do not crowd the real levels out of the quote's window.

The quote reads a token's latest ``QUOTE_FILLS`` fills of the quote window and drops those at no
price (``orderflow.signals.quotes.is_level``: at 0, or at 1 or more). It dropped them after taking
the latest ``QUOTE_FILLS``: the chain emits fills of no shares (stored at price 0), and a burst of
them — cheap, a few cents of gas each — left no level in the window, so a leader's buy in a
market whose ask the leader had just taken read no quote, in the executor and in the backtest alike
(until 6 Dec 2026). The levels are now taken before the limit, in both.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg

from orderflow.backtest.history import stream_trades
from orderflow.backtest.tape import Tape
from orderflow.signals.market_queries import market_views
from orderflow.signals.queries import trade_view
from orderflow.signals.quotes import QUOTE_FILLS, QUOTE_WINDOW_SECS
from tests.backtest.factory import History, addr, token_of

T = datetime(2026, 5, 1, 12, tzinfo=UTC)
WHALE = addr("whale")


async def test_a_burst_of_fills_at_no_price_leaves_the_ask(pool: asyncpg.Pool) -> None:
    h = History()
    market = h.market("crowded")
    h.ask(market, 0, "0.46", "300", T - timedelta(minutes=10))  # the ask a taker met
    h.trade(WHALE, market, 0, "BUY", "0.46", "500", T)  # the leader takes it too
    for n in range(QUOTE_FILLS + 20):  # then, before the decision, fills of no shares
        h.trade(addr(f"dust {n}"), market, 0, "BUY", "0", "0",
                T + timedelta(milliseconds=n + 1))  # fmt: skip
    await h.store(pool)
    token = token_of(market, 0)
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT t.*, tok.complement_token_id FROM orderflow_trades t"
            " LEFT JOIN orderflow_tokens tok ON tok.token_id = t.token_id"
            " WHERE t.is_taker_aggregate AND t.wallet_address = $1",
            WHALE,
        )
        assert row is not None
        trigger = trade_view(row)
        executor = (await market_views(conn, [trigger], 900))[trigger.id or 0]["BUY"].last_price
        tape = Tape(900)
        async for fill in stream_trades(conn, T - timedelta(hours=1), T + timedelta(seconds=1)):
            tape.observe(fill.view, taker=fill.taker, complement=fill.complement,
                         counterparty=fill.counterparty)  # fmt: skip
    backtest = tape.quote(token, "BUY", T - timedelta(seconds=QUOTE_WINDOW_SECS))
    assert (executor, backtest) == (Decimal("0.46"), Decimal("0.46")), (
        f"the ask 0.46 the leader took, behind {QUOTE_FILLS + 20} fills of no shares:"
        f" the executor's quote {executor}, the backtest's {backtest}"
    )
