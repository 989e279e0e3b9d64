"""The execution stage's SQL for settlements: the open positions a stored resolution settles,
and the settled ones whose resolution is gone or says another payout now (a reorg's rollback, a
file's retraction, a market handed back to Gamma's resolution: :mod:`orderflow.chain.rollback`).

A settlement rests on the payout per share it was closed at (``settled_payout``, migration 071):
the token's payout in ``orderflow_market_outcomes`` as stored at that moment."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from orderflow.execution.position_queries import order_may_fill

# The payout per share of position ``p``'s token as stored now (NULL: no resolution stored).
_PAYOUT = "o.payouts[COALESCE(p.outcome_index, tok.outcome_index) + 1]"
_OUTCOME = """
  LEFT JOIN orderflow_tokens tok ON tok.token_id = p.token_id
  LEFT JOIN orderflow_market_outcomes o ON o.market_id = COALESCE(p.market_id, tok.condition_id)
"""

_RESOLVABLE = f"""
SELECT p.id, p.strategy, p.signal_id, {_PAYOUT} AS payout
  FROM orderflow_positions p {_OUTCOME}
 WHERE p.status = 'OPEN' AND o.market_id IS NOT NULL
   AND COALESCE(p.outcome_index, tok.outcome_index) IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM orderflow_orders x
                    WHERE x.strategy = p.strategy AND x.token_id = p.token_id
                      AND {order_may_fill("x", "$1")})
 ORDER BY p.id
"""


async def resolvable_positions(
    conn: asyncpg.Connection, closed_since: datetime
) -> list[asyncpg.Record]:
    """Open positions whose market has a resolution, with the payout per share of their token,
    and no order of theirs (the strategy's in the token) that may still fill: settled before
    its fill was booked, a position was paid out for shares it had sold, and the sale's fill
    became one of shares from outside the book (its proceeds lost). ``closed_since``: how far
    back a closed order's late fills are still asked for."""
    return list(await conn.fetch(_RESOLVABLE, closed_since))


# A settled position (one the executor booked: ``mode`` is its first fill's; the demo's
# backtest rows have none) whose token's payout stored now is not the one it was settled at.
_STALE = f"""
p.status = 'CLOSED' AND p.close_reason = 'resolved' AND p.mode IS NOT NULL
AND {_PAYOUT} IS DISTINCT FROM p.settled_payout
"""

# Not while the strategy holds another open position in the token (one OPEN per strategy and
# token): it entered the market again after the resolution went; the settlement is undone once
# that position is closed.
_NO_OTHER_OPEN = """
NOT EXISTS (SELECT 1 FROM orderflow_positions q
             WHERE q.strategy = p.strategy AND q.token_id = p.token_id AND q.status = 'OPEN')
"""

_STALE_SETTLEMENTS = f"""
SELECT p.id, p.strategy, p.settled_payout, {_PAYOUT} AS payout
  FROM orderflow_positions p {_OUTCOME}
 WHERE {_STALE} AND {_NO_OTHER_OPEN}
 ORDER BY p.id
"""

# Open again, claimed by the one statement: its own row's status is checked again once a
# concurrent claim (another executor's maintenance) has committed, which then finds it open.
_REOPEN = f"""
UPDATE orderflow_positions SET status = 'OPEN', closed_at = NULL, close_reason = NULL,
       settled_payout = NULL
 WHERE id = $1 AND status = 'CLOSED' AND close_reason = 'resolved'
   AND id IN (SELECT p.id FROM orderflow_positions p {_OUTCOME}
               WHERE p.id = $1 AND {_STALE} AND {_NO_OTHER_OPEN})
RETURNING id
"""


async def stale_settlements(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Positions settled on a payout their token's stored resolution no longer says (none
    stored, or another), with the one they were settled at and the one stored now."""
    return list(await conn.fetch(_STALE_SETTLEMENTS))


async def reopen_settled(conn: asyncpg.Connection, position_id: int) -> bool:
    """Open a stale settlement's position again (status, close, settled payout reset; its
    numbers are the caller's to restate); False when it is no longer stale or the strategy
    holds another open position in its token."""
    return await conn.fetchval(_REOPEN, position_id) is not None


async def unset_owner_pnl(conn: asyncpg.Connection, position_id: int) -> None:
    """The position, open again, no longer counts in its signal's P&L: what the signal's other
    closed positions made (:func:`orderflow.execution.position_queries.set_owner_pnl` less this
    one), or none at all when it has no other."""
    await conn.execute(
        """
        UPDATE orderflow_signals s
           SET pnl = x.pnl, resolved_at = CASE WHEN x.pnl IS NULL THEN NULL ELSE s.resolved_at END
          FROM orderflow_positions p,
               LATERAL (SELECT sum(q.realized_pnl - q.handed_over_pnl) AS pnl
                          FROM orderflow_positions q
                         WHERE q.signal_id = p.signal_id AND q.id <> p.id
                           AND q.status = 'CLOSED') x
         WHERE p.id = $1 AND s.id = p.signal_id
        """,
        position_id,
    )
