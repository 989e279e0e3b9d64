-- The fold of a bulk import's deferred sums (migration 014, its statement 026/030's) sorts and
-- groups the pending fills by wallet in the "C" collation (docs/benchmarks.md "The store's
-- statements besides the trades").
--
-- Why. The fold's aggregate sorts every pending fill by (wallet, token) for its group key and
-- for the upsert's primary-key order (026). Sorted in the database's collation, each comparison
-- of two wallet strings goes through the C library's locale (and PostgreSQL keeps abbreviated
-- keys off for such collations); in "C" it compares bytes. A wallet is '0x' and 40 lowercase
-- hex digits (the evm_address domain), whose order is the same in every collation, so the rows
-- still reach the sums in the primary key's order (tests/chain/test_sums_key_order.py) and the
-- groups are the same (a deterministic collation: equal strings are equal bytes). The fold's
-- backend CPU at 200,000 V2 logs (149,926 fills): 1 to 5 % less in same-database comparisons
-- (marginal).
--
-- Only the fold's source changes: the pending fills' columns the sums read
-- (orderflow_position_sums_sql), the wallet's in "C". The fold is built again as 030 built it.

CREATE OR REPLACE FUNCTION orderflow_position_sums_pending_rows() RETURNS TEXT
LANGUAGE sql IMMUTABLE AS $f$
SELECT $q$(SELECT t.wallet_address COLLATE "C" AS wallet_address, t.token_id, t.market_id,
                  t.outcome_index, t.timestamp, t.price, t.fee, t.fee_asset,
                  t.is_taker_aggregate, t.side, t.size, t.usdc_size
             FROM orderflow_position_sums_pending p
             JOIN orderflow_trades t
               ON t.block_number BETWEEN p.block_lo AND p.block_hi
              AND t.id BETWEEN p.id_lo AND p.id_hi)$q$
$f$;

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
