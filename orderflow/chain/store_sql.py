"""The chain stage's SQL but a rollback's (see store.py for how the statements fit together;
checkpoints.py, dead_letters.py and store_tokens.py run the rest; rollback_sql.py holds
``rollback_from``'s).

Batches go through per-connection temporary tables (``ON COMMIT DELETE ROWS``): COPY in, then
one ``INSERT … SELECT … ON CONFLICT DO NOTHING`` into the ledger, so replays and overlapping
ranges are harmless and the statement-level triggers see only genuinely new rows.
Amounts travel as BIGINT base units and timestamps as epoch seconds (cheap to COPY); the
conversion to exact NUMERIC units happens here, in PostgreSQL.
"""

from __future__ import annotations


def row_count(status: str) -> int:
    """Row count from a command tag like ``INSERT 0 42`` / ``UPDATE 3``."""
    return int(status.rsplit(" ", 1)[-1])


CREATE_TEMP_TABLES = """
CREATE TEMP TABLE IF NOT EXISTS orderflow_tmp_fills (
    tx_hash text, log_index int, block_number bigint, block_hash text, ts bigint,
    exchange text, exchange_version text, order_hash text, wallet text, taker text,
    is_taker_aggregate bool, side text, token_id text, shares bigint, collateral bigint,
    fee bigint, fee_asset text, builder text, metadata text, match_log_index int
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS orderflow_tmp_matches (
    tx_hash text, log_index int, block_number bigint, block_hash text, ts bigint,
    exchange text, exchange_version text, taker_order_hash text, taker_wallet text,
    side text, token_id text, shares bigint, collateral bigint
) ON COMMIT DELETE ROWS;
-- Empty already after a commit; not when store_batch runs twice in one outer transaction.
DELETE FROM orderflow_tmp_fills;
DELETE FROM orderflow_tmp_matches;
"""

# One ledger writer at a time per database (transaction-scoped advisory lock): two writers
# (the listener and a file import, two listener pods) would otherwise upsert the same wallet
# counters and match links in different orders and could deadlock. Key: b"ordfchai" (the
# migration lock is b"ordfmigr").
WRITER_LOCK = f"SELECT pg_advisory_xact_lock({0x6F72_6466_6368_6169})"

FILL_COLUMNS = (
    "tx_hash",
    "log_index",
    "block_number",
    "block_hash",
    "ts",
    "exchange",
    "exchange_version",
    "order_hash",
    "wallet",
    "taker",
    "is_taker_aggregate",
    "side",
    "token_id",
    "shares",
    "collateral",
    "fee",
    "fee_asset",
    "builder",
    "metadata",
    "match_log_index",
)
MATCH_COLUMNS = (
    "tx_hash",
    "log_index",
    "block_number",
    "block_hash",
    "ts",
    "exchange",
    "exchange_version",
    "taker_order_hash",
    "taker_wallet",
    "side",
    "token_id",
    "shares",
    "collateral",
)

# price = collateral / shares, 0 when no shares changed hands (keeps the CHECK and the row).
# A fill's (and a match's) stored identity is (chain, block, log index): the primary key since
# the table is partitioned by block (migration 012); partitions exist before this runs
# (partitions.py).
INSERT_TRADES = """
INSERT INTO orderflow_trades (
    chain_id, tx_hash, log_index, block_number, block_hash, timestamp, exchange,
    exchange_version, order_hash, wallet_address, taker_address, is_taker_aggregate, side,
    token_id, market_id, outcome_index, price, size, usdc_size, fee, fee_asset, builder,
    metadata, match_log_index, traceparent)
SELECT $1, f.tx_hash, f.log_index, f.block_number, f.block_hash, to_timestamp(f.ts),
       f.exchange, f.exchange_version, f.order_hash, f.wallet, f.taker, f.is_taker_aggregate,
       f.side, f.token_id::numeric, k.condition_id, k.outcome_index,
       CASE WHEN f.shares = 0 THEN 0 ELSE f.collateral::numeric / f.shares END,
       f.shares / 1000000.0, f.collateral / 1000000.0, f.fee / 1000000.0, f.fee_asset,
       f.builder, f.metadata, f.match_log_index, $2
  FROM orderflow_tmp_fills f
  LEFT JOIN orderflow_tokens k ON k.token_id = f.token_id::numeric
ON CONFLICT (chain_id, block_number, log_index) DO NOTHING
"""

