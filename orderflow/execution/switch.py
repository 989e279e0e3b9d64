"""Cancel switches: cancel some of a strategy's live orders now, and keep at it until they are
gone.

The kill switch: each killed (or deleted) strategy gets one task. It asks the desk to cancel
every live order of the strategy (batches in parallel) and, while the exchange fails — 503, 429,
a timeout, no connection — retries with exponential backoff (50 ms doubling to 2 s), and
never sooner than the exchange's ``Retry-After`` says (at most :data:`MAX_RETRY_AFTER_SECS`):
asking a rate-limited exchange again at once only gets another 429. Nothing it
meets escapes: the executor and the other strategies keep trading. The task ends when no order
of the strategy is open; the maintenance loop re-arms it while a killed strategy still has live
orders (an intent adopted after the kill, say). The leader-exit switch does the same for the
entry orders whose leader has sold the token since (``OrderCanceller.cancel_left_behind``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from orderflow.execution.broker import ExchangeBusyError

log = logging.getLogger(__name__)
FIRST_RETRY_SECS = 0.05
MAX_RETRY_SECS = 2.0
MAX_RETRY_AFTER_SECS = 30.0  # a longer Retry-After is not waited for in full


Attempt = Callable[[str], Awaitable[int]]  # one cancel attempt: how many are left open


class KillSwitch:
    """Runs ``attempt`` for a strategy until it leaves nothing open (``kill``: the desk's
    ``cancels.cancel_strategy``; ``leader-exit``: its ``cancels.cancel_left_behind``)."""

    def __init__(self, attempt: Attempt, name: str = "kill") -> None:
        self.attempt = attempt
        self.name = name
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
        while True:
            attempt += 1
            try:
                remaining = await self.attempt(strategy)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                wait = delay
                if isinstance(exc, ExchangeBusyError) and exc.retry_after is not None:
                    wait = max(delay, min(MAX_RETRY_AFTER_SECS, exc.retry_after))
                log.warning(
                    f"{self.name}: cancel failed; retrying",
                    extra={
                        "strategy": strategy,
                        "attempt": attempt,
                        "retry_in_secs": wait,
                        "error": f"{type(exc).__name__}: {exc}",
                    },
                )
            else:
                if remaining == 0:
                    return
                wait = delay
            await asyncio.sleep(wait)
            delay = min(MAX_RETRY_SECS, delay * 2)

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
