"""The statements of ``rollback.rollback_from`` (undo everything from a block height up).

The store's own statements, and the writer lock the rollback shares with it, are in store_sql.py.
"""

from __future__ import annotations

# Rows of a bulk import's pending range (migration 014) were never added to the counters: they
# do not count here (their wallets are still listed, so their first/last times are recomputed).
DELETE_TRADES = """
WITH d AS (DELETE FROM orderflow_trades WHERE chain_id = $1 AND block_number >= $2
           RETURNING wallet_address, usdc_size, id),
     c AS (SELECT d.*, EXISTS (SELECT 1 FROM orderflow_position_sums_pending)
                       AND orderflow_position_sums_is_pending(d.id) AS pending
             FROM d)
SELECT wallet_address, count(*) AS deleted, count(*) FILTER (WHERE NOT pending) AS n,
       coalesce(sum(usdc_size) FILTER (WHERE NOT pending), 0) AS volume
  FROM c GROUP BY wallet_address
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

DELETE_MATCHES = "DELETE FROM orderflow_matches WHERE chain_id = $1 AND block_number >= $2"
# Chain resolutions of rolled-back blocks: a market Gamma resolved goes back to Gamma's
# resolution (what it was before the chain's replaced it, or what Gamma said after: migration
# 036) instead of being deleted; the others are deleted. Gamma rows carry no block.
RETURN_OUTCOMES = """
UPDATE orderflow_market_outcomes
   SET oracle = gamma_oracle, question_id = gamma_question_id,
       outcome_slot_count = cardinality(gamma_payouts), payout_numerators = gamma_payouts,
       payouts = gamma_payouts, winning_outcome = array_position(gamma_payouts, 1::numeric) - 1,
       resolved_at = gamma_resolved_at, block_number = NULL, block_hash = NULL, tx_hash = NULL,
       log_index = NULL, source = 'gamma'
 WHERE chain_id = $1 AND block_number >= $2 AND gamma_payouts IS NOT NULL
"""
DELETE_OUTCOMES = "DELETE FROM orderflow_market_outcomes WHERE chain_id = $1 AND block_number >= $2"
DELETE_CONDITIONS = """
DELETE FROM orderflow_conditions WHERE chain_id = $1 AND block_number >= $2
RETURNING condition_id
"""
# Tokens computed from a rolled-back ConditionPreparation: those Gamma lists go back to Gamma
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
DELETE_DEAD_LETTERS = (
    "DELETE FROM orderflow_dead_letters WHERE chain_id = $1 AND block_number >= $2"
)
DELETE_BLOCKS = "DELETE FROM orderflow_blocks WHERE chain_id = $1 AND block_number >= $2"
REWIND_CHECKPOINTS = """
UPDATE orderflow_sync_checkpoints
   SET block_number = $2 - 1,
       block_hash = (SELECT block_hash FROM orderflow_blocks
                      WHERE chain_id = $1 AND block_number = $2 - 1),
       updated_at = now()
 WHERE chain_id = $1 AND block_number >= $2
"""
