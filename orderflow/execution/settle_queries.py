"""The execution stage's SQL for settlements: the open positions a stored resolution settles,
and the settled ones whose resolution is gone or says another payout now (a reorg's rollback, a
file's retraction, a market handed back to Gamma's resolution: :mod:`orderflow.chain.rollback`).

A settlement rests on the payout per share it was closed at (``settled_payout``, migration 071):
the token's payout in ``orderflow_market_outcomes`` when it was settled. A resolution deleted or
changed queues its market in ``orderflow_settlements_to_check`` (migration 071's trigger, in the
writer's transaction) when a settled position rests on it; maintenance takes the queue."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import asyncpg

from orderflow.execution.late_fill_queries import order_may_fill

_RESOLVABLE = f"""
SELECT p.id, p.strategy, p.signal_id, o.market_id,
       COALESCE(p.outcome_index, tok.outcome_index) AS outcome_index,
       o.payouts[COALESCE(p.outcome_index, tok.outcome_index) + 1] AS payout
  FROM orderflow_positions p
  LEFT JOIN orderflow_tokens tok ON tok.token_id = p.token_id
  JOIN orderflow_market_outcomes o ON o.market_id = COALESCE(p.market_id, tok.condition_id)
 WHERE p.status = 'OPEN'
   AND COALESCE(p.outcome_index, tok.outcome_index) IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM orderflow_orders x
                    WHERE x.strategy = p.strategy AND x.token_id = p.token_id
                      AND {order_may_fill("x", "$1")})
 ORDER BY p.id
"""


async def resolvable_positions(conn: asyncpg.Connection, now: datetime) -> list[asyncpg.Record]:
    """Open positions whose market has a resolution, with the payout per share of their token,
    and no order of theirs (the strategy's in the token) that may still fill: settled before
    its fill was booked, a position was paid out for shares it had sold, and the sale's fill
    became one of shares from outside the book (its proceeds lost). ``now``: the executor's clock
    (a closed order's late fills are asked for until a complete pass read them LATE_FILLS after
    its close: :func:`~orderflow.execution.late_fill_queries.order_may_fill`)."""
    return list(await conn.fetch(_RESOLVABLE, now))


_HOLD_PAYOUT = """
SELECT payouts[$2::int + 1] FROM orderflow_market_outcomes WHERE market_id = $1 FOR SHARE
"""


async def hold_payout(
    conn: asyncpg.Connection, market_id: str, outcome_index: int, payout: Decimal
) -> bool:
    """Whether the market's stored resolution still pays ``payout`` for the outcome, holding
    its row until the caller's transaction ends: a rollback deleting it waits, then its trigger
    sees the settlement (committed) and queues the market; one that deleted it first has
    committed, and the settlement is not made."""
    now = await conn.fetchval(_HOLD_PAYOUT, market_id, outcome_index)
    return now is not None and Decimal(now) == payout


async def settled_in(conn: asyncpg.Connection, position_id: int, market_id: str) -> None:
    """A settled position names its market (the check of migration 071's trigger finds it by
    it), also when its first fill named none."""
    await conn.execute(
        "UPDATE orderflow_positions SET market_id = $2 WHERE id = $1 AND market_id IS NULL",
        position_id,
        market_id,
    )


_TAKE = "DELETE FROM orderflow_settlements_to_check RETURNING market_id"
_REQUEUE = """
INSERT INTO orderflow_settlements_to_check SELECT unnest($1::text[]) ON CONFLICT DO NOTHING
"""


async def take_markets(conn: asyncpg.Connection) -> list[str]:
    """The markets queued for a check of their settlements, taken off the queue (in the
    caller's transaction: undone with it)."""
    return [str(r["market_id"]) for r in await conn.fetch(_TAKE)]


async def requeue_markets(conn: asyncpg.Connection, markets: Sequence[str]) -> None:
    await conn.execute(_REQUEUE, list(markets))


# The payout per share of a settled position ``p``'s token stored now (NULL: none stored).
_PAYOUT_NOW = """(SELECT o.payouts[COALESCE(p.outcome_index, tok.outcome_index) + 1]
   FROM orderflow_market_outcomes o
   LEFT JOIN orderflow_tokens tok ON tok.token_id = p.token_id
  WHERE o.market_id = p.market_id)"""

# A settled position (one the executor booked: ``mode`` is its first fill's; the demo's
# backtest rows have none) of the markets $1 whose token's payout stored now is not the one it
# was settled at.
_STALE = f"""
p.status = 'CLOSED' AND p.close_reason = 'resolved' AND p.mode IS NOT NULL
AND p.market_id = ANY($1::text[]) AND {_PAYOUT_NOW} IS DISTINCT FROM p.settled_payout
"""

_STALE_SETTLEMENTS = f"""
SELECT p.id, p.strategy, p.market_id, p.settled_payout, {_PAYOUT_NOW} AS payout
  FROM orderflow_positions p
 WHERE {_STALE}
 ORDER BY p.id
"""

# Open again, unless the strategy holds another open position in the token (one OPEN per
# strategy and token: it entered the market again after the resolution went).
_REOPEN = """
UPDATE orderflow_positions p SET status = 'OPEN', closed_at = NULL, close_reason = NULL,
       settled_payout = NULL
 WHERE p.id = $1 AND p.status = 'CLOSED' AND p.close_reason = 'resolved'
   AND NOT EXISTS (SELECT 1 FROM orderflow_positions q
                    WHERE q.strategy = p.strategy AND q.token_id = p.token_id
                      AND q.status = 'OPEN')
RETURNING p.id
"""


async def stale_settlements(
    conn: asyncpg.Connection, markets: Sequence[str]
) -> list[asyncpg.Record]:
    """The settled positions of ``markets`` whose token's stored resolution no longer says the
    payout they were settled at (none stored, or another), with both payouts."""
    return list(await conn.fetch(_STALE_SETTLEMENTS, list(markets)))


async def reopen_settled(conn: asyncpg.Connection, position_id: int) -> bool:
    """Open a settled position again (status, close, settled payout reset; its numbers are the
    caller's to restate); False when the strategy holds another open position in its token."""
    return await conn.fetchval(_REOPEN, position_id) is not None
