"""A kill through a long outage — the exchange answering every cancel 503 "Trading is currently
disabled" for an hour — retries every 2 s as before, but says so at once and then at most once
a minute with the count of failed attempts since, and once more when cancels pass again: not a
line every 2 s (about 1,800 an hour per killed strategy). A fake clock stands in for the hour;
the retries' sleeps are made instant."""

from __future__ import annotations

import itertools
import logging

import pytest

from orderflow.execution import switch
from orderflow.execution.broker import ExchangeBusyError

HOUR_OF_TRIES = 1800  # one every 2 s (MAX_RETRY_SECS)
DISABLED = "http 503: Trading is currently disabled. Check polymarket.com for updates"


async def test_a_kill_through_an_hour_of_refused_cancels_logs_a_line_a_minute(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(switch, "FIRST_RETRY_SECS", 0.0)
    monkeypatch.setattr(switch, "MAX_RETRY_SECS", 0.0)
    now = [10_000.0]
    tries = [0]

    async def attempt(strategy: str) -> int:
        tries[0] += 1
        now[0] += 2.0  # the real switch's wait (MAX_RETRY_SECS) through an outage
        if tries[0] <= HOUR_OF_TRIES:
            raise ExchangeBusyError(DISABLED, status=503)
        return 0

    kills = switch.KillSwitch(attempt)
    kills.monotonic = lambda: now[0]
    caplog.set_level(logging.INFO, logger=switch.__name__)
    kills.request("s1")
    await kills.wait()

    assert tries[0] == HOUR_OF_TRIES + 1  # the retry itself unchanged: until done
    failed = [r for r in caplog.records if "cancel failed" in r.getMessage()]
    assert len(failed) <= 61, f"{len(failed)} 'cancel failed' lines for an hour's outage"
    assert failed[0].__dict__["failures"] == 1  # the first at once
    attempts = [r.__dict__["attempt"] for r in failed]
    assert all(b - a >= 30 for a, b in itertools.pairwise(attempts))  # >= 60 s
    # each line counts the tries since the one before; the last minute's are in the end's line
    assert HOUR_OF_TRIES - 30 < sum(r.__dict__["failures"] for r in failed) <= HOUR_OF_TRIES
    assert all(DISABLED in r.__dict__["error"] for r in failed)
    (passed,) = [r for r in caplog.records if "cancels pass again" in r.getMessage()]
    assert passed.__dict__["failures"] == HOUR_OF_TRIES and passed.__dict__["strategy"] == "s1"


async def test_a_short_outage_is_still_logged_at_once_and_its_end_too(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(switch, "FIRST_RETRY_SECS", 0.0)
    monkeypatch.setattr(switch, "MAX_RETRY_SECS", 0.0)
    tries = [0]

    async def attempt(strategy: str) -> int:
        tries[0] += 1
        if tries[0] <= 2:
            raise ExchangeBusyError("http 503: upstream busy", status=503)
        return 0

    caplog.set_level(logging.INFO, logger=switch.__name__)
    kills = switch.KillSwitch(attempt)
    kills.request("s1")
    await kills.wait()
    messages = [r.getMessage() for r in caplog.records]
    assert sum("cancel failed" in m for m in messages) == 1, messages
    assert sum("cancels pass again" in m for m in messages) == 1, messages
