-- The per-(wallet, token) sums keep their keys in the fills' own domains (issue 14, the fold's
-- backend CPU; docs/benchmarks.md "session 44").
--
-- Why. Migration 011's aggregate of the sums (orderflow_position_sums_sql, 099's text) cast the
-- keys to their base types -- t.wallet_address::text, t.token_id::numeric -- and every statement
-- that writes its rows puts them back into columns of the domains (orderflow_position_sums, the
-- changed-keys log of 030, the wallet counters): each key was coerced into evm_address and
-- uint256 again, the hex check (002) and the sign check run once more for every key of every
-- fold, three times over, on strings the fills' insert had already checked. The fold of
-- 200,000 V2 logs (136,518 keys) spent 8-15 % of its backend CPU on it.
--
-- Now the aggregate keeps the keys in the type its source has: for every source the writers
-- give it (the trades' transition tables, the pending fills of a fold, a detached partition)
-- that is the domains, already checked, and the writes need no coercion. A source whose keys
-- are plain text or numeric is still checked at the write, as before. The grouping and the order
-- are unchanged (the domains compare as their base types; the fold's wallet keeps its "C"
-- collation, 079), so the upserts still come in key order (tests/chain/test_sums_key_order.py).
-- Proven by tests/chain/test_sums_keys_checked_once.py.
--
-- Only the two casts change; the statements that embed the aggregate are built again.

CREATE OR REPLACE FUNCTION orderflow_position_sums_sql(src TEXT) RETURNS TEXT
LANGUAGE sql IMMUTABLE AS $f$
SELECT format($q$
SELECT t.wallet_address, t.token_id,
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

-- The statements built from it when they were made, built again as 099 built them: the insert
-- trigger and the fold of a bulk import's deferred sums. The delete and update triggers build
-- theirs at each call.
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
