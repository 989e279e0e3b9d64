"""The order heartbeat through an hour's outage: sent again within a second after a failure, or
after a rate limit's Retry-After. A failure is said when it starts or changes, and a Retry-After
past the exchange's switch is said — but at most once a minute, with the count since: not a line
a send when the exchange flaps between two failures (a 503, a timeout) or keeps asking for 30 s.
A control: one failure all hour is said once. A fake broker and clock; no sleeping."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from orderflow.execution import order_heartbeat
from orderflow.execution.broker import ExchangeBusyError
from orderflow.execution.order_heartbeat import OrderHeartbeat

HOUR = 3600.0


class _Failing:
    """A live broker whose heartbeats fail as ``error(n)`` says (None: taken)."""

    mode = "live"

    def __init__(self, error: Callable[[int], Exception | None]) -> None:
        self.error = error
        self.sent = 0

    async def order_heartbeat(self) -> None:
        self.sent += 1
        exc = self.error(self.sent)
        if exc is not None:
            raise exc


async def _an_hour(error: Callable[[int], Exception | None]) -> int:
    """Beats for an hour of the fake clock, then one taken; the beats sent."""
    now = [datetime(2026, 12, 7, tzinfo=UTC)]
    broker = _Failing(error)
    beat = OrderHeartbeat(broker, every=5.0, clock=lambda: now[0])  # type: ignore[arg-type]
    start = now[0]
    while now[0] - start < timedelta(seconds=HOUR):
        now[0] += timedelta(seconds=await beat.beat())
    broker.error = lambda n: None
    await beat.beat()
    return broker.sent


def _said(caplog: pytest.LogCaptureFixture, words: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if words in r.getMessage()]


async def test_one_failure_all_hour_is_said_once_and_its_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger=order_heartbeat.__name__)
    sent = await _an_hour(lambda n: ExchangeBusyError("http 503: upstream down", status=503))
    assert sent > 3000  # every second
    assert len(_said(caplog, "not taken")) == 1
    assert len(_said(caplog, "taken again")) == 1


async def test_a_flapping_exchange_is_said_at_most_once_a_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger=order_heartbeat.__name__)

    def flapping(n: int) -> Exception:
        if n % 2:
            return ExchangeBusyError("http 503: upstream down", status=503)
        return ExchangeBusyError("no answer: ReadTimeout", status=None)

    sent = await _an_hour(flapping)
    assert sent > 3000
    lines = _said(caplog, "not taken")
    assert len(lines) <= 61, f"{len(lines)} 'not taken' lines for an hour's flapping outage"
    assert len(_said(caplog, "taken again")) == 1


async def test_a_long_retry_after_all_hour_is_said_at_most_once_a_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger=order_heartbeat.__name__)
    sent = await _an_hour(
        lambda n: ExchangeBusyError("http 429: too many requests", retry_after=30, status=429)
    )
    assert 100 <= sent <= 125  # every 30 s
    lines = _said(caplog, "cancelled meanwhile")
    assert len(lines) == 1, f"{len(lines)} 'cancelled meanwhile' lines for an hour of 429s"
    assert len(_said(caplog, "not taken")) == 1
