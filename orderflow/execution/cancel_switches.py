"""The executor's cancel switches: what each cancels, and when it is set going.

Three :class:`~orderflow.execution.switch.KillSwitch` es, each a task per strategy that cancels
until nothing it reads is left open, retrying with backoff while the exchange fails and pacing
the cancels it refuses (:mod:`orderflow.execution.cancels`):

* **kill** — every live order of a killed (or deleted) strategy;
* **pause** — the live entries (BUY) of a paused strategy, not its exits. A pause stops new
  exposure: a resting entry filling after the pause opens a position the user paused the
  strategy to avoid. A resting exit sells what is held after the leader left (pausing does not
  freeze risk), and cancelled it would be sent again anyway (paused strategies still exit).
  A strategy halted by stored settings that do not validate is paused for this (its row still
  at the generation found invalid: :meth:`StrategyRegistry.invalid`);
* **leader-exit** — the entries whose leader has sold the token since the buy they followed;
* **unheld-exit** — the exits (SELL) for more shares than their position holds now: the buy
  they sell failed on chain after they were taken (``switch_queries.unheld_exits``).

Each is set going when the trading loop sees the switch turn on (:meth:`CancelSwitches.act_on`),
when an order goes out as it does (:meth:`CancelSwitches.after_send`: the order worker's last
check passed before the switch), and by every maintenance pass while what it cancels is still
live (:meth:`CancelSwitches.rearm`): an order adopted after the switch, a switch turned on while
no executor ran (a restart reads the row as it is, and sees no change).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping

import asyncpg

from orderflow.execution import switch_queries
from orderflow.execution.cancels import OrderCanceller
from orderflow.execution.strategies import Change, StrategyState
from orderflow.execution.switch import KillSwitch

log = logging.getLogger(__name__)


class CancelSwitches:
    """The kill, pause and leader-exit switches of the strategies one executor runs
    (``wanted``: another executor runs the others, and cancels their orders itself)."""

    def __init__(
        self,
        cancels: OrderCanceller,
        wanted: Callable[[str], bool],
        invalid: Callable[[], Mapping[str, int]] = dict,
    ) -> None:
        self.kills = KillSwitch(cancels.cancel_strategy)
        self.pauses = KillSwitch(self._pause, "pause")
        self.left_behind = KillSwitch(cancels.cancel_left_behind, "leader-exit")
        self.unheld = KillSwitch(cancels.cancel_unheld, "unheld-exit")
        self.cancels = cancels
        self.wanted = wanted
        self.invalid = invalid  # strategies halted by invalid settings: their row's generation

    async def _pause(self, strategy: str) -> int:
        return await self.cancels.cancel_paused(strategy, self.invalid().get(strategy))

    def act_on(self, changes: Iterable[Change]) -> None:
        """A refresh of the strategies saw these changes: a kill (or a removal) cancels every
        live order of the strategy, a pause its entries."""
        for change in changes:
            if change.killed_now or change.removed:
                log.warning(
                    "strategy killed" if change.killed_now else "strategy removed",
                    extra={"strategy": change.name},
                )
                self.kills.request(change.name)
            elif change.paused_now or change.invalid_now:
                log.warning(
                    f"strategy {'paused' if change.paused_now else 'halted'}:"
                    " cancelling its resting entries",
                    extra={"strategy": change.name},
                )
                self.pauses.request(change.name)

    def after_send(self, state: StrategyState, side: str) -> None:
        """An order of ``state``'s strategy was placed (or not) while it was killed, or an
        entry while it was paused or halted by invalid settings: its switch cancels it too."""
        if state.killed:
            self.kills.request(state.name)
        elif (state.paused or state.error is not None) and side == "BUY":
            self.pauses.request(state.name)

    async def rearm(self, conn: asyncpg.Connection) -> None:
        """Set going the switch of every strategy still holding live orders it cancels: killed,
        deleted or unknown strategies' orders, paused (or invalid) ones' entries, entries whose
        leader has sold since (an order that reached the exchange after the sell was read, a
        sell read before a restart)."""
        doomed = await switch_queries.strategies_with_orders_to_cancel(conn)
        paused = await switch_queries.strategies_with_entries_to_pause(conn, self.invalid())
        left = {str(r["strategy"]) for r in await switch_queries.left_behind(conn, None)}
        unheld = {str(r["strategy"]) for r in await switch_queries.unheld_exits(conn, None)}
        for switch, names in (
            (self.kills, doomed),
            (self.pauses, paused),
            (self.left_behind, sorted(left)),
            (self.unheld, sorted(unheld)),
        ):
            for name in names:
                if self.wanted(name):
                    switch.request(name)

    async def stop(self) -> None:
        for switch in (self.kills, self.pauses, self.left_behind, self.unheld):
            await switch.stop()
