"""A market's fee schedule is read once for its concurrent askers, as its book is.

Two ask for a token's schedule: the decision (``market_rules``, before the decision lock) and
every fill booked from the account's trades (``market_fee``); the trading loop, maintenance and
reconciliation may ask for the same token at once. Only the book's read joined the askers of a
token (one read under way at a time); each asker of the schedule read, checked, logged and
counted it on its own. The SDK's own per-market cache joins their HTTP reads (the stand-in sees
one ``GET /clob-markets`` either way), but an impossible schedule read once was refused — logged
and counted in ``orderflow_exchange_replies_refused_total`` — once per asker, and a failed read
warned about once per asker. Live mode against the CLOB stand-in, its schedule read held 0.5 s
so that the two askers overlap."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import pytest

from orderflow.execution.live import LiveBroker
from orderflow.signals.views import FeeSchedule
from orderflow.telemetry import setup_metrics
from tests.execution.conftest import TOKEN_YES
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import metric_total

SLOW_SCHEDULE = 0.5  # seconds the stand-in holds GET /clob-markets (under the 3 s timeout)
REFUSED = "orderflow_exchange_replies_refused_total"


def _reads(clob: FakeClob, route: str) -> int:
    return sum(1 for method, path in clob.requests if method == "GET" and path.startswith(route))


async def _both_ask(
    live: LiveBroker, clob: FakeClob
) -> tuple[FeeSchedule | None, FeeSchedule | None]:
    """The decision's ask and a fill's, at once."""
    clob.path_delays["/clob-markets/"] = SLOW_SCHEDULE
    rules, fee = await asyncio.gather(live.market_rules(TOKEN_YES), live.market_fee(TOKEN_YES))
    return (None if rules is None else rules.fee), fee


async def test_two_askers_share_one_read(clob: FakeClob, live: LiveBroker) -> None:
    clob.markets[TOKEN_YES].fee = (Decimal("0.25"), Decimal(2))
    decision, fill = await _both_ask(live, clob)
    assert decision == fill and fill is not None and fill.rate == Decimal("0.25")
    assert (_reads(clob, "/markets-by-token/"), _reads(clob, "/clob-markets/")) == (1, 1)


async def test_an_impossible_schedule_read_once_is_refused_once(
    clob: FakeClob, live: LiveBroker
) -> None:
    """A rate of 3: refused, the strategy's rate for both askers; counted once."""
    setup_metrics("executor")
    clob.markets[TOKEN_YES].fee = (Decimal(3), Decimal(2))
    before = metric_total(REFUSED)
    assert await _both_ask(live, clob) == (None, None)
    assert _reads(clob, "/clob-markets/") == 1
    assert metric_total(REFUSED) - before == 1


async def test_a_failed_read_is_warned_about_once(
    clob: FakeClob, live: LiveBroker, caplog: pytest.LogCaptureFixture
) -> None:
    """``GET /clob-markets`` answers 503: one read failed, one warning; both askers fall back to
    the strategy's rate, and the read is not tried again for a minute."""
    caplog.set_level(logging.WARNING)
    clob.fail("GET", "/clob-markets/", 503, times=1)
    assert await _both_ask(live, clob) == (None, None)
    assert _reads(clob, "/clob-markets/") == 1
    warned = [r for r in caplog.records if r.getMessage().startswith("market fee schedule not")]
    assert len(warned) == 1, [r.getMessage() for r in caplog.records]
    assert await live.market_fee(TOKEN_YES) is None and _reads(clob, "/clob-markets/") == 1
