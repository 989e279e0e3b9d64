"""Cancel switches: cancel some of a strategy's live orders now, and keep at it until they are
gone.

The kill switch: each killed (or deleted) strategy gets one task. It asks the desk to cancel
every live order of the strategy (batches in parallel) and, while the exchange fails — 503, 429,
a timeout, no connection — retries with exponential backoff (50 ms doubling to 2 s; logged at
once, then at most once a minute with the count since, :class:`~orderflow.execution.log_pace.
LogPace`, and once when cancels pass again), and
never sooner than the exchange's ``Retry-After`` says (at most :data:`MAX_RETRY_AFTER_SECS`):
asking a rate-limited exchange again at once only gets another 429. A refusal that asking again
soon will not change — the exchange refuses our API key (401, 403), or answers a cancel
``not_canceled`` while the order stays open (:mod:`orderflow.execution.cancel_pacing` paces those
per order) — is asked again after :func:`refused_pause` (2 s doubling to a minute: never given up,
the key may be fixed and the order let go), logged as an error once (a warning after) and
counted in ``orderflow_cancels_refused_total{why}``. Nothing it meets escapes: the executor and
the other strategies keep trading. The task ends when no order of the strategy is open; the
maintenance loop re-arms it while a killed strategy still has live orders (an intent adopted
after the kill, say). The leader-exit switch does the same for the
entry orders whose leader has sold the token since (``OrderCanceller.cancel_left_behind``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from orderflow.execution.broker import CredentialsRefusedError, ExchangeBusyError
from orderflow.execution.log_pace import LogPace
from orderflow.telemetry import meter

log = logging.getLogger(__name__)
FIRST_RETRY_SECS = 0.05
MAX_RETRY_SECS = 2.0
MAX_RETRY_AFTER_SECS = 30.0  # a longer Retry-After is not waited for in full
# After a refusal that asking again at once will not change: 2 s doubling to a minute.
REFUSED_FIRST_SECS = 2.0
REFUSED_MAX_SECS = 60.0
# Each cancel the exchange refused: why="not_canceled" (an order it answered not cancelled and
# still shows open), why="credentials" (our API key refused, 401/403). Above 0 for long, a
# killed strategy (or an entry its leader left) still has a live order at the exchange.
refusals = meter("orderflow.execution").create_counter(
    "orderflow_cancels_refused_total", description="Cancels the exchange refused, by why"
)
CREDENTIALS_HELP = (
    "the CLOB refuses our API key: no cancel gets through until it is fixed. Check"
    " POLY_API_KEY / POLY_API_SECRET / POLY_API_PASSPHRASE (or unset all three to derive the"
    " key again from POLY_PRIVATE_KEY) and restart the executor; cancelling is tried again"
    " every minute meanwhile"
)


def retry_after_wait(retry_after: float) -> float:
    """How long an exchange's ``Retry-After`` is waited for: never negative, at most
    :data:`MAX_RETRY_AFTER_SECS` (the kill switch's cancels, the order worker's orders)."""
    return min(MAX_RETRY_AFTER_SECS, max(0.0, retry_after))


def refused_pause(tries: int) -> float:
    """Seconds before asking again after ``tries`` refusals in a row (2 s doubling to 60 s)."""
    return min(REFUSED_MAX_SECS, REFUSED_FIRST_SECS * (1 << min(max(tries - 1, 0), 16)))


Attempt = Callable[[str], Awaitable[int]]  # one cancel attempt: how many are left open


class KillSwitch:
    """Runs ``attempt`` for a strategy until it leaves nothing open (``kill``: the desk's
    ``cancels.cancel_strategy``; ``leader-exit``: its ``cancels.cancel_left_behind``)."""

    def __init__(
        self, attempt: Attempt, name: str = "kill", monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.attempt = attempt
        self.name = name
        self.monotonic = monotonic  # the failed cancels' log pace (tests: a fake clock)
        self.tasks: dict[str, asyncio.Task[None]] = {}

    def request(self, strategy: str) -> None:
        """Start cancelling ``strategy``'s orders (no-op while a task for it runs)."""
        task = self.tasks.get(strategy)
        if task is not None and not task.done():
            return
        self.tasks[strategy] = asyncio.create_task(
            self._run(strategy), name=f"{self.name}-{strategy}"
        )

    async def _run(self, strategy: str) -> None:
        delay = FIRST_RETRY_SECS
        attempt = 0
        refused = 0  # attempts in a row whose credentials the exchange refused
        failing = LogPace(monotonic=lambda: self.monotonic())  # attempts that failed, logged
        while True:
            attempt += 1
            try:
                remaining = await self.attempt(strategy)
            except asyncio.CancelledError:
                raise
            except CredentialsRefusedError as exc:
                refused += 1
                wait = refused_pause(refused)
                refusals.add(1, {"why": "credentials"})
                extra = {"strategy": strategy, "attempt": attempt, "retry_in_secs": wait}
                extra["error"] = str(exc)
                if refused == 1:
                    log.error(f"{self.name}: {CREDENTIALS_HELP}", extra=extra)
                else:
                    log.warning(f"{self.name}: cancel refused: API key refused", extra=extra)
            except Exception as exc:
                wait = delay
                if isinstance(exc, ExchangeBusyError) and exc.retry_after is not None:
                    wait = max(delay, retry_after_wait(exc.retry_after))
                self._failed(failing, strategy, attempt, wait, exc)
            else:
                self._passed(failing, strategy, attempt)
                if refused:
                    log.warning(
                        f"{self.name}: API key accepted again", extra={"strategy": strategy}
                    )
                    refused = 0
                if remaining == 0:
                    return
                wait = delay  # orders refused as such are paced by the attempt itself
            await asyncio.sleep(wait)
            delay = min(MAX_RETRY_SECS, delay * 2)

    def _failed(
        self, failing: LogPace, strategy: str, attempt: int, wait: float, exc: Exception
    ) -> None:
        """A cancel attempt failed (the exchange down, busy, stopped): said at once, then at
        most once a minute with the count since — the retries go on every 2 s meanwhile."""
        failures = failing.failed()
        if failures is None:
            return
        log.warning(
            f"{self.name}: cancel failed; retrying",
            extra={
                "strategy": strategy,
                "attempt": attempt,
                "failures": failures,  # since the last line
                "retry_in_secs": wait,
                "error": f"{type(exc).__name__}: {exc}",
            },
        )

    def _passed(self, failing: LogPace, strategy: str, attempt: int) -> None:
        """A cancel attempt went through: said once after failures."""
        failures = failing.passed()
        if failures:
            log.warning(
                f"{self.name}: cancels pass again after {failures} failed attempt(s)",
                extra={"strategy": strategy, "attempt": attempt, "failures": failures},
            )

    async def wait(self) -> None:
        """Until every running kill has finished (tests)."""
        while any(not t.done() for t in self.tasks.values()):
            await asyncio.gather(*self.tasks.values(), return_exceptions=True)

    async def stop(self) -> None:
        tasks, self.tasks = list(self.tasks.values()), {}
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
