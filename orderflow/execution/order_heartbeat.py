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
cancelled (its reconciliation of open orders) — also on an exchange that shows a cancelled order
nowhere, as it shows a fully matched one: its first send is taken with an empty id, a new
registration of the key, which says the switch had lapsed (``on_lapse``, as of that send).
Until 7 Dec 2026 a lapse was known only from this process's own sends, and after a restart such
an order stayed OPEN until its expiry: counted, and an exit so cancelled not tried again.
There is no way to disarm it: the registration lapses with the beats.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import datetime, timedelta

from orderflow.errors import OrderflowError
from orderflow.execution.broker import Broker, ExchangeBusyError, Mode
from orderflow.execution.log_pace import LogPace
from orderflow.execution.orders import utcnow
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


# Told when the exchange's switch has lapsed: the mode, and when (by ``clock``): the last send
# taken plus SWITCH_SECS — every order of the key resting then was cancelled by the exchange.
OnLapse = Callable[[Mode, datetime], None]


class OrderHeartbeat:
    """Sends ``broker``'s order heartbeat every ``every`` seconds until cancelled; ``on_lapse``
    is told once per lapse: a send (taken or not) made :data:`SWITCH_SECS` or more after the
    last one taken — a rate limit's ``Retry-After`` past the switch, refusals for that long."""

    def __init__(
        self,
        broker: Broker,
        every: float,
        on_lapse: OnLapse | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.broker = broker
        self.every = every
        self.on_lapse = on_lapse
        self.clock = clock
        self._failing: str | None = None  # the error of the failing sends, as last said
        self._said: tuple[str, bool] | None = None  # ... and whether a wait past the switch
        # Failed sends: said when the failure starts or changes, at most once a minute (of
        # ``clock``) with the count since — a flapping exchange is not a line a send.
        self._pace = LogPace(monotonic=lambda: self.clock().timestamp())
        # The last send taken: monotonic time and ``clock``'s; and whether its lapse was told.
        self._taken: tuple[float, datetime] | None = None
        self._lapse_told = False

    async def run(self) -> None:
        while True:
            wait = await self.beat()
            await asyncio.sleep(wait)

    async def beat(self) -> float:
        """One send; the seconds until the next: ``every`` after one taken, at most a second
        after one refused, or as long as a rate limit's ``Retry-After`` asked (at most
        :data:`~orderflow.execution.switch.MAX_RETRY_AFTER_SECS`). A failure is logged when it
        starts or changes (at most once a minute, with the count since), and the recovery once,
        not every second."""
        sent_at = self.clock()
        try:
            anew = await self.broker.order_heartbeat()
        except Exception as exc:  # an error of ours in words, anything else by its type only
            self._lapsed()
            wait = min(self.every, RETRY_SECS)
            if isinstance(exc, ExchangeBusyError) and exc.retry_after is not None:
                wait = max(wait, retry_after_wait(exc.retry_after))
            self._failed(str(exc) if isinstance(exc, OrderflowError) else type(exc).__name__, wait)
            heartbeats.add(1, {"result": "refused"})
            return wait
        self._lapsed()
        if anew:
            self._registered(sent_at)
        self._taken, self._lapse_told = (time.monotonic(), self.clock()), False
        heartbeats.add(1, {"result": "taken"})
        if self._failing is not None:
            failures = self._pace.passed()
            log.warning(
                "order heartbeat taken again", extra={"after": self._failing, "failures": failures}
            )
            self._failing = self._said = None
        return self.every

    def _lapsed(self) -> None:
        """Tell ``on_lapse`` (once) when the last send taken is :data:`SWITCH_SECS` old: the
        exchange has cancelled the key's orders since (on an exchange that forgets a done order,
        reconciliation would find them nowhere and keep them open until their expiry)."""
        if self._taken is None or self._lapse_told or self.on_lapse is None:
            return
        if time.monotonic() - self._taken[0] >= SWITCH_SECS:
            self._lapse_told = True
            self.on_lapse(self.broker.mode, self._taken[1] + timedelta(seconds=SWITCH_SECS))

    def _registered(self, sent_at: datetime) -> None:
        """The send made at ``sent_at`` was taken as a new registration of the key: the exchange
        held none, so its switch had lapsed — before this process's first send (its
        predecessor stopped, crashed or lost the network more than ~10 s ago) or since one
        taken — and cancelled every order of the key resting then. ``on_lapse`` is told, as of
        the send, unless the lapse was told already from this process's own sends (as of their
        last taken plus :data:`SWITCH_SECS`). Never armed before, the switch cancelled nothing:
        the orders still rest, and the exchange shows them so (what ``on_lapse`` closes is
        only what it shows nowhere)."""
        if self._lapse_told or self.on_lapse is None:
            return
        self._lapse_told = True
        if self._taken is not None:
            log.warning(
                "order heartbeat registered anew: the exchange's switch had lapsed, our open "
                "orders were cancelled",
            )
        self.on_lapse(self.broker.mode, sent_at)

    def _failed(self, error: str, wait: float) -> None:
        long_wait = wait >= SWITCH_SECS
        said = (error, long_wait)
        failures = self._pace.failed(news=said != self._said)
        if failures is None:
            return
        self._failing, self._said = error, said
        log.warning(
            "order heartbeat not taken: the exchange cancels our open orders if none is "
            "for about 10 s",
            extra={"error": error, "next_in_secs": round(wait, 1), "failures": failures},
        )
        if long_wait:
            log.warning(
                "order heartbeat: the exchange asked to wait longer than its switch's timeout; "
                "our open orders are cancelled meanwhile",
                extra={"wait_secs": round(wait, 1)},
            )


@contextlib.asynccontextmanager
async def kept_alive(
    brokers: Iterable[Broker],
    settings: ExecutorSettings,
    on_lapse: OnLapse | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> AsyncIterator[None]:
    """The live brokers' heartbeats sent, each on a task of its own, for the block's length
    (none when ``settings.order_heartbeat`` is off); each lapse told to ``on_lapse``."""
    beats = [
        OrderHeartbeat(b, settings.order_heartbeat_secs, on_lapse, clock)
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
