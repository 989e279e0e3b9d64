"""The SQL of live redemptions (:mod:`orderflow.execution.redeem`, migration 095)."""

from __future__ import annotations

from datetime import datetime

import asyncpg

# The listener's stream: its checkpoint is the block up to which every log is stored.
LISTENER_STREAM = "listener"

_QUEUE = """
INSERT INTO orderflow_redemptions (condition_id, wallet, next_try_at)
SELECT DISTINCT p.market_id, $1::text, $4::timestamptz
  FROM orderflow_positions p
  JOIN orderflow_market_outcomes o ON o.market_id = p.market_id
  JOIN orderflow_sync_checkpoints c ON c.chain_id = o.chain_id AND c.stream = $2
 WHERE p.mode = 'live' AND p.status = 'CLOSED' AND p.close_reason = 'resolved'
   AND p.settled_payout > 0
   AND o.block_number <= c.block_number - $3
ON CONFLICT (condition_id, wallet) DO NOTHING
"""


async def queue_final(conn: asyncpg.Connection, wallet: str, depth: int, now: datetime) -> int:
    """Queue (PENDING) each condition whose settled live positions hold winning shares (closed
    ``resolved`` at a payout above 0: held to the resolution, their shares set to 0 by the
    settlement) and whose resolution is at least ``depth`` blocks under the listener's checkpoint;
    returns how many. ``now``: the executor's clock (every time of a row is)."""
    status = await conn.execute(_QUEUE, wallet.lower(), LISTENER_STREAM, depth, now)
    return int(status.rsplit(" ", 1)[-1])


# Anything to do: a condition to queue (final, winning, live) that has no row yet, or a row due;
# of the wallet $5 when it is known (executors on different keys share the database: another
# wallet's row neither holds back nor makes work), of any wallet when it is not (not logged in).
HAS_WORK = """
SELECT EXISTS (
    SELECT FROM orderflow_positions p
      JOIN orderflow_market_outcomes o ON o.market_id = p.market_id
      JOIN orderflow_sync_checkpoints c ON c.chain_id = o.chain_id AND c.stream = $1
     WHERE p.mode = 'live' AND p.status = 'CLOSED' AND p.close_reason = 'resolved'
       AND p.settled_payout > 0
       AND o.block_number <= c.block_number - $2
       AND NOT EXISTS (SELECT FROM orderflow_redemptions r WHERE r.condition_id = p.market_id
                          AND ($5::text IS NULL OR r.wallet = $5::text))
) OR EXISTS (
    SELECT FROM orderflow_redemptions r
     WHERE ($5::text IS NULL OR r.wallet = $5::text)
       AND ((r.status IN ('PENDING', 'FAILED') AND r.next_try_at <= $3)
            OR (r.status = 'SENT' AND r.updated_at <= $4))
)
"""

_DUE = """
SELECT r.condition_id, r.status, r.attempts, r.tx_hash,
       array_agg(tok.token_id::text ORDER BY tok.outcome_index) AS tokens
  FROM orderflow_redemptions r
  JOIN orderflow_tokens tok ON tok.condition_id = r.condition_id
 WHERE r.wallet = $1
   AND ((r.status IN ('PENDING', 'FAILED') AND r.next_try_at <= $2)
        OR (r.status = 'SENT' AND r.updated_at <= $3))
 GROUP BY r.condition_id, r.status, r.attempts, r.tx_hash
 ORDER BY r.condition_id
"""


async def due(
    conn: asyncpg.Connection, wallet: str, now: datetime, sent_before: datetime
) -> list[asyncpg.Record]:
    """Rows to act on: PENDING or FAILED ones whose time has come, SENT ones sent before
    ``sent_before`` (their receipt had time); with the condition's token ids."""
    return list(await conn.fetch(_DUE, wallet.lower(), now, sent_before))


_SET = """
UPDATE orderflow_redemptions
   SET status = $3, tx_hash = COALESCE($4, tx_hash), reason = $5, next_try_at = $6,
       updated_at = $7
 WHERE condition_id = $1 AND wallet = $2
"""


async def set_state(
    conn: asyncpg.Connection,
    condition_id: str,
    wallet: str,
    status: str,
    *,
    now: datetime,
    tx_hash: str | None = None,
    reason: str | None = None,
    next_try_at: datetime | None = None,
) -> None:
    """The row's status (and hash, kept when none is given), reason and times; its attempts are
    counted by :func:`mark_sending`."""
    await conn.execute(
        _SET, condition_id, wallet.lower(), status, tx_hash, reason, next_try_at or now, now
    )


_SENDING = """
UPDATE orderflow_redemptions
   SET status = 'SENT', tx_hash = NULL, reason = NULL, attempts = attempts + 1,
       next_try_at = $3, updated_at = $3
 WHERE condition_id = $1 AND wallet = $2
"""


async def mark_sending(
    conn: asyncpg.Connection, condition_id: str, wallet: str, now: datetime
) -> None:
    """SENT, no hash yet, the attempt counted: stored (committed) before the redemption goes out,
    so a pass stopped between the send and its hash's record leaves a SENT row — looked up before
    anything is sent again — not a PENDING one sent again at once."""
    await conn.execute(_SENDING, condition_id, wallet.lower(), now)


async def counts(conn: asyncpg.Connection) -> dict[str, int]:
    rows = await conn.fetch("SELECT status, count(*) AS n FROM orderflow_redemptions GROUP BY 1")
    return {str(r["status"]): int(r["n"]) for r in rows}
