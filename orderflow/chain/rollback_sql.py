"""The statements of ``rollback`` (undo everything from a block height up, a reorg; or one
block by number and hash, a retraction).

The store's own statements, and the writer lock the rollback shares with it, are in store_sql.py.
"""

from __future__ import annotations

from dataclasses import dataclass

# What rollback.py undoes, in one of three scopes: a reorg's rollback takes every block from a
# height up ($2); a retraction (a file's ``removed: true`` log) takes one block, by its number
# ($2) and hash ($3), so a block held under another hash at that height is left alone; a fork's
# left-overs (store_forks: the node's header of that height, $3, just recorded) take whatever is
# held at the height under any other hash.
FROM_BLOCK = "chain_id = $1 AND block_number >= $2"
OF_BLOCK = "chain_id = $1 AND block_number = $2 AND block_hash = $3"
BESIDE_BLOCK = "chain_id = $1 AND block_number = $2 AND block_hash <> $3"


@dataclass(frozen=True, slots=True)
class Undo:
    """The statements that undo the rows of a scope (``FROM_BLOCK`` or ``OF_BLOCK``)."""

    trades: str
    matches: str
    refunds: str
    return_outcomes: str
    delete_outcomes: str
    conditions: str
    blocks: str


def _undo(scope: str) -> Undo:
    # Rows of a bulk import's pending range (migration 014) were never added to the counters:
    # they do not count here (their wallets are still listed, so their first/last times are
    # recomputed). The delete trigger subtracts the counted rows from the sums (migration 011)
    # and logs their keys (migration 030).
    trades = f"""
WITH d AS (DELETE FROM orderflow_trades WHERE {scope}
           RETURNING wallet_address, usdc_size, id),
     c AS (SELECT d.*, EXISTS (SELECT 1 FROM orderflow_position_sums_pending)
                       AND orderflow_position_sums_is_pending(d.id) AS pending
             FROM d)
SELECT wallet_address, count(*) AS deleted, count(*) FILTER (WHERE NOT pending) AS n,
       coalesce(sum(usdc_size) FILTER (WHERE NOT pending), 0) AS volume
  FROM c GROUP BY wallet_address
"""
    # Chain resolutions of undone blocks: a market Gamma resolved goes back to Gamma's
    # resolution (what it was before the chain's replaced it, or what Gamma said after:
    # migration 036) instead of being deleted; the others are deleted. Gamma rows carry no block.
    return_outcomes = f"""
UPDATE orderflow_market_outcomes
   SET oracle = gamma_oracle, question_id = gamma_question_id,
       outcome_slot_count = cardinality(gamma_payouts), payout_numerators = gamma_payouts,
       payouts = gamma_payouts, winning_outcome = array_position(gamma_payouts, 1::numeric) - 1,
       resolved_at = gamma_resolved_at, block_number = NULL, block_hash = NULL, tx_hash = NULL,
       log_index = NULL, source = 'gamma'
 WHERE {scope} AND gamma_payouts IS NOT NULL
"""
    return Undo(
        trades=trades,
        matches=f"DELETE FROM orderflow_matches WHERE {scope}",
        refunds=f"DELETE FROM orderflow_fee_refunds WHERE {scope}",
        return_outcomes=return_outcomes,
        delete_outcomes=f"DELETE FROM orderflow_market_outcomes WHERE {scope}",
        conditions=f"DELETE FROM orderflow_conditions WHERE {scope} RETURNING condition_id",
        blocks=f"DELETE FROM orderflow_blocks WHERE {scope}",
    )


ROLLBACK = _undo(FROM_BLOCK)
RETRACT = _undo(OF_BLOCK)
FORKED = _undo(BESIDE_BLOCK)  # its ``blocks`` unused: the height's header is the node's
DELETE_TRADES = ROLLBACK.trades  # a rollback's delete (tests/scale checks its partition pruning)

# Whether something is held at a block ($2) under another hash than $3: a retraction of a
# block we do not hold under that hash says so.
HELD_UNDER_ANOTHER_HASH = """
SELECT block_hash FROM orderflow_blocks
 WHERE chain_id = $1 AND block_number = $2 AND block_hash <> $3
UNION ALL
SELECT block_hash FROM orderflow_trades
 WHERE chain_id = $1 AND block_number = $2 AND block_hash <> $3
UNION ALL
SELECT block_hash FROM orderflow_matches
 WHERE chain_id = $1 AND block_number = $2 AND block_hash <> $3
LIMIT 1
"""

# The insert trigger only ever adds; undo its counters for the deleted rows and recompute the
# first/last trade times from what remains (separate statement: it must see the deletion).
UNDO_WALLET_STATS = """
UPDATE orderflow_wallet_stats s
   SET total_trades = greatest(s.total_trades - u.n, 0),
       total_volume_usdc = greatest(s.total_volume_usdc - u.volume, 0),
       first_trade_at = (SELECT min(timestamp) FROM orderflow_trades t
                          WHERE t.wallet_address = s.wallet_address),
       last_trade_at = (SELECT max(timestamp) FROM orderflow_trades t
                         WHERE t.wallet_address = s.wallet_address),
       updated_at = now()
  FROM unnest($1::text[], $2::bigint[], $3::numeric[]) AS u(wallet, n, volume)
 WHERE s.wallet_address = u.wallet
"""

# Tokens computed from an undone ConditionPreparation: those Gamma lists go back to Gamma
# (what they were before the chain's preparation took them over), the others are deleted;
# registry rows from other sources (V1 TokenRegistered, V3 ids) carry no block and are
# verified facts about the ids anyway.
RETURN_CONDITION_TOKENS = """
UPDATE orderflow_tokens SET source = 'gamma'
 WHERE source = 'ConditionPreparation' AND listed_by_gamma AND condition_id = ANY($1::text[])
"""
DELETE_CONDITION_TOKENS = """
DELETE FROM orderflow_tokens
 WHERE source = 'ConditionPreparation' AND NOT listed_by_gamma
   AND condition_id = ANY($1::text[])
"""
# The node's dead letters of the orphaned blocks; a file's (source_file, migration 038: a history
# import's bad rows, a ``listen --from-file`` line) are facts about the file, not about the
# chain's blocks, and stay (as a re-import would only count them as seen again).
DELETE_DEAD_LETTERS = """
DELETE FROM orderflow_dead_letters
 WHERE chain_id = $1 AND block_number >= $2 AND source_file IS NULL
"""
REWIND_CHECKPOINTS = """
UPDATE orderflow_sync_checkpoints
   SET block_number = $2 - 1,
       block_hash = (SELECT block_hash FROM orderflow_blocks
                      WHERE chain_id = $1 AND block_number = $2 - 1),
       updated_at = now()
 WHERE chain_id = $1 AND block_number >= $2
"""
