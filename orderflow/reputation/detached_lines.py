"""Closing lines and marks of tokens some of whose fills are no longer in ``orderflow_trades``.

A partition of the trades detached for archiving (``orderflow db partitions detach``, or by
hand; docs/scaling.md 3.1) takes its fills out of every statement that reads the trades, while
the per-(wallet, token) sums (migration 011) keep its positions. The closing lines
(:data:`orderflow.reputation.evidence_sql.CLOSES`: the last trade by the token's closing time and
the one before it, and an open token's last trade) are read from the trades: computed again
from what is attached, a line whose trades were detached comes out missing or wrong, and with it
every wallet's closing-line value (the edge's control variate: ``edge_raw`` and ``clv_edge``).

So a line computed again (a full run, or an incremental run's changed tokens) that differs from
the stored one (:data:`CLOSES`, what the last live run kept)
is checked: when the token's fills in the sums (``rep_positions.fills``, every fill at or before
the cut-off) outnumber its fills in the trades at or before the cut-off, some are detached, and
the stored resolved line stays (when there is one) unless the new one closes later (a newer fill
made it); a mark that is now missing (no attached fill at all) keeps the stored mark. Only tokens
whose line differs are counted (their fills, by the token index
``orderflow_trades_token_time``, migration 028). A detach by hand is found the same way: nothing
needs marking.

An incremental run and a full run therefore keep the same lines (the stored ones), and a
detached month leaves the closing lines its fills made. Not kept: a line no live run computed
while the fills were attached (a token resolved after its fills were detached: its line is read
from the attached fills); a line kept is the stored one even if the token's resolution moved
since (a reorg of a resolution whose fills are detached).
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from orderflow.db import table_exists
from orderflow.reputation.gate import GATED_TRADES

# The stored closing lines and marks (kept by a live run, :mod:`orderflow.reputation.stored_inputs`,
# which names its tables after this one).
CLOSES = "orderflow_reputation_closes"

# $1 = as_of. Reads rep_close (just computed), rep_positions (every position of its tokens: a
# full run's, or the incremental run's positions of the changed tokens) and the stored lines.
KEEP = f"""
WITH differ AS (
    SELECT r.token_id
      FROM rep_close r
      JOIN {CLOSES} s ON s.token_id = r.token_id
     WHERE (s.close_at IS NOT NULL
            AND (r.close_price, r.close_at, r.prev_price)
                IS DISTINCT FROM (s.close_price, s.close_at, s.prev_price))
        OR (r.mark_price IS NULL AND s.mark_price IS NOT NULL)
), summed AS (
    SELECT p.token_id, sum(p.fills) AS fills
      FROM rep_positions p
      JOIN differ d ON d.token_id = p.token_id
     GROUP BY p.token_id
), cut AS (
    SELECT s.token_id
      FROM summed s
     WHERE s.fills > (SELECT count(*) FROM ({GATED_TRADES}) t WHERE t.token_id = s.token_id)
)
UPDATE rep_close r
   SET close_price = CASE WHEN k.stays THEN k.close_price ELSE r.close_price END,
       close_at = CASE WHEN k.stays THEN k.close_at ELSE r.close_at END,
       prev_price = CASE WHEN k.stays THEN k.prev_price ELSE r.prev_price END,
       mark_price = coalesce(r.mark_price, k.mark_price)
  FROM (SELECT s.*, s.close_at IS NOT NULL
                    AND (n.close_at IS NULL OR n.close_at <= s.close_at) AS stays
          FROM cut c
          JOIN {CLOSES} s ON s.token_id = c.token_id
          JOIN rep_close n ON n.token_id = c.token_id) k
 WHERE k.token_id = r.token_id
"""


async def keep(conn: asyncpg.Connection, as_of: datetime) -> None:
    """``rep_close`` with the stored lines of the tokens whose fills are partly detached (see
    above); nothing when no live run has stored lines yet."""
    if await table_exists(conn, CLOSES):
        await conn.execute(KEEP, as_of)
