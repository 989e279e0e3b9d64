"""The operator's writes: the strategy row it owns (what its status reports is ``figures``'s).

Ownership. The strategy's name in ``orderflow_strategies`` is the resource's plain
``metadata.name``, because that is what people type (``orderflow strategy show whale-follow``,
the executor's logs, the signals' ``strategy`` column). The namespace goes into ``source``
(``k8s:<namespace>/<name>``): a row with another live owner (a CLI-made strategy, or a
same-named resource in another namespace) is never overwritten — the resource reports
``NameConflict`` instead. A retired row (``deleted_at`` set: its resource's finalizer, the orphan
sweep) is a killed strategy, which may keep open positions and resting orders: it is taken over
— by its own resource or another — only by a spec that says ``killed: true``, so the kill holds
until that resource lets go of it (``Outcome.RETIRED`` otherwise, nothing written).

Idempotence. Every write compares before it writes, so re-running a handler (operator restart,
kopf retry) changes nothing, bumps no generation and sends no NOTIFY. The NOTIFY itself comes
from the table's trigger (channel ``orderflow_strategies``); the executor LISTENs and applies
changes within a second.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

# ``source`` of every row a TradingStrategy owns: ``k8s:<namespace>/<name>``
SOURCE_PREFIX = "k8s:"


def source_for(namespace: str, name: str) -> str:
    """The ``source`` value that marks a row as owned by this resource."""
    return f"{SOURCE_PREFIX}{namespace}/{name}"


def managed_by(source: str) -> tuple[str, str] | None:
    """The ``(namespace, name)`` of the resource a ``source`` names; None: no resource's."""
    if not source.startswith(SOURCE_PREFIX):
        return None
    namespace, _, name = source.removeprefix(SOURCE_PREFIX).partition("/")
    return namespace, name


