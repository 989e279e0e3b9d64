"""The execution stage's SQL for strategies: their rows and last valid settings, their trade
cursors, and the executors' heartbeats."""

from __future__ import annotations

from typing import Any, NamedTuple

import asyncpg

from orderflow.strategy.settings import StrategySettings

DEFAULT_MODE = StrategySettings.model_fields["mode"].default
# A BUY decided in one mode, not sent: the strategy has been switched to the other since.
MODE_CHANGED = "mode_changed"


class Switches(NamedTuple):
    """A strategy row's counts of its kills (a deletion is one) and pauses (migration 083)."""

    kills: int = 0
    halts: int = 0

    @classmethod
    def of(cls, row: asyncpg.Record) -> Switches:
        return cls(int(row["kills"]), int(row["halts"]))


# --------------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------------


async def strategy_rows(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            "SELECT name, settings, paused, killed, generation, kills, halts"
            " FROM orderflow_strategies WHERE deleted_at IS NULL ORDER BY name"
        )
    )


def switched_off(
    row: asyncpg.Record, side: str, mode: str | None = None, seen: Switches | None = None
) -> str | None:
    """The strategy's kill (a deletion is one) and, for a BUY, its pause and its mode (a BUY
    decided in ``mode`` is not sent once the strategy trades in the other) as its ``row``
    (:func:`strategy_row`) holds them now (the order desk's last check before sending:
    :mod:`orderflow.execution.send_check`; a trading loop busy with a large batch, or waiting on
    a full order queue, has not seen a kill the operator wrote a moment ago); with ``seen``, the
    row's switch counts when the decision was taken, also a kill (or, for a BUY, a pause) since
    then that was lifted again before the loop read the row. None: no switch is set."""
    now = Switches.of(row)
    if row["killed"] or row["deleted_at"] is not None or (seen and now.kills != seen.kills):
        return "strategy_killed"
    if side == "BUY" and (row["paused"] or (seen and now.halts != seen.halts)):
        return "strategy_paused"
    stored = row["settings"]
    now_mode = stored.get("mode", DEFAULT_MODE) if isinstance(stored, dict) else None
    if side == "BUY" and mode is not None and now_mode not in (None, mode):
        return MODE_CHANGED
    return None


async def strategy_row(conn: asyncpg.Connection, name: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT name, settings, paused, killed, pause_held, kill_held, generation, deleted_at,"
        " source, updated_at, kills, halts FROM orderflow_strategies WHERE name = $1",
        name,
    )
    return row


async def upsert_strategy(
    conn: asyncpg.Connection, name: str, settings: dict[str, Any], *, source: str
) -> None:
    await conn.execute(
        """
        INSERT INTO orderflow_strategies (name, settings, source)
        VALUES ($1, $2, $3)
        ON CONFLICT (name) DO UPDATE SET
            settings = EXCLUDED.settings, source = EXCLUDED.source, deleted_at = NULL,
            generation = orderflow_strategies.generation + 1, updated_at = now()
        """,
        name,
        settings,
        source,
    )


async def insert_strategy_if_absent(
    conn: asyncpg.Connection, name: str, settings: dict[str, Any], *, source: str
) -> bool:
    status = await conn.execute(
        "INSERT INTO orderflow_strategies (name, settings, source) VALUES ($1, $2, $3)"
        " ON CONFLICT (name) DO NOTHING",
        name,
        settings,
        source,
    )
    return bool(status.endswith(" 1"))


HELD = {"paused": "pause_held", "killed": "kill_held"}  # a switch and its hold (migration 051)


async def set_strategy_flag(
    conn: asyncpg.Connection, name: str, flag: str, value: bool, *, hold: bool = False
) -> bool:
    """Switch ``paused`` or ``killed``; ``hold``: a stop that holds against the TradingStrategy
    owning the row (migration 051: its operator keeps it until the resource takes it over).
    Switching off releases a hold too."""
    if flag not in HELD:
        raise ValueError(flag)
    status = await conn.execute(
        f"UPDATE orderflow_strategies SET {flag} = $2, {HELD[flag]} = $2 AND $3,"
        " generation = generation + 1, updated_at = now() WHERE name = $1 AND deleted_at IS NULL",
        name,
        value,
        hold,
    )
    return bool(status.endswith(" 1"))


async def last_valid_settings(conn: asyncpg.Connection, name: str) -> dict[str, Any] | None:
    value = await conn.fetchval(
        "SELECT settings FROM orderflow_strategy_valid_settings WHERE name = $1", name
    )
    return None if value is None else dict(value)


async def save_valid_settings(
    conn: asyncpg.Connection, name: str, settings: dict[str, Any], generation: int
) -> None:
    await conn.execute(
        """
        INSERT INTO orderflow_strategy_valid_settings (name, settings, generation)
        VALUES ($1, $2, $3)
        ON CONFLICT (name) DO UPDATE SET settings = EXCLUDED.settings,
            generation = EXCLUDED.generation, saved_at = now()
        WHERE orderflow_strategy_valid_settings.generation < EXCLUDED.generation
        """,
        name,
        settings,
        generation,
    )


async def live_exposure_strategies(conn: asyncpg.Connection) -> set[str]:
    """Strategies holding live positions or live orders (they need the live broker)."""
    rows = await conn.fetch(
        """
        SELECT DISTINCT p.strategy FROM orderflow_positions p
          JOIN orderflow_fills f ON f.position_id = p.id AND f.mode = 'live'
         WHERE p.status = 'OPEN'
        UNION
        SELECT strategy FROM orderflow_orders
         WHERE mode = 'live' AND status IN ('INTENT', 'OPEN')
        """
    )
    return {str(r["strategy"]) for r in rows}


# --------------------------------------------------------------------------------------------
# Cursors
# --------------------------------------------------------------------------------------------


async def ensure_cursor(conn: asyncpg.Connection, strategy: str) -> int:
    """A strategy's cursor; a new strategy starts at the newest trade (trades what comes next)."""
    await conn.execute(
        "INSERT INTO orderflow_executor_cursors (strategy, last_trade_id)"
        " SELECT $1, COALESCE(max(id), 0) FROM orderflow_trades"
        " ON CONFLICT (strategy) DO NOTHING",
        strategy,
    )
    return int(
        await conn.fetchval(
            "SELECT last_trade_id FROM orderflow_executor_cursors WHERE strategy = $1", strategy
        )
    )


async def set_cursor(conn: asyncpg.Connection, strategy: str, last_trade_id: int) -> None:
    await conn.execute(
        "UPDATE orderflow_executor_cursors SET last_trade_id = GREATEST(last_trade_id, $2),"
        " updated_at = now() WHERE strategy = $1",
        strategy,
        last_trade_id,
    )


# --------------------------------------------------------------------------------------------
# Liveness
# --------------------------------------------------------------------------------------------


async def heartbeat(
    conn: asyncpg.Connection,
    instance_id: str,
    *,
    is_leader: bool,
    strategies: list[str],
    runs_only: list[str],
    version: str,
) -> None:
    """``strategies``: the ones loaded now; ``runs_only``: EXECUTOR_STRATEGIES (empty: every
    strategy), which the operator compares with its resources."""
    await conn.execute(
        """
        INSERT INTO orderflow_executor_heartbeats
            (instance_id, is_leader, strategies, runs_only, version)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (instance_id) DO UPDATE SET is_leader = EXCLUDED.is_leader,
            strategies = EXCLUDED.strategies, runs_only = EXCLUDED.runs_only,
            version = EXCLUDED.version, last_seen = now()
        """,
        instance_id,
        is_leader,
        strategies,
        runs_only,
        version,
    )
