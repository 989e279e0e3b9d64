"""The CLOB's dead man's switch, kept alive while this executor leads.

Polymarket's CLOB takes an order heartbeat (``POST /v1/heartbeats``, the SDK's
``send_order_heartbeat``): once one is accepted, the exchange cancels every open order of the API
key when none has come for about 10 seconds. Without it, the orders of an executor that died (a
crash, ``kill -9``, a node lost), hangs or lost its network rest at the exchange until they expire
(``order_ttl_secs``: 5 minutes by default, up to a week) and can fill with nobody watching,
their kill switch included: a strategy killed meanwhile cannot cancel them.

While it leads with live trading set up (the live broker), the executor sends one every
``order_heartbeat_secs`` (5 s), on a task of its own (a slow database or exchange call holds it
up no more than a blocked process would), and within a second after a send that failed — or,
rate limited, once the exchange's ``Retry-After`` has passed (asked sooner, it only refuses
again and may keep its limit longer; a wait past its ~10 s has our orders cancelled meanwhile,
which the warning says). It stops
when the executor stops leading: a standby that takes over continues the chain within the
exchange's 10 s (its first send is refused with the id the exchange expects and sent again with
it: :meth:`orderflow.execution.live.LiveBroker.order_heartbeat`), so a change of leader keeps the
orders; an executor stopped for good has them cancelled, and the next one to lead reads them
cancelled (its reconciliation of open orders). There is no way to disarm it: the registration
lapses with the beats.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable

from orderflow.errors import OrderflowError
from orderflow.execution.broker import Broker, ExchangeBusyError
from orderflow.execution.settings import ExecutorSettings
from orderflow.execution.switch import retry_after_wait
from orderflow.telemetry import meter

log = logging.getLogger(__name__)
RETRY_SECS = 1.0  # after a failed send: the exchange cancels after ~10 s without one
SWITCH_SECS = 10.0  # the exchange's: open orders cancelled this long after the last accepted send
heartbeats = meter("orderflow.execution").create_counter(
    "orderflow_order_heartbeats_total",
    description="Order heartbeats sent to the CLOB, by result (taken, refused): a run of "
    "refusals longer than ~10 s has the exchange cancel every open order of the API key",
)


class OrderHeartbeat:
    """Sends ``broker``'s order heartbeat every ``every`` seconds until cancelled."""

    def __init__(self, broker: Broker, every: float) -> None:
        self.broker = broker
        self.every = every
        self._failing: str | None = None  # the error of the failing sends, said once

    async def run(self) -> None:
        while True:
            wait = await self.beat()
            await asyncio.sleep(wait)

    async def beat(self) -> float:
        """One send; the seconds until the next: ``every`` after one taken, at most a second
        after one refused, or as long as a rate limit's ``Retry-After`` asked (at most
        :data:`~orderflow.execution.switch.MAX_RETRY_AFTER_SECS`). A failure is logged when it
        starts or changes, and the recovery once, not every second."""
        try:
            await self.broker.order_heartbeat()
        except Exception as exc:  # an error of ours in words, anything else by its type only
            wait = min(self.every, RETRY_SECS)
            if isinstance(exc, ExchangeBusyError) and exc.retry_after is not None:
                wait = max(wait, retry_after_wait(exc.retry_after))
            self._failed(str(exc) if isinstance(exc, OrderflowError) else type(exc).__name__, wait)
            heartbeats.add(1, {"result": "refused"})
            return wait
        heartbeats.add(1, {"result": "taken"})
        if self._failing is not None:
            log.warning("order heartbeat taken again", extra={"after": self._failing})
            self._failing = None
        return self.every

    def _failed(self, error: str, wait: float) -> None:
        if error != self._failing:
            log.warning(
                "order heartbeat not taken: the exchange cancels our open orders if none is "
                "for about 10 s",
                extra={"error": error, "next_in_secs": round(wait, 1)},
            )
        if wait >= SWITCH_SECS:
            log.warning(
                "order heartbeat: the exchange asked to wait longer than its switch's timeout; "
                "our open orders are cancelled meanwhile",
                extra={"wait_secs": round(wait, 1)},
            )
        self._failing = error


@contextlib.asynccontextmanager
async def kept_alive(brokers: Iterable[Broker], settings: ExecutorSettings) -> AsyncIterator[None]:
    """The live brokers' heartbeats sent, each on a task of its own, for the block's length
    (none when ``settings.order_heartbeat`` is off)."""
    beats = [
        OrderHeartbeat(b, settings.order_heartbeat_secs)
        for b in brokers
        if settings.order_heartbeat and b.mode == "live"
    ]
    tasks = [asyncio.create_task(b.run(), name="order-heartbeat") for b in beats]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