class Outcome(enum.Enum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    CONFLICT = "conflict"  # another live owner has this name
    ABSENT = "absent"  # nothing to update (no row of ours)
    RETIRED = "retired"  # the row is retired (deleted, killed) and the spec does not say killed


@dataclass(frozen=True, slots=True)
class WriteResult:
    outcome: Outcome
    generation: int | None = None
    owner: str | None = None  # the other owner, on CONFLICT; the last one, on RETIRED
    was_paused: bool = False  # the switches before this write (for the transition events)
    was_killed: bool = False
    # stops set outside the resource (``orderflow strategy kill``) kept against its spec
    held: tuple[str, ...] = ()


_LOCK_ROW = """
SELECT settings, paused, killed, pause_held, kill_held, generation, source, deleted_at
  FROM orderflow_strategies WHERE name = $1 FOR UPDATE
"""


async def retire_replaced(
    conn: asyncpg.Connection, *, name: str, source: str, uid: str
) -> int | None:
    """Before a resource reconciles: retire (kill, mark deleted) the live row of ``source`` that
    another resource of that name owned (``source_uid``, migration 087): that one was deleted
    without its finalizer, and its row is retired as the finalizer would have. The new
    generation, None if there was none; a row without a uid is adopted instead (quietly: no
    generation)."""
    generation: int | None = await conn.fetchval(
        "UPDATE orderflow_strategies SET killed = TRUE, deleted_at = now(),"
        " generation = generation + 1, updated_at = now()"
        " WHERE name = $1 AND source = $2 AND deleted_at IS NULL AND source_uid <> $3"
        " RETURNING generation",
        name,
        source,
        uid,
    )
    if generation is None:
        await conn.execute(
            "UPDATE orderflow_strategies SET source_uid = $3"
            " WHERE name = $1 AND source = $2 AND deleted_at IS NULL AND source_uid IS NULL",
            name,
            source,
            uid,
        )
    return generation


async def apply_strategy(
    conn: asyncpg.Connection,
    *,
    name: str,
    source: str,
    settings: dict[str, Any],
    paused: bool,
    killed: bool,
    uid: str | None = None,
) -> WriteResult:
    """Create or update the row so it holds exactly these settings and switches — but a stop
    set outside the resource (``pause_held`` / ``kill_held``, migration 051: the command line's
    on a row of ours) stays on until the spec takes it over (its switch on clears the hold).

    A retired row (``deleted_at`` set), whoever owned it, is left as it is (``RETIRED``) unless
    the spec says ``killed: true``: it is a killed strategy, and writing the spec's ``killed:
    false`` over it resurrected it silently — its open positions and resting orders with it —
    on a re-apply, the operator's restart, or a conflicted resource's next retry. Taken over
    killed, it trades again once the spec then says ``killed: false``.

    ``uid``: the resource's, recorded with a row it creates or takes over (see
    :func:`retire_replaced`)."""
    async with conn.transaction():
        row = await conn.fetchrow(_LOCK_ROW, name)
        if row is None:
            generation = await conn.fetchval(
                "INSERT INTO orderflow_strategies"
                " (name, settings, paused, killed, source, source_uid)"
                " VALUES ($1, $2, $3, $4, $5, $6)"
                " ON CONFLICT (name) DO NOTHING RETURNING generation",
                name,
                settings,
                paused,
                killed,
                source,
                uid,
            )
            if generation is None:  # lost a race with another writer: let the caller retry
                raise asyncpg.SerializationError("strategy row appeared concurrently")
            return WriteResult(Outcome.CREATED, generation)
        if row["source"] != source and row["deleted_at"] is None:
            return WriteResult(Outcome.CONFLICT, row["generation"], row["source"])
        live = row["deleted_at"] is None
        if not live and not killed:
            return WriteResult(Outcome.RETIRED, row["generation"], row["source"])
        was_paused: bool = row["paused"] and live
        was_killed: bool = row["killed"] and live
        # a hold outlives the spec's switch off; the spec's switch on takes the stop over
        pause_held: bool = row["pause_held"] and live and not paused
        kill_held: bool = row["kill_held"] and live and not killed
        held = tuple(f for f, on in (("paused", pause_held), ("killed", kill_held)) if on)
        paused, killed = paused or pause_held, killed or kill_held
        same = (
            row["settings"] == settings
            and row["paused"] == paused
            and row["killed"] == killed
            and row["pause_held"] == pause_held
            and row["kill_held"] == kill_held
            and row["source"] == source
            and row["deleted_at"] is None
        )
        if same:
            return WriteResult(
                Outcome.UNCHANGED,
                row["generation"],
                was_paused=was_paused,
                was_killed=was_killed,
                held=held,
            )
        generation = await conn.fetchval(
            "UPDATE orderflow_strategies SET settings = $2, paused = $3, killed = $4,"
            " pause_held = $6, kill_held = $7, source = $5, deleted_at = NULL,"
            " source_uid = coalesce($8, source_uid),"
            " generation = generation + 1, updated_at = now()"
            " WHERE name = $1 RETURNING generation",
            name,
            settings,
            paused,
            killed,
            source,
            pause_held,
            kill_held,
            uid,
        )
        return WriteResult(
            Outcome.UPDATED, generation, was_paused=was_paused, was_killed=was_killed, held=held
        )


async def stop_strategy(
    conn: asyncpg.Connection, *, name: str, source: str, pause: bool, kill: bool
) -> WriteResult:
    """Only ever turn the switches *on* (for a spec that cannot be applied: stopping is safe)."""
    row = await conn.fetchrow(
        "UPDATE orderflow_strategies SET paused = paused OR $3, killed = killed OR $4,"
        " generation = generation + 1, updated_at = now()"
        " WHERE name = $1 AND source = $2 AND deleted_at IS NULL"
        "   AND ((NOT paused AND $3) OR (NOT killed AND $4))"
        " RETURNING generation, paused, killed",
        name,
        source,
        pause,
        kill,
    )
    if row is None:
        return WriteResult(Outcome.UNCHANGED)
    return WriteResult(Outcome.UPDATED, row["generation"])


async def retire_strategy(conn: asyncpg.Connection, *, name: str, source: str) -> WriteResult:
    """The finalizer's write: kill the strategy and mark it deleted. Signals, positions and
    performance rows are kept (they are history, keyed by name, not by a foreign key)."""
    generation = await conn.fetchval(
        "UPDATE orderflow_strategies SET killed = TRUE, deleted_at = now(),"
        " generation = generation + 1, updated_at = now()"
        " WHERE name = $1 AND source = $2 AND deleted_at IS NULL RETURNING generation",
        name,
        source,
    )
    return WriteResult(Outcome.UPDATED if generation is not None else Outcome.ABSENT, generation)


async def live_orders_of_retired(
    conn: asyncpg.Connection, sources: Sequence[str], names: Sequence[str] = ()
) -> dict[str, int]:
    """Live-mode orders resting at the exchange or sent and in doubt (``INTENT``, ``OPEN``) of
    killed or deleted strategies whose ``source`` is LIKE one of ``sources`` or whose name is
    one of ``names``, per strategy that has any: what the executor's kill switch still has to
    cancel. Paper orders are left out: they rest on the executor's own paper exchange."""
    rows = await conn.fetch(
        """
        SELECT o.strategy, count(*) AS n
          FROM orderflow_orders o JOIN orderflow_strategies s ON s.name = o.strategy
         WHERE o.mode = 'live' AND o.status IN ('INTENT', 'OPEN')
           AND (s.killed OR s.deleted_at IS NOT NULL)
           AND (s.source LIKE ANY($1::text[]) OR s.name = ANY($2::text[]))
         GROUP BY o.strategy
        """,
        list(sources),
        list(names),
    )
    return {str(r["strategy"]): int(r["n"]) for r in rows}


async def kill_unmanaged(conn: asyncpg.Connection, names: Sequence[str]) -> list[str]:
    """Kill these strategies unless a TradingStrategy owns them (its finalizer retires those):
    the executor's own strategy at uninstall. The names switched now (already killed or
    absent: none)."""
    rows = await conn.fetch(
        "UPDATE orderflow_strategies SET killed = TRUE, generation = generation + 1,"
        " updated_at = now()"
        " WHERE name = ANY($1::text[]) AND deleted_at IS NULL AND NOT killed"
        "   AND NOT starts_with(source, $2) RETURNING name",
        list(names),
        SOURCE_PREFIX,
    )
    return sorted(str(r["name"]) for r in rows)


async def managed_rows(conn: asyncpg.Connection) -> list[tuple[str, str]]:
    """``(name, source)`` of every live row a TradingStrategy owns."""
    rows = await conn.fetch(
        "SELECT name, source FROM orderflow_strategies"
        " WHERE deleted_at IS NULL AND starts_with(source, $1) ORDER BY name",
        SOURCE_PREFIX,
    )
    return [(str(r["name"]), str(r["source"])) for r in rows]


async def ping(conn: asyncpg.Connection) -> bool:
    """For the liveness probe: can we still talk to the database?"""
    return bool(await conn.fetchval("SELECT TRUE"))
