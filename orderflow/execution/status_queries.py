"""Read-only SQL for ``orderflow strategy status``: what a strategy's orders and signals became
over a window (its live orders are the book's: :func:`order_queries.live_orders`)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import asyncpg

# Orders stored since $2, each counted once by what became of it. Partly filled: closed (cancelled
# for any reason, expired included) with some of it filled. Shares ordered and filled: of the
# orders that reached the exchange (not refused, not abandoned unsent).
_OUTCOMES = """
SELECT count(*) AS orders,
       count(*) FILTER (WHERE status = 'ABANDONED') AS abandoned,
       count(*) FILTER (WHERE status IN ('INTENT', 'OPEN')) AS open,
       count(*) FILTER (WHERE status = 'FILLED') AS filled,
       count(*) FILTER (WHERE status = 'CANCELED' AND filled_shares > 0) AS partly_filled,
       count(*) FILTER (WHERE status = 'CANCELED' AND filled_shares = 0
                          AND status_reason = 'expired') AS expired_unfilled,
       count(*) FILTER (WHERE status = 'REJECTED') AS rejected,
       COALESCE(sum(shares) FILTER (WHERE status NOT IN ('ABANDONED', 'REJECTED')), 0)
           AS shares_ordered,
       COALESCE(sum(filled_shares) FILTER (WHERE status NOT IN ('ABANDONED', 'REJECTED')), 0)
           AS shares_filled
  FROM orderflow_orders
 WHERE strategy = $1 AND created_at >= $2
"""

# Orders cancelled with nothing filled, by reason (strategy_killed, leader_exited, ...), but
# those that expired: counted apart.
_CANCELED = """
SELECT COALESCE(status_reason, 'canceled') AS reason, count(*) AS n
  FROM orderflow_orders
 WHERE strategy = $1 AND created_at >= $2 AND status = 'CANCELED' AND filled_shares = 0
   AND status_reason IS DISTINCT FROM 'expired'
 GROUP BY 1 ORDER BY n DESC, reason
"""

_SIGNAL_COUNTS = """
SELECT signal_type, status, count(*) AS n
  FROM orderflow_signals
 WHERE strategy = $1 AND created_at >= $2
 GROUP BY signal_type, status ORDER BY signal_type, status
"""

_SKIP_REASONS = """
SELECT COALESCE(reason, '') AS reason, count(*) AS n
  FROM orderflow_signals
 WHERE strategy = $1 AND created_at >= $2 AND status IN ('SKIPPED', 'EXPIRED')
 GROUP BY 1 ORDER BY n DESC, reason LIMIT $3
"""


async def order_outcomes(
    conn: asyncpg.Connection, strategy: str, since: datetime
) -> tuple[asyncpg.Record, list[asyncpg.Record]]:
    """The counts of orders stored since ``since`` by outcome, and the unfilled cancels by
    reason."""
    counts: asyncpg.Record = await conn.fetchrow(_OUTCOMES, strategy, since)
    return counts, list(await conn.fetch(_CANCELED, strategy, since))


# All the P&L realized to date per mode (a position not filled yet: in the strategy's mode $2, as
# the book counts it).
_REALIZED_BY_MODE = """
SELECT COALESCE(mode, $2) AS mode, sum(realized_pnl) AS realized
  FROM orderflow_positions WHERE strategy = $1
 GROUP BY 1 ORDER BY 1
"""


async def realized_by_mode(
    conn: asyncpg.Connection, strategy: str, mode: str
) -> dict[str, Decimal]:
    """All the P&L ``strategy`` realized to date, per mode it traded in (``mode``: its own)."""
    rows = await conn.fetch(_REALIZED_BY_MODE, strategy, mode)
    return {str(r["mode"]): Decimal(r["realized"]) for r in rows}


async def key_refusal(conn: asyncpg.Connection, mode: str) -> asyncpg.Record | None:
    """The exchange's refusal of ``mode``'s API key while it lasts (migration 054), else None."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT * FROM orderflow_exchange_keys WHERE mode = $1", mode
    )
    return row


async def signal_counts(
    conn: asyncpg.Connection, strategy: str, since: datetime, top: int
) -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
    """Signals recorded since ``since`` by type and status, and the ``top`` reasons of those
    skipped or expired."""
    return (
        list(await conn.fetch(_SIGNAL_COUNTS, strategy, since)),
        list(await conn.fetch(_SKIP_REASONS, strategy, since, top)),
    )


async def left_wallet(conn: asyncpg.Connection, strategy: str) -> tuple[Decimal, Decimal]:
    """The shares of the strategy's live positions that left the wallet outside the executor,
    and what they cost (counted in its realized P&L as sold for nothing: migration 096); moves
    undone since (their shares back: migration 105) are not."""
    row = await conn.fetchrow(
        "SELECT COALESCE(sum(shares), 0) AS shares, COALESCE(sum(cost), 0) AS cost"
        " FROM orderflow_wallet_moves WHERE strategy = $1 AND undone_at IS NULL",
        strategy,
    )
    assert row is not None
    return Decimal(row["shares"]), Decimal(row["cost"])
