"""The named strategies one executor runs, kept in step with ``orderflow_strategies``.

Settings, pause and kill live in the database (so they survive restarts and the operator can
write them). The executor re-reads a strategy when the table's trigger NOTIFYs its name, and
re-reads all of them every ``strategy_refresh_secs`` in case a notification was missed, so a
change applies within a second without a restart. A row whose settings fail validation keeps the
strategy halted (nothing new is opened) with the validation error logged, under its last valid
settings — the ones it had, or, after a restart or a failover, the ones stored in
``orderflow_strategy_valid_settings`` whenever settings were applied — never the defaults (which
are paper: a live strategy would close its live positions on paper). Its exits still go out,
to where its positions are.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import asyncpg
from pydantic import ValidationError

from orderflow.execution import strategy_queries
from orderflow.execution.strategy_queries import Switches
from orderflow.strategy.settings import StrategySettings

log = logging.getLogger(__name__)


@dataclass(slots=True)
class StrategyState:
    name: str
    settings: StrategySettings
    paused: bool = False
    killed: bool = False
    generation: int = 0
    cursor: int = 0
    error: str | None = None
    # How many times it was killed (or removed) / paused or halted by invalid settings: an
    # order decided before one of these must not go out, even once the switch is lifted again.
    kills: int = 0
    halts: int = 0
    # The row's own counts of them as last read (an order checks them again before it is sent:
    # a switch turned on and off between two reads leaves its mark there only)
    seen: Switches = field(default_factory=Switches)

    @property
    def bankroll(self) -> Decimal:
        return Decimal(repr(self.settings.bankroll_usd))

    @property
    def halted(self) -> bool:
        """Opens nothing new: paused, killed, or its stored settings are invalid."""
        return self.paused or self.killed or self.error is not None


@dataclass(frozen=True, slots=True)
class Change:
    """What a refresh changed for one strategy (the engine acts on kills and pauses)."""

    name: str
    killed_now: bool = False
    paused_now: bool = False
    invalid_now: bool = False  # its stored settings stopped validating (halted as by a pause)
    added: bool = False
    removed: bool = False


def _parse(row: asyncpg.Record) -> tuple[StrategySettings | None, str | None]:
    raw: Any = row["settings"]
    try:
        return StrategySettings.model_validate(raw), None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        return None, f"invalid settings: {problems}"


async def _last_valid(conn: asyncpg.Connection, name: str) -> StrategySettings:
    """The settings this strategy last ran with (defaults only if it never had valid ones)."""
    raw = await strategy_queries.last_valid_settings(conn, name)
    if raw is not None:
        try:
            return StrategySettings.model_validate(raw)
        except ValidationError:
            pass
    return StrategySettings()


async def state_of(conn: asyncpg.Connection, row: asyncpg.Record) -> StrategyState:
    """A strategy row as the executor would run it (read-only: stores nothing): its settings, or
    its last valid ones with the validation error when the row's do not validate."""
    settings, error = _parse(row)
    if settings is None:
        settings = await _last_valid(conn, row["name"])
    return StrategyState(
        name=row["name"],
        settings=settings,
        paused=bool(row["paused"]),
        killed=bool(row["killed"]),
        generation=int(row["generation"]),
        error=error,
        seen=Switches.of(row),
    )


class StrategyRegistry:
    """In-memory view of the strategies this executor runs (``only``: a subset by name)."""

    def __init__(self, only: list[str] | None = None) -> None:
        self.only = set(only or [])
        self.states: dict[str, StrategyState] = {}

    def active(self) -> list[StrategyState]:
        return [self.states[n] for n in sorted(self.states)]

    async def _apply(self, conn: asyncpg.Connection, row: asyncpg.Record) -> Change:
        name = row["name"]
        settings, error = _parse(row)
        state = self.states.get(name)
        added = state is None
        if settings is not None and (state is None or row["generation"] != state.generation):
            await strategy_queries.save_valid_settings(
                conn, name, settings.model_dump(mode="json"), int(row["generation"])
            )
        if state is None:
            if settings is None:
                settings = await _last_valid(conn, name)
                log.error(
                    "strategy halted: invalid settings",
                    extra={"strategy": name, "error": error, "mode": settings.mode},
                )
            state = StrategyState(name=name, settings=settings)
            self.states[name] = state
        was_killed, was_paused, was_invalid = state.killed, state.paused, state.error is not None
        was_halted = was_paused or was_invalid
        if row["generation"] != state.generation or added:
            if settings is not None:
                if settings != state.settings and not added:
                    log.info("strategy settings changed", extra={"strategy": name})
                state.settings = settings
            elif error != state.error:
                log.error("strategy halted", extra={"strategy": name, "error": error})
            state.error = error
        state.paused = bool(row["paused"])
        state.killed = bool(row["killed"])
        state.generation = int(row["generation"])
        state.seen = Switches.of(row)
        if state.killed and not was_killed:
            state.kills += 1
        if (state.paused or state.error is not None) and not was_halted:
            state.halts += 1
        return Change(
            name=name,
            killed_now=state.killed and not was_killed,
            paused_now=state.paused and not was_paused,
            invalid_now=state.error is not None and not was_invalid,
            added=added,
        )

    def invalid(self) -> dict[str, int]:
        """The strategies halted by stored settings that do not validate, each with the
        generation of its row found so (the pause switch cancels their entries while the row is
        still at it: :func:`~orderflow.execution.switch_queries.paused_entries_in`)."""
        return {n: s.generation for n, s in self.states.items() if s.error is not None}

    def wanted(self, name: str) -> bool:
        return not self.only or name in self.only

    def _remove(self, name: str) -> Change | None:
        state = self.states.pop(name, None)
        if state is None:
            return None
        # Deleted: orders still queued for it must not go out (they hold this object).
        state.killed = True
        state.kills += 1
        return Change(name=name, removed=True)

    async def refresh(self, conn: asyncpg.Connection) -> list[Change]:
        rows = [r for r in await strategy_queries.strategy_rows(conn) if self.wanted(r["name"])]
        changes = [await self._apply(conn, r) for r in rows]
        present = {r["name"] for r in rows}
        for name in [n for n in self.states if n not in present]:
            change = self._remove(name)
            if change is not None:
                changes.append(change)
        for change in changes:
            if change.added:
                self.states[change.name].cursor = await strategy_queries.ensure_cursor(
                    conn, change.name
                )
        return changes

    async def refresh_one(self, conn: asyncpg.Connection, name: str) -> Change | None:
        if not self.wanted(name):
            return None
        row = await strategy_queries.strategy_row(conn, name)
        if row is None or row["deleted_at"] is not None:
            return self._remove(name)
        change = await self._apply(conn, row)
        if change.added:
            self.states[name].cursor = await strategy_queries.ensure_cursor(conn, name)
        return change