INSERT_MATCHES = """
INSERT INTO orderflow_matches (
    chain_id, tx_hash, log_index, block_number, block_hash, timestamp, exchange,
    exchange_version, taker_order_hash, taker_wallet, side, token_id, market_id,
    outcome_index, price, size, usdc_size)
SELECT $1, m.tx_hash, m.log_index, m.block_number, m.block_hash, to_timestamp(m.ts),
       m.exchange, m.exchange_version, m.taker_order_hash, m.taker_wallet, m.side,
       m.token_id::numeric, k.condition_id, k.outcome_index,
       CASE WHEN m.shares = 0 THEN 0 ELSE m.collateral::numeric / m.shares END,
       m.shares / 1000000.0, m.collateral / 1000000.0
  FROM orderflow_tmp_matches m
  LEFT JOIN orderflow_tokens k ON k.token_id = m.token_id::numeric
ON CONFLICT (chain_id, block_number, log_index) DO NOTHING
"""

# Staged rows the insert dropped although they are not replays: another log already holds their
# (chain, block, log index) with other content — another transaction, block hash, order, wallet,
# side, token or amount (hostile or broken input, or a fork stored without its rollback; a
# canonical chain never has two). Run only when the insert stored fewer rows than were staged.
# Amounts a later statement or the batch's context may change are left out: the fee (refunds
# lower it) and the giving amount of a taker's fill and of a match (amounts.correct_match lowers
# it when the match's maker fills are at hand); the receiving amount is never corrected.
# The condition, on a stored row t and a staged row s at the same (chain, block, log index),
# that they are not the same log (store_replace.py uses them too).
FILL_DIFFERS = """
       (t.tx_hash, t.block_hash, t.exchange, t.order_hash, t.wallet_address, t.taker_address,
        t.is_taker_aggregate, t.side, t.token_id, t.builder, t.metadata)
       IS DISTINCT FROM
       (s.tx_hash, s.block_hash, s.exchange, s.order_hash, s.wallet, s.taker,
        s.is_taker_aggregate, s.side, s.token_id::numeric, s.builder, s.metadata)
    OR (t.size <> s.shares / 1000000.0 AND (NOT s.is_taker_aggregate OR s.side = 'BUY'))
    OR (t.usdc_size <> s.collateral / 1000000.0
        AND (NOT s.is_taker_aggregate OR s.side = 'SELL'))"""
MATCH_DIFFERS = """
       (t.tx_hash, t.block_hash, t.exchange, t.taker_order_hash, t.taker_wallet, t.side,
        t.token_id)
       IS DISTINCT FROM
       (s.tx_hash, s.block_hash, s.exchange, s.taker_order_hash, s.taker_wallet, s.side,
        s.token_id::numeric)
    OR (t.size <> s.shares / 1000000.0 AND s.side = 'BUY')
    OR (t.usdc_size <> s.collateral / 1000000.0 AND s.side = 'SELL')"""
COLLIDING = """
SELECT s.tx_hash, s.log_index, s.block_number, s.block_hash, s.exchange, t.tx_hash AS stored_tx,
       t.block_hash AS stored_block_hash
  FROM {staging} s
  JOIN {table} t
    ON t.chain_id = $1 AND t.block_number = s.block_number AND t.log_index = s.log_index
 WHERE {differs}
"""
COLLIDING_FILLS = COLLIDING.format(
    staging="orderflow_tmp_fills", table="orderflow_trades", differs=FILL_DIFFERS
)
COLLIDING_MATCHES = COLLIDING.format(
    staging="orderflow_tmp_matches", table="orderflow_matches", differs=MATCH_DIFFERS
)

