-- PENNY_PICKER's stake (penny_u) counts buys above 0.9 at a level only: strictly below 1
-- (orderflow.reputation.flags.penny_sql, which the run's scan of the trades reads; a price of 1.00
-- is no CLOB buy but a wash or settlement-like print, no favourite bought). Until this migration
-- a print at 1.00 counted, so a wallet whose only "favourite" buys were prints at 1.00 was
-- PENNY_PICKER (tests/reputation/test_penny_prints.py).
--
-- Migration 011's definition of the sums, with that one change (the triggers, the fold and
-- orderflow.chain.partitions call it by name).
CREATE OR REPLACE FUNCTION orderflow_position_sums_sql(src TEXT) RETURNS TEXT
LANGUAGE sql IMMUTABLE AS $f$
SELECT format($q$
SELECT t.wallet_address::text AS wallet_address, t.token_id::numeric AS token_id,
       min(t.market_id::text COLLATE "C") AS trade_market_id,
       min(t.outcome_index) AS trade_outcome_index,
       count(*) AS fills,
       coalesce(sum(t.s) FILTER (WHERE t.buy), 0) AS bought_gross_u,
       coalesce(sum(t.c) FILTER (WHERE t.buy), 0) AS paid_gross_u,
       coalesce(sum(t.s) FILTER (WHERE NOT t.buy), 0) AS sold_gross_u,
       coalesce(sum(t.c) FILTER (WHERE NOT t.buy), 0) AS received_gross_u,
       coalesce(sum(t.fee) FILTER (WHERE t.fee > 0 AND t.buy AND t.fee_asset = 'SHARES'), 0)
           AS fee_buy_shares,
       coalesce(sum(t.fee) FILTER (WHERE t.fee > 0 AND t.buy AND t.fee_asset = 'COLLATERAL'), 0)
           AS fee_buy_usdc,
       coalesce(sum(t.fee) FILTER (WHERE t.fee > 0 AND NOT t.buy AND t.fee_asset = 'SHARES'), 0)
           AS fee_sell_shares,
       coalesce(sum(t.fee) FILTER (WHERE t.fee > 0 AND NOT t.buy
                                   AND t.fee_asset = 'COLLATERAL'), 0) AS fee_sell_usdc,
       coalesce(sum(t.fee * t.price) FILTER (WHERE t.fee > 0 AND t.fee_asset = 'SHARES'), 0)
           AS fee_share_value,
       coalesce(sum(t.s) FILTER (WHERE t.taker AND t.buy), 0) AS tb_u,
       coalesce(sum(t.c) FILTER (WHERE t.taker AND t.buy), 0) AS tcb_u,
       coalesce(sum(t.s) FILTER (WHERE t.taker AND NOT t.buy), 0) AS ts_u,
       coalesce(sum(t.c) FILTER (WHERE t.taker AND NOT t.buy), 0) AS tr_u,
       coalesce(sum(CASE WHEN t.fee_asset = 'SHARES' THEN t.fee * t.price ELSE t.fee END)
                FILTER (WHERE t.taker AND t.fee > 0), 0) AS taker_fee,
       coalesce(sum(t.c) FILTER (WHERE t.buy AND t.price > 0.9 AND t.price < 1), 0)
           AS penny_u,
       min(t.timestamp) FILTER (WHERE t.taker) AS taker_first_at,
       min(t.timestamp) AS first_at,
       max(t.timestamp) AS last_at
  FROM (SELECT g.wallet_address, g.token_id, g.market_id, g.outcome_index, g.timestamp,
               g.price, g.fee, g.fee_asset, g.is_taker_aggregate AS taker,
               g.side = 'BUY' AS buy,
               (g.size * 1000000)::numeric(38, 0) AS s,
               (g.usdc_size * 1000000)::numeric(38, 0) AS c
          FROM %s g) AS t
 GROUP BY t.wallet_address, t.token_id
$q$, src)
$f$;

-- The statements built from it when they were made, built again: the insert trigger (030's) and
-- the fold of a bulk import's deferred sums (081's). The delete and update triggers build theirs
-- at each call.
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

DO $$
BEGIN
    EXECUTE format(
        'CREATE OR REPLACE FUNCTION orderflow_position_sums_fold(folding BIGINT[]) RETURNS BIGINT'
        ' LANGUAGE plpgsql AS %L',
        'DECLARE n BIGINT; BEGIN'
        ' IF cardinality(folding) = 0 THEN RETURN 0; END IF;'
        ' IF NOT pg_try_advisory_xact_lock(orderflow_fold_lock_key())'
        '    OR (SELECT count(*) FROM (SELECT 1 FROM orderflow_position_sums_pending'
        '         WHERE id_lo = ANY(folding) FOR UPDATE NOWAIT) mine) <> cardinality(folding)'
        ' THEN RAISE EXCEPTION ''fold of ranges not claimed: %'', folding; END IF;'
        ' ' || orderflow_position_sums_add_sql(orderflow_position_sums_folding_rows(), TRUE) || ';'
        ' DELETE FROM orderflow_position_sums_pending WHERE id_lo = ANY(folding);'
        ' GET DIAGNOSTICS n = ROW_COUNT;'
        ' RETURN n; END;');
END;
$$;


-- The stored sums as the new rule has them: the collateral of the buys at 1 or more taken out
-- of penny_u, from every fill the database still holds -- the attached partitions, and the
-- partitions detached for archiving that are still tables here (a plain table named as a
-- partition: orderflow_trades_pNNNN). A detached partition dropped since keeps its prints'
-- collateral in its keys' penny_u (nothing left to read it from). The next reputation run is a
-- full one (its code's fingerprint moved) and reads every key.
DO $$
DECLARE
    src TEXT := 'SELECT wallet_address, token_id, usdc_size FROM orderflow_trades'
                || ' WHERE side = ''BUY'' AND price >= 1';
    part TEXT;
BEGIN
    FOR part IN
        SELECT c.oid::regclass::text FROM pg_class c
         WHERE c.relname ~ '^orderflow_trades_p[0-9]+$' AND c.relkind = 'r'
           AND NOT c.relispartition
           AND c.relnamespace = (SELECT relnamespace FROM pg_class
                                  WHERE oid = 'orderflow_trades'::regclass)
    LOOP
        src := src || format(' UNION ALL SELECT wallet_address, token_id, usdc_size FROM %s'
                             ' WHERE side = ''BUY'' AND price >= 1', part);
    END LOOP;
    EXECUTE format($q$
UPDATE orderflow_position_sums a
   SET penny_u = a.penny_u - p.u
  FROM (SELECT wallet_address, token_id, sum((usdc_size * 1000000)::numeric(38, 0)) AS u
          FROM (%s) t
         GROUP BY wallet_address, token_id) p
 WHERE a.wallet_address = p.wallet_address AND a.token_id = p.token_id
$q$, src);
END;
$$;
