"""Read-only SQL for ``orderflow strategy status``: a strategy's live orders as a trader reads
them, and what its orders and signals became over a window."""

from __future__ import annotations

from datetime import datetime

import asyncpg

# Orders that may still trade (resting, or sent and in doubt: the book's ``live_orders``), with
# what a trader reads of them; a paper order's expiry is the paper exchange's.
_LIVE_ORDERS = """
SELECT o.id, o.side, o.token_id, COALESCE(o.market_id, tok.condition_id) AS market_id, o.price,
       o.shares, o.filled_shares, o.status, o.mode, o.created_at, o.signed_order,
       po.expires_at AS paper_expires_at, s.signal_type, s.wallet_address AS leader
  FROM orderflow_orders o
  JOIN orderflow_signals s ON s.id = o.signal_id
  LEFT JOIN orderflow_tokens tok ON tok.token_id = o.token_id
  LEFT JOIN orderflow_paper_orders po ON o.mode = 'paper' AND po.order_key = o.client_order_id
 WHERE o.strategy = $1 AND o.status IN ('INTENT', 'OPEN')
 ORDER BY o.id
"""

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


async def live_orders(conn: asyncpg.Connection, strategy: str) -> list[asyncpg.Record]:
    return list(await conn.fetch(_LIVE_ORDERS, strategy))


async def order_outcomes(
    conn: asyncpg.Connection, strategy: str, since: datetime
) -> tuple[asyncpg.Record, list[asyncpg.Record]]:
    """The counts of orders stored since ``since`` by outcome, and the unfilled cancels by
    reason."""
    counts: asyncpg.Record = await conn.fetchrow(_OUTCOMES, strategy, since)
    return counts, list(await conn.fetch(_CANCELED, strategy, since))


async def signal_counts(
    conn: asyncpg.Connection, strategy: str, since: datetime, top: int
) -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
    """Signals recorded since ``since`` by type and status, and the ``top`` reasons of those
    skipped or expired."""
    return (
        list(await conn.fetch(_SIGNAL_COUNTS, strategy, since)),
        list(await conn.fetch(_SKIP_REASONS, strategy, since, top)),
    )
