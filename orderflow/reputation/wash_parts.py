"""The partitions of ``orderflow_trades`` the stored counterparty evidence counts (migration 025):
``WASH`` reads the fills of the attached partitions, the cells count the fills that were in the
partitions attached when :func:`orderflow.reputation.wash_state.begin` or the last update took
their last id (``orderflow_wash_state.partitions``: ``'oid relname'`` each).

At an update (:func:`still_counted`):

* a partition gone from that set (detached, dropped, or recreated under its name: another oid)
  -> the cells are rebuilt;
* a partition new to it (made by ``orderflow_ensure_partitions`` for a new block range, or
  attached by hand) is fine when it holds no row with an id up to the cells' last id (one probe
  of its id index): its rows are new fills, which the update finds by id. A row at or below that
  id (an old partition attached by hand) -> rebuilt.

The set is read after the last id is taken (by ``begin``, or by the update before it reads a
fill): a partition attached in between is in the set, and read by the build or checked by the
update; one attached or detached later is found by the next update (at worst a rebuild that was
not needed, never fills missed).

A partition detached, changed and attached again between two runs keeps its oid:
``orderflow db partitions`` marks the cells stale for that (``orderflow.chain.partitions``'
``STALE_DERIVED``); by hand it is not seen.

:func:`came_back`: whether an old partition was attached since the set was stored (a reputation
run after it is a full one: :mod:`orderflow.reputation.incremental`).
"""

from __future__ import annotations

import asyncpg

# The partitions of orderflow_trades attached now: the key stored ('oid relname') and the name to
# read it by (quoted, qualified as needed).
_ATTACHED = """
SELECT c.oid::text || ' ' || c.relname AS key, c.oid::regclass::text AS rel
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'orderflow_trades'::regclass
 ORDER BY c.oid
"""


async def attached(conn: asyncpg.Connection) -> list[str]:
    """The partitions attached now, as stored (``'oid relname'``, by oid)."""
    return [r["key"] for r in await conn.fetch(_ATTACHED)]


async def still_counted(
    conn: asyncpg.Connection, stored: list[str] | None, last: int
) -> list[str] | None:
    """The partitions attached now when the cells (counting the trades up to id ``last`` in the
    partitions ``stored``) can be brought to them by an update; None when they must be rebuilt:
    no set stored, a partition of it gone, or a new one holding a row with an id up to ``last``."""
    if stored is None:
        return None
    counted, now = set(stored), await conn.fetch(_ATTACHED)
    if not counted <= {r["key"] for r in now}:
        return None
    for r in now:
        if r["key"] not in counted and await conn.fetchval(
            f"SELECT min(id) <= $1 FROM {r['rel']}", last
        ):
            return None
    return [r["key"] for r in now]


async def came_back(conn: asyncpg.Connection) -> bool:
    """Whether a partition attached now, and not in the set the cells count, holds a row with an
    id up to their last id: an old partition attached again (by hand: ``orderflow db partitions
    attach`` also marks it). False with no set stored. One catalog query and a probe of each
    partition new to the set (the listener's new one: its id index)."""
    state = await conn.fetchrow("SELECT last_id, partitions FROM orderflow_wash_state")
    if state is None or state["partitions"] is None or state["last_id"] is None:
        return False
    counted, last = set(state["partitions"]), int(state["last_id"])
    for r in await conn.fetch(_ATTACHED):
        if r["key"] not in counted and await conn.fetchval(
            f"SELECT min(id) <= $1 FROM {r['rel']}", last
        ):
            return True
    return False
