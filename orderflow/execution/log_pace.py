"""The pace of a warning repeated while a failure lasts: the first at once, then at most one a
minute with the count since, so that an outage of an hour is a line a minute, not a line a
retry (the kill switch's failed cancels, :mod:`orderflow.execution.switch`; the CLOB's rate
limit warnings, :mod:`orderflow.execution.signer_limits`; the reconciler's failed reads,
:mod:`orderflow.execution.order_reconcile`; the order heartbeat's failures, said when they
change, :mod:`orderflow.execution.order_heartbeat`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

LOG_EVERY_SECS = 60.0


class LogPace:
    """Counts the failures of one thing and says when a line about them is due."""

    def __init__(
        self, every: float = LOG_EVERY_SECS, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.every = every
        self.monotonic = monotonic
        self.failures = 0  # since it last passed (or ever, for what never passes)
        self._unlogged = 0  # since the last line
        self._logged_at: float | None = None

    def failed(self, news: bool = True) -> int | None:
        """One more failure: the failures since the last line (this one included) when a line
        is due now — the first at once, then at most one each :attr:`every` seconds, and only
        when it has ``news`` to tell (what is said once per change: the order heartbeat's
        error) — else None (counted for the next line)."""
        self.failures += 1
        self._unlogged += 1
        now = self.monotonic()
        if self._logged_at is not None and (not news or now - self._logged_at < self.every):
            return None
        unlogged, self._unlogged, self._logged_at = self._unlogged, 0, now
        return unlogged

    def passed(self) -> int:
        """It works again: the failures it had since it last passed (0: none, nothing to
        say); the next failure is logged at once."""
        failures = self.failures
        self.failures = self._unlogged = 0
        self._logged_at = None
        return failures


class OutageLog:
    """The paced warnings of one kind of call a loop makes through an outage, by key (a mode):
    ``failed`` said at once, then at most once :attr:`LogPace.every` with the count since;
    ``passed`` (``{key}``, ``{failures}`` in it) once when it works again (the reconciler's trade
    reads and order lookups, the settlement's trade reads)."""

    def __init__(
        self, logger: logging.Logger, failed: str, passed: str, monotonic: Callable[[], float]
    ) -> None:
        self.logger = logger
        self.failed_words = failed
        self.passed_words = passed
        self.monotonic = monotonic
        self.paces: dict[str, LogPace] = {}

    def _pace(self, key: str) -> LogPace:
        pace = self.paces.get(key)
        if pace is None:
            pace = self.paces[key] = LogPace(monotonic=self.monotonic)
        return pace

    def failed(self, key: str, error: str, **extra: object) -> None:
        failures = self._pace(key).failed()
        if failures is not None:
            self.logger.warning(
                self.failed_words,
                extra={"mode": key, "failures": failures, "error": error, **extra},
            )

    def passed(self, key: str) -> None:
        failures = self._pace(key).passed()
        if failures:
            self.logger.warning(
                self.passed_words.format(key=key, failures=failures),
                extra={"mode": key, "failures": failures},
            )
