"""For the node's logs: a stored condition or resolution that the node's log of the same
condition puts somewhere else is replaced by it.

ConditionalTokens prepares a condition once (``prepareCondition`` refuses a second preparation)
and resolves it once (``reportPayouts`` refuses a second report). So a ConditionPreparation or
ConditionResolution in the node's batch (``store_batch(…, authoritative=True)``: the listener's
backfill and live blocks) is the only one the chain has for its condition, and a stored row of
that condition at another block, under another block hash, transaction or log index, or (a
resolution) with other payouts, is not the chain's: an imported row (a file recorded across a
reorg, or naming a wrong block) or a fork's left over no rollback removed. ``store_forks``
removes such a row when the batch records the header of its height; a batch records no header
where the node's block holds none of our logs and that is neither a range's end nor recent (a
backfill below its top blocks or below the reorg window), and until 6 Dec 2026 the stored row
then stayed: a market resolved YES by an orphaned block while the chain's NO was never stored
(the insert replaced Gamma's rows only), a preparation naming an orphaned block and its time
(``tests/chain/test_markets_moved.py``).

Each such row is moved to the node's log in place (an UPDATE: a resolution keeps Gamma's claims
beside it, migration 036, and its triggers mark the market changed and queue its settlements to
be checked, migration 071; a condition keeps its tokens, which its id alone defines), with a
dead letter naming both. An import's rows are never replaced this way: an import is not the
chain (the first stored stays until the node's log comes).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import asyncpg

from orderflow.chain.dead_letters import row_dead_letter, stored_place
from orderflow.chain.events import ConditionPreparation, ConditionResolution, DeadLetter, LogRef

log = logging.getLogger(__name__)

# The stored conditions of the node's ($2-$6) held elsewhere (a NULL stored block hash is the
# same log without its hash: not elsewhere).
_MOVED_CONDITIONS = """
SELECT s.condition_id, s.block_number, s.block_hash, s.tx_hash, s.log_index
  FROM unnest($2::text[], $3::bigint[], $4::text[], $5::text[], $6::int[])
       AS c(condition_id, block_number, block_hash, tx_hash, log_index)
  JOIN orderflow_conditions s ON s.condition_id = c.condition_id
 WHERE s.chain_id = $1
   AND (s.block_number, coalesce(s.block_hash, c.block_hash), s.tx_hash, s.log_index)
       IS DISTINCT FROM (c.block_number, c.block_hash, c.tx_hash, c.log_index)
"""

_MOVE_CONDITIONS = """
UPDATE orderflow_conditions s
   SET block_number = c.block_number, block_hash = c.block_hash, tx_hash = c.tx_hash,
       log_index = c.log_index, timestamp = to_timestamp(c.ts)
  FROM unnest($2::text[], $3::bigint[], $4::text[], $5::text[], $6::int[], $7::bigint[])
       AS c(condition_id, block_number, block_hash, tx_hash, log_index, ts)
 WHERE s.chain_id = $1 AND s.condition_id = c.condition_id
"""

# The chain's stored resolutions of these markets (Gamma's are replaced by the insert anyway).
_STORED_OUTCOMES = """
SELECT market_id, block_number, block_hash, tx_hash, log_index,
       payout_numerators::text[] AS numerators
  FROM orderflow_market_outcomes
 WHERE market_id = ANY($1::text[]) AND source = 'chain'
"""


def _where(ref: LogRef) -> tuple[int, str, str, int]:
    return ref.block_number, ref.block_hash.lower(), ref.tx_hash, ref.log_index


async def move_conditions(
    conn: asyncpg.Connection,
    chain_id: int,
    conditions: Sequence[tuple[ConditionPreparation, int | None]],
) -> list[DeadLetter]:
    """The node's preparations (each with its block's epoch seconds, or None), before the
    insert: a stored row of the same condition elsewhere is moved to the node's log; a dead
    letter each."""
    if not conditions:
        return []
    columns = [
        [c.condition_id for c, _ in conditions],
        [c.ref.block_number for c, _ in conditions],
        [c.ref.block_hash.lower() for c, _ in conditions],
        [c.ref.tx_hash for c, _ in conditions],
        [c.ref.log_index for c, _ in conditions],
    ]
    found = await conn.fetch(_MOVED_CONDITIONS, chain_id, *columns)
    if not found:
        return []
    moved = {r["condition_id"] for r in found}
    chosen = [(c, ts) for c, ts in conditions if c.condition_id in moved]
    await conn.execute(
        _MOVE_CONDITIONS,
        chain_id,
        [c.condition_id for c, _ in chosen],
        [c.ref.block_number for c, _ in chosen],
        [c.ref.block_hash.lower() for c, _ in chosen],
        [c.ref.tx_hash for c, _ in chosen],
        [c.ref.log_index for c, _ in chosen],
        [ts for _, ts in chosen],
    )
    node = {c.condition_id: c.ref for c, _ in chosen}
    return _letters(chain_id, "ConditionPreparation", found, node, {})


async def moved_resolutions(
    conn: asyncpg.Connection, chain_id: int, resolutions: Sequence[ConditionResolution]
) -> tuple[set[str], list[DeadLetter]]:
    """The node's resolutions, before their insert: the markets whose stored chain resolution
    is elsewhere or pays otherwise (the insert is to replace it), and a dead letter each."""
    if not resolutions:
        return set(), []
    node = {r.condition_id: r for r in resolutions}
    found = [
        s
        for s in await conn.fetch(_STORED_OUTCOMES, list(node))
        if (
            (s["block_number"], s["block_hash"], s["tx_hash"], s["log_index"])
            != _where(node[s["market_id"]].ref)
            or tuple(int(n) for n in s["numerators"]) != node[s["market_id"]].payout_numerators
        )
    ]
    payouts = {s["market_id"]: (s["numerators"], node[s["market_id"]]) for s in found}
    refs = {m: r.ref for m, r in node.items()}
    return set(payouts), _letters(chain_id, "ConditionResolution", found, refs, payouts)


def _letters(
    chain_id: int,
    kind: str,
    found: Sequence[asyncpg.Record],
    node: dict[str, LogRef],
    payouts: dict[str, tuple[list[str], ConditionResolution]],
) -> list[DeadLetter]:
    letters = []
    for s in found:
        condition = s["market_id"] if kind == "ConditionResolution" else s["condition_id"]
        ref = node[condition]
        pays = ""
        if condition in payouts:
            stored, res = payouts[condition]
            pays = f" (payouts stored {[int(n) for n in stored]}, the node's "
            pays += f"{list(res.payout_numerators)})"
        reason = (
            f"{kind} stored at block {s['block_number']} (hash {s['block_hash']}), tx "
            f"{s['tx_hash']}, log index {s['log_index']}, of condition {condition}: the node's "
            f"log of it is at block {ref.block_number} (hash {ref.block_hash}), tx {ref.tx_hash}, "
            f"log index {ref.log_index}{pays}; the chain has one per condition, so the stored "
            "row is not the chain's (an imported row, or a fork's left over); replaced by the "
            "node's"
        )
        raw: dict[str, Any] = {
            "replaced": kind,
            "condition_id": condition,
            **stored_place(s),
            "chain_block": ref.block_number,
            "chain_tx_hash": ref.tx_hash,
            "chain_log_index": ref.log_index,
        }
        letters.append(row_dead_letter(chain_id, s, raw, reason, address=None))
    if letters:
        log.warning(
            "stored conditions or resolutions the node's logs put elsewhere replaced by the node's",
            extra={"rows": len(letters), "first": letters[0].reason},
        )
    return letters