# Staged rows of another fork than the block recorded in orderflow_blocks at their height (the
# listener's verified headers, replaced by a rollback): removed from staging before the insert
# and kept as dead letters. $2, $3: the batch's lowest and highest block.
ORPHANED = """
DELETE FROM {staging} s
 USING orderflow_blocks b
 WHERE b.chain_id = $1 AND b.block_number BETWEEN $2::bigint AND $3::bigint
   AND b.block_number = s.block_number AND b.block_hash <> s.block_hash
RETURNING s.tx_hash, s.log_index, s.block_number, s.block_hash, s.exchange,
          b.block_hash AS recorded_block_hash
"""
ORPHANED_FILLS = ORPHANED.format(staging="orderflow_tmp_fills")
ORPHANED_MATCHES = ORPHANED.format(staging="orderflow_tmp_matches")

# Whether a fill or match is stored between two positions (chain order, both included): the
# store asks before inserting a batch, for its first and last row (store._Writer.link_candidates).
ROWS_BETWEEN = """
SELECT EXISTS (SELECT 1 FROM orderflow_trades
                WHERE chain_id = $1 AND block_number BETWEEN $2::bigint AND $4::bigint
                  AND (block_number, log_index) >= ($2::bigint, $3::int)
                  AND (block_number, log_index) <= ($4::bigint, $5::int))
    OR EXISTS (SELECT 1 FROM orderflow_matches
                WHERE chain_id = $1 AND block_number BETWEEN $2::bigint AND $4::bigint
                  AND (block_number, log_index) >= ($2::bigint, $3::int)
                  AND (block_number, log_index) <= ($4::bigint, $5::int))
"""

# Lookups by transaction go through the hash index <table>_tx (tx_hash), migration 016; the
# chain is checked on the few rows found, written `chain_id IS NOT DISTINCT FROM $1` (the column
# is NOT NULL: the same as `=`) so that it is never an index condition: a generic plan, or one
# made before the partition has statistics, would otherwise AND the transaction index with a
# bitmap of the primary key's chain_id prefix, i.e. every row of the partition.
CHAIN_FILTER = "chain_id IS NOT DISTINCT FROM $1"

# Fills stored earlier (another batch) that belong to a match stored now, or the reverse: a
# fill belongs to the first match of its exchange after it in the same transaction.
LINK_MATCHES = f"""
UPDATE orderflow_trades t
   SET match_log_index = m.log_index
  FROM (SELECT tx_hash, exchange, log_index,
               lag(log_index) OVER (PARTITION BY tx_hash, exchange ORDER BY log_index) AS prev
          FROM orderflow_matches
         WHERE {CHAIN_FILTER} AND tx_hash = ANY($2::text[])) m
 WHERE t.{CHAIN_FILTER}
   AND t.tx_hash = m.tx_hash
   AND t.exchange = m.exchange
   AND t.log_index < m.log_index
   AND t.log_index > coalesce(m.prev, -1)
   AND t.match_log_index IS NULL
"""

INSERT_CONDITIONS = """
INSERT INTO orderflow_conditions (
    condition_id, oracle, question_id, outcome_slot_count, neg_risk, chain_id, block_number,
    block_hash, tx_hash, log_index, timestamp)
SELECT c.condition_id, c.oracle, c.question_id, c.slots, c.neg_risk, $1, c.block_number,
       c.block_hash, c.tx_hash, c.log_index, to_timestamp(c.ts)
  FROM unnest($2::text[], $3::text[], $4::text[], $5::int[], $6::bool[], $7::bigint[],
              $8::text[], $9::text[], $10::int[], $11::bigint[])
       AS c(condition_id, oracle, question_id, slots, neg_risk, block_number, block_hash,
            tx_hash, log_index, ts)
ON CONFLICT DO NOTHING
"""

