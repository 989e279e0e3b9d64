"""A wallet's fills that are archived: in partitions detached from ``orderflow_trades``.

``orderflow db partitions detach`` takes a month's fills out of ``orderflow_trades`` (to
archive it with ``pg_dump``); the per-(wallet, token) sums (migration 011) keep them, and so do
the stored score and statistics of the runs that read them. What reads the trades — the
per-wallet replay ``orderflow wallet`` prints — no longer sees them, so the command says how
many of the wallet's fills the sums count that the trades no longer hold, and, when the
wallet's first fill is older than anything attached, the time before which its fills are all
archived. A bulk import's sums not folded yet count fewer fills than the trades hold: such a
wallet reads as nothing archived until the fold (``orderflow.chain.pending_sums``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

# The wallet's fills the sums count, its first fill by them, its fills in the attached trades
# (every one, not gated by time: the sums count every one too), and the oldest time of an
# attached partition of the trades (migration 018's covers; a detach by hand may leave a cover
# behind, hence the join to what is attached).
_ARCHIVED = """
WITH sums AS (
    SELECT COALESCE(sum(fills), 0)::bigint AS stored, min(first_at) AS first_at
      FROM orderflow_position_sums WHERE wallet_address = $1),
attached AS (SELECT count(*) AS n FROM orderflow_trades WHERE wallet_address = $1),
since AS (
    SELECT min(r.min_ts) AS t
      FROM orderflow_trade_partition_ranges r
      JOIN pg_inherits i ON i.inhrelid = r.relid AND i.inhparent = 'orderflow_trades'::regclass
     WHERE r.min_ts < 'infinity')
SELECT sums.stored, attached.n AS attached, sums.first_at, since.t AS since
  FROM sums, attached, since
"""


@dataclass(frozen=True, slots=True)
class Archived:
    """``fills`` of the wallet's ``stored_fills`` are not in the trades; ``before``: its fills
    before that time are all archived (None: its first fill is in what is attached, or nothing
    is)."""

    fills: int
    stored_fills: int
    before: datetime | None


async def archived_fills(conn: asyncpg.Connection, wallet: str) -> Archived | None:
    """The wallet's archived fills; None: none (every fill the sums count is attached)."""
    row = await conn.fetchrow(_ARCHIVED, wallet)
    missing = int(row["stored"]) - int(row["attached"])
    if missing <= 0:
        return None
    first, since = row["first_at"], row["since"]
    before = since if first is not None and since is not None and first < since else None
    return Archived(fills=missing, stored_fills=int(row["stored"]), before=before)


def archived_line(archived: Archived, attached: int) -> str:
    """What ``orderflow wallet`` prints of it."""
    line = (
        f"archived: {archived.fills} of the wallet's {archived.stored_fills} fills are in"
        " partitions detached from orderflow_trades (`orderflow db partitions`) and not shown:"
        f" the positions and P&L below replay the {attached} attached fills"
    )
    if archived.before is not None:
        line += f"; fills before {archived.before:%Y-%m-%d %H:%M:%S%z} are archived and not shown"
    return line + " (the stored score and statistics count them)"
