"""The trading loop's catch-up: the trades past the strategies' cursors, and late commits.

Trades are read in id order past the lowest cursor of the active strategies, ``batch_size`` at a
time, and evaluated by the :class:`~orderflow.execution.trading.Trader`. A trade id can commit
after higher ones: the ids skipped over are remembered (not a jump of more than
``MAX_GAP_IDS``) and the trades evaluated when they appear, for up to ``late_commit_secs``; at
the first sweep of a leadership, nothing being known about the window below the cursor yet, the
trades inserted in that window are evaluated (``replay``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from orderflow.execution.settings import ExecutorSettings
from orderflow.execution.strategies import StrategyRegistry, StrategyState
from orderflow.execution.trading import Trader
from orderflow.signals import queries as signal_queries
from orderflow.signals.views import TradeView

MAX_GAP_IDS = 10_000  # a larger jump in ids is not waited for id by id


class TradeCatchUp:
    """The ids seen so far, and the gaps among them, of one executor's leadership."""

    def __init__(
        self,
        registry: StrategyRegistry,
        trader: Trader,
        settings: ExecutorSettings,
        clock: Callable[[], datetime],
    ) -> None:
        self._registry = registry
        self._trader = trader
        self._settings = settings
        self._clock = clock
        self._gaps: dict[int, float] = {}  # trade ids skipped over -> when first noticed
        self._max_seen = 0
        self._swept = False

    def restart(self) -> None:
        """At the start of a leadership: nothing known below the active strategies' cursors."""
        self._gaps.clear()
        self._swept = False
        self._max_seen = min((st.cursor for st in self._registry.active()), default=0)

    def _note_ids(self, trades: list[TradeView]) -> None:
        """Remember ids skipped over: they may belong to transactions that commit later."""
        now = time.monotonic()
        for trade in trades:
            tid = trade.id or 0
            if tid > self._max_seen + 1:
                missing = range(self._max_seen + 1, tid)
                if len(missing) <= MAX_GAP_IDS:
                    self._gaps.update(dict.fromkeys(missing, now))
            self._gaps.pop(tid, None)
            self._max_seen = max(self._max_seen, tid)

    async def _sweep(self, strategies: list[StrategyState]) -> int:
        """Evaluate trades that filled a gap in the ids seen so far (late commits)."""
        horizon = time.monotonic() - self._settings.late_commit_secs
        for tid in [t for t, seen in self._gaps.items() if seen < horizon]:
            del self._gaps[tid]  # never committed (rolled back): give up on it
        if not self._gaps:
            return 0
        async with self._trader.connection() as conn:
            late = await signal_queries.trades_by_id(conn, self._gaps)
        for trade in late:
            self._gaps.pop(trade.id or 0, None)
        return await self._trader.process(late, strategies, self._clock(), replay=True)

    async def catch_up(self, *, sweep: bool = False) -> int:
        """Evaluate every trade past the strategies' cursors; returns new signals.

        ``sweep``: also evaluate trades that committed late below the cursor — at the first
        catch-up of a leadership the recent window below the cursor (nothing is known about it
        yet), afterwards only the ids this executor saw skipped.
        """
        strategies = self._registry.active()
        if not strategies:
            return 0
        created = 0
        after = min(st.cursor for st in strategies)
        self._max_seen = max(self._max_seen, after)
        if sweep and self._settings.late_commit_secs > 0:
            if not self._swept:
                async with self._trader.connection() as conn:
                    late = await signal_queries.late_trades(
                        conn, after, self._settings.late_commit_secs
                    )
                created += await self._trader.process(late, strategies, self._clock(), replay=True)
                self._swept = True
            else:
                created += await self._sweep(strategies)
        while True:
            async with self._trader.connection() as conn:
                trades = await signal_queries.new_trades(conn, after, self._settings.batch_size)
            if not trades:
                break
            self._note_ids(trades)
            created += await self._trader.process(trades, strategies, self._clock())
            after = trades[-1].id or after
            if len(trades) < self._settings.batch_size:
                break
        return created