# A token id is a fact (the same id always maps to the same condition and outcome), so a known
# token keeps its row; only where the row came from can change (migration 034): a chain source
# takes over a token first known from Gamma ('gamma'), and Gamma listing a chain token is noted
# (listed_by_gamma) but never makes it Gamma's. Each id at most once per statement (ON CONFLICT
# DO UPDATE refuses a row touched twice). ``inserted`` (xmax = 0: not an update) tells the new
# ids, which older trades are joined to, from the ones that only changed hands.
INSERT_TOKENS = """
INSERT INTO orderflow_tokens (
    token_id, condition_id, outcome_index, complement_token_id, neg_risk, collateral,
    generation, source, listed_by_gamma)
SELECT k.token_id::numeric, k.condition_id, k.outcome_index, k.complement::numeric,
       k.neg_risk, k.collateral, k.generation, k.source, k.source = 'gamma'
  FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::bool[], $6::text[],
              $7::text[], $8::text[])
       AS k(token_id, condition_id, outcome_index, complement, neg_risk, collateral,
            generation, source)
ON CONFLICT (token_id) DO UPDATE
   SET source = CASE WHEN EXCLUDED.source = 'gamma' THEN orderflow_tokens.source
                     ELSE EXCLUDED.source END,
       listed_by_gamma = orderflow_tokens.listed_by_gamma OR EXCLUDED.listed_by_gamma
 WHERE (orderflow_tokens.source = 'gamma' AND EXCLUDED.source <> 'gamma')
    OR (EXCLUDED.listed_by_gamma AND NOT orderflow_tokens.listed_by_gamma)
RETURNING token_id::text, xmax = 0 AS inserted
"""

BACKFILL_TRADE_MARKETS = """
UPDATE orderflow_trades t
   SET market_id = k.condition_id, outcome_index = k.outcome_index
  FROM orderflow_tokens k
 WHERE k.token_id = ANY($1::text[]::numeric[])
   AND t.token_id = k.token_id
   AND t.market_id IS NULL
"""

BACKFILL_MATCH_MARKETS = """
UPDATE orderflow_matches m
   SET market_id = k.condition_id, outcome_index = k.outcome_index
  FROM orderflow_tokens k
 WHERE k.token_id = ANY($1::text[]::numeric[])
   AND m.token_id = k.token_id
   AND m.market_id IS NULL
"""

# A chain resolution replaces one imported from Gamma rows (source 'gamma', migration 009); a
# chain row is replaced only when $14 says so: the node's log of a market whose stored chain
# resolution is elsewhere or pays otherwise (store_markets_moved: the chain resolves a condition
# once); else the first chain row for a market stays. Gamma's resolution stays beside it (the
# gamma_* columns, migration 036, untouched here): RETURN_OUTCOMES.
INSERT_OUTCOME = """
INSERT INTO orderflow_market_outcomes (
    market_id, oracle, question_id, outcome_slot_count, payout_numerators, payouts,
    winning_outcome, resolved_at, chain_id, block_number, block_hash, tx_hash, log_index)
VALUES ($1, $2, $3, $4, $5::text[]::numeric[], $6::text[]::numeric[], $7, to_timestamp($8),
        $9, $10, $11, $12, $13)
ON CONFLICT (market_id) DO UPDATE
   SET oracle = EXCLUDED.oracle, question_id = EXCLUDED.question_id,
       outcome_slot_count = EXCLUDED.outcome_slot_count,
       payout_numerators = EXCLUDED.payout_numerators, payouts = EXCLUDED.payouts,
       winning_outcome = EXCLUDED.winning_outcome, resolved_at = EXCLUDED.resolved_at,
       chain_id = EXCLUDED.chain_id, block_number = EXCLUDED.block_number,
       block_hash = EXCLUDED.block_hash, tx_hash = EXCLUDED.tx_hash,
       log_index = EXCLUDED.log_index, source = 'chain'
 WHERE orderflow_market_outcomes.source = 'gamma' OR $14::bool
"""

