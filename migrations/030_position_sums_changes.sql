-- The changed per-(wallet, token) sums are recorded in a table of their own instead of a `dirty`
-- flag on the sums rows (docs/reputation.md "Incremental runs", docs/benchmarks.md "Changes
-- apart from the sums").
--
-- Why. A run takes the changes first and holds its transaction to its end (minutes at scale).
-- With the flag it took them by `UPDATE orderflow_position_sums SET dirty = FALSE WHERE dirty`
-- (an incremental run) or cleared them all the same way (a full run): every changed sums row
-- stayed row-locked until the run committed, and a writer adding the next fill of one of those
-- keys (the insert trigger's upsert) waited for the whole run, with its batch uncommitted and
-- invisible to the executor (tests/reputation/test_change_claims.py). And the flag was indexed
-- (the partial index that found the changed keys), so no update of a sums row was ever a HOT
-- update, and a full run after a history import rewrote every sums row to clear it (1 M keys:
-- 21.6 s against 1.6 s to delete the same keys from a table of their own).
--
-- Now. orderflow_position_sums_changes is an append-only log of changed keys: the statements
-- that add, subtract or re-bound sums (011's builders, rewritten below) append the keys they
-- changed, in the same statement. It has no unique constraint, so a writer's append never
-- conflicts with, nor waits for, a run: a run takes the changes with `DELETE ... RETURNING`
-- (the rows its statement sees, locked by nobody else) and a key appended meanwhile stays for
-- the next run; a run that fails gives its rows back with its rollback. A key may be logged
-- more than once between two runs; the run takes each once (DISTINCT).
--
-- The other marks a run takes the same way (the markets and tokens of migration 011, the wallet
-- rows written by others of migration 027) lose their primary keys for the same reason: a
-- writer's `INSERT ... ON CONFLICT DO NOTHING` of a market a run has just taken (a resolution
-- after its condition, within the hour) waited for the run to learn whether its row conflicts.
-- Without a unique index nothing conflicts; the run takes each once (UNION, DISTINCT).
--
-- The builders keep 011/026's statements otherwise (026's key order included). The functions
-- that embed the add statement (the fold, the insert trigger) are written again as 026 wrote
-- them; the update and delete triggers build their statements when they run.

CREATE TABLE orderflow_position_sums_changes (
    wallet_address evm_address NOT NULL,
    token_id       uint256     NOT NULL
);

LOCK TABLE orderflow_position_sums IN SHARE ROW EXCLUSIVE MODE;
INSERT INTO orderflow_position_sums_changes (wallet_address, token_id)
SELECT wallet_address, token_id FROM orderflow_position_sums WHERE dirty;
DROP INDEX orderflow_position_sums_dirty;
ALTER TABLE orderflow_position_sums DROP COLUMN dirty;

ALTER TABLE orderflow_reputation_dirty_markets DROP CONSTRAINT orderflow_reputation_dirty_markets_pkey;
ALTER TABLE orderflow_reputation_dirty_tokens DROP CONSTRAINT orderflow_reputation_dirty_tokens_pkey;
ALTER TABLE orderflow_reputation_touched DROP CONSTRAINT orderflow_reputation_touched_pkey;

CREATE OR REPLACE FUNCTION orderflow_position_sums_add_sql(src TEXT, counters BOOLEAN)
RETURNS TEXT LANGUAGE plpgsql IMMUTABLE AS $f$
DECLARE
    adds TEXT := (SELECT string_agg(format('%1$I = a.%1$I + EXCLUDED.%1$I', c), ', ')
                    FROM unnest(orderflow_position_sums_additive()) c);
BEGIN
    RETURN format($q$
WITH s AS (%s ORDER BY t.wallet_address, t.token_id), up AS (
    INSERT INTO orderflow_position_sums AS a
    SELECT s.* FROM s
    ON CONFLICT (wallet_address, token_id) DO UPDATE SET %s,
        trade_market_id = least(a.trade_market_id, EXCLUDED.trade_market_id),
        trade_outcome_index = least(a.trade_outcome_index, EXCLUDED.trade_outcome_index),
        taker_first_at = least(a.taker_first_at, EXCLUDED.taker_first_at),
        first_at = least(a.first_at, EXCLUDED.first_at),
        last_at = greatest(a.last_at, EXCLUDED.last_at)
), changed AS (
    INSERT INTO orderflow_position_sums_changes (wallet_address, token_id)
    SELECT s.wallet_address, s.token_id FROM s
)
INSERT INTO orderflow_wallet_stats AS w
       (wallet_address, total_trades, total_volume_usdc, first_trade_at, last_trade_at,
        updated_at)
SELECT s.wallet_address, sum(s.fills), sum(s.paid_gross_u + s.received_gross_u) / 1000000,
       min(s.first_at), max(s.last_at), now()
  FROM s
 WHERE %L
 GROUP BY s.wallet_address
 ORDER BY s.wallet_address
ON CONFLICT (wallet_address) DO UPDATE SET
    total_trades      = w.total_trades + EXCLUDED.total_trades,
    total_volume_usdc = w.total_volume_usdc + EXCLUDED.total_volume_usdc,
    first_trade_at    = LEAST(w.first_trade_at, EXCLUDED.first_trade_at),
    last_trade_at     = GREATEST(w.last_trade_at, EXCLUDED.last_trade_at),
    updated_at        = now()
$q$, orderflow_position_sums_sql(src), adds, counters);
END;
$f$;

CREATE OR REPLACE FUNCTION orderflow_position_sums_subtract_sql(src TEXT) RETURNS TEXT
LANGUAGE plpgsql IMMUTABLE AS $f$
DECLARE
    subs TEXT := (SELECT string_agg(format('%1$I = a.%1$I - s.%1$I', c), ', ')
                    FROM unnest(orderflow_position_sums_additive()) c);
BEGIN
    RETURN format($q$
WITH up AS (
    UPDATE orderflow_position_sums a SET %s
      FROM (%s) s
     WHERE a.wallet_address = s.wallet_address AND a.token_id = s.token_id
    RETURNING a.wallet_address, a.token_id
)
INSERT INTO orderflow_position_sums_changes (wallet_address, token_id)
SELECT wallet_address, token_id FROM up
$q$, subs, orderflow_position_sums_sql(src));
END;
$f$;

CREATE OR REPLACE FUNCTION orderflow_position_sums_rebound_sql(src TEXT) RETURNS TEXT
LANGUAGE plpgsql IMMUTABLE AS $f$
BEGIN
    RETURN format($q$
WITH up AS (
    UPDATE orderflow_position_sums a
       SET trade_market_id = r.trade_market_id, trade_outcome_index = r.trade_outcome_index,
           taker_first_at = r.taker_first_at, first_at = r.first_at, last_at = r.last_at
      FROM (SELECT DISTINCT wallet_address::text AS wallet_address, token_id::numeric AS token_id
              FROM %s) k
     CROSS JOIN LATERAL (
           SELECT min(t.market_id::text COLLATE "C") AS trade_market_id,
                  min(t.outcome_index) AS trade_outcome_index,
                  min(t.timestamp) FILTER (WHERE t.is_taker_aggregate) AS taker_first_at,
                  min(t.timestamp) AS first_at, max(t.timestamp) AS last_at
             FROM orderflow_trades t
            WHERE t.wallet_address = k.wallet_address AND t.token_id = k.token_id) r
     WHERE a.wallet_address = k.wallet_address AND a.token_id = k.token_id
    RETURNING a.wallet_address, a.token_id
)
INSERT INTO orderflow_position_sums_changes (wallet_address, token_id)
SELECT wallet_address, token_id FROM up
$q$, src);
END;
$f$;

-- 026's fold, its statement built again.
DO $$
BEGIN
    EXECUTE format(
        'CREATE OR REPLACE FUNCTION orderflow_position_sums_fold() RETURNS BIGINT'
        ' LANGUAGE plpgsql AS %L',
        'DECLARE n BIGINT; BEGIN'
        ' IF NOT EXISTS (SELECT 1 FROM orderflow_position_sums_pending) THEN RETURN 0; END IF;'
        ' PERFORM pg_advisory_xact_lock(8030591476472242537);'
        ' ' || orderflow_position_sums_add_sql(orderflow_position_sums_pending_rows(), TRUE) || ';'
        ' DELETE FROM orderflow_position_sums_pending;'
        ' GET DIAGNOSTICS n = ROW_COUNT;'
        ' RETURN n; END;');
END;
$$;

-- 026's insert trigger, its statement built again.
DO $$
BEGIN
    EXECUTE format(
        'CREATE OR REPLACE FUNCTION orderflow_position_sums_on_insert() RETURNS trigger'
        ' LANGUAGE plpgsql AS %L',
        'DECLARE lo BIGINT; hi BIGINT; blo BIGINT; bhi BIGINT; BEGIN'
        ' IF current_setting(''orderflow.bulk'', TRUE) = ''on'' THEN'
        '   SELECT min(id), max(id), min(block_number), max(block_number)'
        '     INTO lo, hi, blo, bhi FROM new_rows;'
        '   IF lo IS NOT NULL THEN'
        '     PERFORM orderflow_position_sums_defer(lo, hi, blo, bhi);'
        '   END IF;'
        '   RETURN NULL;'
        ' END IF; '
        || orderflow_position_sums_add_sql('new_rows', TRUE) || '; RETURN NULL; END;');
END;
$$;
