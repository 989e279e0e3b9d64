"""The account's trades (``GET /data/trades``) from a broken or hostile exchange: pages that never
end, each naming a cursor never seen before (the SDK refuses a repeated cursor, not a new one).
Reading them went on for ever — reconciliation, the kill switch's, every maintenance pass held
on it; it is now a failed read after ``MAX_TRADE_PAGES`` pages (logged, counted, tried again at
the next pass), as a 5xx would be."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from orderflow.execution import live_trades
from orderflow.execution.broker import ExchangeBusyError
from orderflow.execution.live import LiveBroker
from tests.execution.fake_clob import FakeClob

SINCE = datetime.now(UTC) - timedelta(hours=1)


async def test_trades_that_never_end_are_a_failed_read(clob: FakeClob, live: LiveBroker) -> None:
    clob.endless_trades = True
    with pytest.raises(ExchangeBusyError, match="pages"):
        await asyncio.wait_for(live.fills(["0x" + "ab" * 32], SINCE), 60)
    assert clob.trade_pages == live_trades.MAX_TRADE_PAGES
    clob.trade_pages = 0
    with pytest.raises(ExchangeBusyError, match="pages"):
        await asyncio.wait_for(live.trade("trade-1", ["0x" + "ab" * 32]), 60)
    assert clob.trade_pages == live_trades.MAX_TRADE_PAGES