UPSERT_DEAD_LETTER = """
INSERT INTO orderflow_dead_letters AS d (
    raw_sha256, chain_id, tx_hash, log_index, block_number, address, topic0, reason, raw,
    source_file, source_line)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text::jsonb, $10, $11)
ON CONFLICT (raw_sha256) DO UPDATE
   SET times_seen = d.times_seen + 1, reason = EXCLUDED.reason,
       source_file = coalesce(EXCLUDED.source_file, d.source_file),
       source_line = CASE WHEN EXCLUDED.source_file IS NULL THEN d.source_line
                          ELSE EXCLUDED.source_line END
"""

# The dead letter a Parquet row or a JSON-array element got before migration 038 (raw
# {file, row: values}, no row_number; its source_file/source_line backfilled by 038 from the
# reason), taken over by the one just upserted for the same file, row and values (raw
# {file, row: values, row_number}): a re-import does not record each such bad row twice.
# Uses orderflow_dead_letters_source (migration 041).
MERGE_PRE_038_DEAD_LETTERS = """
WITH old AS (
    DELETE FROM orderflow_dead_letters AS o
     USING unnest($2::text[], $3::bigint[], $4::text[]) AS n(file, line, raw)
     WHERE o.source_file = n.file AND o.source_line = n.line AND o.chain_id = $1
       AND NOT o.raw ? 'row_number' AND o.raw = n.raw::jsonb - 'row_number'
    RETURNING o.source_file, o.source_line, o.raw, o.times_seen, o.first_seen)
UPDATE orderflow_dead_letters AS d
   SET times_seen = d.times_seen + old.times_seen, first_seen = least(d.first_seen, old.first_seen)
  FROM old
 WHERE d.source_file = old.source_file AND d.source_line = old.source_line AND d.chain_id = $1
   AND d.raw ? 'row_number' AND d.raw - 'row_number' = old.raw
"""

DELETE_RESOLVED_DEAD_LETTERS = """
DELETE FROM orderflow_dead_letters
 WHERE raw_sha256 = ANY($1::text[]) AND reason LIKE '%has no blockTimestamp%'
"""

# A header without a parent hash keeps the one stored for the same block (same hash); a
# different block at that height (a reorg) takes the new header's, even NULL.
UPSERT_BLOCKS = """
INSERT INTO orderflow_blocks AS o (chain_id, block_number, block_hash, parent_hash, timestamp)
SELECT $1, b.number, b.hash, b.parent, b.ts
  FROM unnest($2::bigint[], $3::text[], $4::text[], $5::timestamptz[])
       AS b(number, hash, parent, ts)
ON CONFLICT (chain_id, block_number) DO UPDATE
   SET block_hash = EXCLUDED.block_hash,
       parent_hash = CASE WHEN o.block_hash = EXCLUDED.block_hash
                          THEN coalesce(EXCLUDED.parent_hash, o.parent_hash)
                          ELSE EXCLUDED.parent_hash END,
       timestamp = EXCLUDED.timestamp
"""

SELECT_BLOCK_TIMES = """
SELECT block_number, block_hash, timestamp
  FROM orderflow_blocks
 WHERE chain_id = $1 AND block_number = ANY($2::bigint[])
"""

ADVANCE_CHECKPOINT = """
INSERT INTO orderflow_sync_checkpoints AS s (chain_id, stream, block_number, block_hash)
VALUES ($1, $2, $3, $4)
ON CONFLICT (chain_id, stream) DO UPDATE
   SET block_number = EXCLUDED.block_number, block_hash = EXCLUDED.block_hash,
       updated_at = now()
 WHERE s.block_number <= EXCLUDED.block_number
"""

REWIND_CHECKPOINT = """
UPDATE orderflow_sync_checkpoints
   SET block_number = $3,
       block_hash = (SELECT block_hash FROM orderflow_blocks
                      WHERE chain_id = $1 AND block_number = $3),
       updated_at = now()
 WHERE chain_id = $1 AND stream = $2 AND block_number > $3
"""

SELECT_CHECKPOINT = """
SELECT stream, block_number, block_hash
  FROM orderflow_sync_checkpoints
 WHERE chain_id = $1 AND stream = $2
"""
