"""The live broker of an executor that started while the CLOB did not answer its log-in.

Logging in asks the exchange (the API key checked, or derived from the private key). An
executor that could not log in used to exit at start-up: a strategy killed while it was down
kept its orders live at the exchange until a later start found the exchange up (a crash loop's
back-off: minutes after it was back), and the paper strategies did not trade meanwhile.

:class:`PendingLiveBroker` stands in for the :class:`~orderflow.execution.live.LiveBroker`
until it is logged in: a task of its own tries again after a pause (1 s doubling to
:data:`MAX_PAUSE_SECS`) for as long as it takes, and every call meanwhile fails as the exchange
not answering does (:class:`~orderflow.execution.broker.ExchangeBusyError`; our key refused:
:class:`~orderflow.execution.broker.CredentialsRefusedError`): no order is built or sent (the
signal is SKIPPED ``order_build_failed``), intents stay in doubt, the kill switch keeps
retrying its cancels, the market's rules fall back to the strategy's. Once logged in, every
call goes to the live broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from orderflow.errors import OrderflowError
from orderflow.execution.broker import (
    BookTop,
    CredentialsRefusedError,
    ExchangeBusyError,
    MarketRules,
)
from orderflow.execution.live import LiveBroker
from orderflow.execution.live_delegate import DelegatingBroker

log = logging.getLogger(__name__)
FIRST_PAUSE_SECS = 1.0
MAX_PAUSE_SECS = 5.0


def log_in_pause(tries: int) -> float:
    """Seconds before the next log-in after ``tries`` failed ones (1 s doubling to 5 s)."""
    return min(MAX_PAUSE_SECS, FIRST_PAUSE_SECS * (1 << min(max(tries - 1, 0), 8)))


class PendingLiveBroker(DelegatingBroker):
    """A live broker that logs in (``connect``) as soon as the CLOB answers."""

    def __init__(self, connect: Callable[[], Awaitable[LiveBroker]], *, first_error: str) -> None:
        self._connect = connect
        self._broker: LiveBroker | None = None
        self._error: OrderflowError = ExchangeBusyError(first_error)
        self._task = asyncio.get_running_loop().create_task(self._log_in(), name="clob-log-in")

    async def _log_in(self) -> None:
        tries = 1  # the start-up's
        while True:
            await asyncio.sleep(log_in_pause(tries))
            try:
                broker = await self._connect()
            except OrderflowError as exc:
                tries += 1
                busy = isinstance(exc, ExchangeBusyError) and not isinstance(
                    exc, CredentialsRefusedError
                )
                # The exchange not answering was said at start-up; anything else is news, said
                # once (an error) until it changes.
                news = not busy and str(exc) != str(self._error)
                self._error = exc
                (log.error if news else log.debug)(
                    "cannot log in to the CLOB; trying again",
                    extra={"error": str(exc), "retry_in_secs": log_in_pause(tries)},
                )
                continue
            except Exception as exc:  # not the SDK's: its type only (a message could carry
                tries += 1  # what it was given, the key among it), tried again all the same
                self._error = ExchangeBusyError(type(exc).__name__)
                log.error(
                    "cannot log in to the CLOB; trying again",
                    extra={"error": type(exc).__name__, "retry_in_secs": log_in_pause(tries)},
                )
                continue
            self._broker = broker
            log.warning("logged in to the CLOB: live trading resumes", extra={"tries": tries})
            return

    def _live(self) -> LiveBroker:
        if self._broker is not None:
            return self._broker
        error = self._error
        if isinstance(error, CredentialsRefusedError):
            raise CredentialsRefusedError(str(error))
        raise ExchangeBusyError(f"not logged in to the CLOB yet: {error}")

    async def _target(self) -> LiveBroker:
        return self._live()

    async def order_heartbeat(self) -> bool:
        return await self._live().order_heartbeat()

    async def market_rules(self, token_id: int) -> MarketRules | None:
        if self._broker is None:
            return None  # not known: the strategy's settings apply
        return await self._broker.market_rules(token_id)

    async def read_book(self, token_id: int) -> None:
        if self._broker is not None:
            await self._broker.read_book(token_id)

    def book_top(self, token_id: int) -> BookTop | None:
        return None if self._broker is None else self._broker.book_top(token_id)

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        if self._broker is not None:
            await self._broker.close()
