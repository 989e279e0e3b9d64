-- The sums' upsert walks orderflow_position_sums in key order (docs/benchmarks.md "Fold cost as
-- the sums grow", docs/scaling.md 3.2).
--
-- Migration 011's statement fed its upsert the grouped rows in whatever order the aggregate gave
-- them: a hash aggregate's, i.e. random, whenever the planner chose one (a live batch's
-- transition table, a small fold). Each key's probe of the primary key and each new entry of the
-- `dirty` index then hit a random leaf, a read once the indexes outgrow shared_buffers. Sorted
-- by (wallet_address, token_id) – the primary key's order, and the `dirty` index's – consecutive
-- keys share leaf pages and every page is visited once per statement. The wallet counters'
-- upsert likewise goes in wallet order. Every key occurs once in the grouped rows (and every
-- wallet once in the counters'), so the order changes no stored value. Measured: a fold of
-- 150,000 fills was already planned sort-based (in key order), so its cost is unchanged, and it
-- still grows with the table (the updated positions' heap pages); this makes the order a
-- guarantee instead of a plan's accident.
--
-- The grouped rows are sorted inside the CTE, by the grouping columns: a sort-based aggregate
-- (the planner's choice for a large fold) then needs no sort of its own output, a hash
-- aggregate gets one sort of its groups; the upsert reads the CTE's rows in the order they were
-- written (tests/chain/test_sums_key_order.py records the order each upsert sees).
--
-- Only the statement builder changes (its text is 011's plus the two ORDER BY); the two
-- functions that embed its statement are written again as migration 014 wrote them. The update
-- trigger builds its statements when it runs, so it takes the new one by itself.

CREATE OR REPLACE FUNCTION orderflow_position_sums_add_sql(src TEXT, counters BOOLEAN)
RETURNS TEXT LANGUAGE plpgsql IMMUTABLE AS $f$
DECLARE
    adds TEXT := (SELECT string_agg(format('%1$I = a.%1$I + EXCLUDED.%1$I', c), ', ')
                    FROM unnest(orderflow_position_sums_additive()) c);
BEGIN
    RETURN format($q$
WITH s AS (%s ORDER BY t.wallet_address, t.token_id), up AS (
    INSERT INTO orderflow_position_sums AS a
    SELECT s.*, TRUE FROM s
    ON CONFLICT (wallet_address, token_id) DO UPDATE SET %s,
        trade_market_id = least(a.trade_market_id, EXCLUDED.trade_market_id),
        trade_outcome_index = least(a.trade_outcome_index, EXCLUDED.trade_outcome_index),
        taker_first_at = least(a.taker_first_at, EXCLUDED.taker_first_at),
        first_at = least(a.first_at, EXCLUDED.first_at),
        last_at = greatest(a.last_at, EXCLUDED.last_at),
        dirty = TRUE
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

-- 014's fold, its statement built again.
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

-- 014's insert trigger, its statement built again.
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
