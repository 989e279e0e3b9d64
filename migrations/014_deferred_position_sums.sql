-- Bulk imports defer the per-(wallet, token) sums of migration 011 (docs/listener.md "Bulk
-- mode", docs/scaling.md 3.2).
--
-- In a transaction with `SET LOCAL orderflow.bulk = 'on'` (store_batch does it for a file or
-- history import), the insert trigger does not add the new rows to orderflow_position_sums and
-- the wallet counters: it only records the range of orderflow_trades.id they got (ids come from
-- the identity sequence in insertion order; every writer holds the writer lock, so no other
-- session's rows fall inside the range) in orderflow_position_sums_pending, in the same
-- transaction as the rows. orderflow_position_sums_fold() later adds the rows of the pending
-- ranges with 011's own statement (sums and wallet counters), then forgets the ranges: the
-- import calls it at its end, the reputation run before it reads the sums, so an import that
-- crashed never leaves a run reading incomplete sums.
--
-- The rule that keeps the sums exact meanwhile: a row in a pending range is counted by the fold,
-- never by a trigger. The update and delete triggers leave such rows out (their min/max
-- recomputation may already see them: least/greatest of the fold makes that harmless);
-- store.rollback_from leaves them out of the counters it undoes. A pending row deleted before
-- the fold is simply not found by it.

CREATE TABLE orderflow_position_sums_pending (
    id_lo    BIGINT PRIMARY KEY,  -- orderflow_trades.id, inclusive
    id_hi    BIGINT NOT NULL,
    block_lo BIGINT NOT NULL,     -- the rows' blocks: lets the fold prune partitions
    block_hi BIGINT NOT NULL,
    CHECK (id_lo <= id_hi AND block_lo <= block_hi)
);

-- Whether a trade id lies in a pending range (one index probe).
CREATE FUNCTION orderflow_position_sums_is_pending(trade_id BIGINT) RETURNS BOOLEAN
LANGUAGE sql STABLE AS $f$
SELECT coalesce((SELECT p.id_hi >= trade_id
                   FROM orderflow_position_sums_pending p
                  WHERE p.id_lo <= trade_id
                  ORDER BY p.id_lo DESC LIMIT 1), FALSE)
$f$;

-- The rows of every pending range (a subquery for the 011 statement builders).
CREATE FUNCTION orderflow_position_sums_pending_rows() RETURNS TEXT
LANGUAGE sql IMMUTABLE AS $f$
SELECT $q$(SELECT t.* FROM orderflow_position_sums_pending p
             JOIN orderflow_trades t
               ON t.block_number BETWEEN p.block_lo AND p.block_hi
              AND t.id BETWEEN p.id_lo AND p.id_hi)$q$
$f$;

-- Add the pending rows to the sums and the wallet counters, forget the ranges; returns the
-- number of ranges folded. Takes the writer lock (store_sql.WRITER_LOCK), so it waits for a
-- batch being stored and a batch waits for it.
DO $$
BEGIN
    EXECUTE format(
        'CREATE FUNCTION orderflow_position_sums_fold() RETURNS BIGINT'
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

-- Record the id range of a bulk statement's rows: extend the newest range when no stored row
-- lies between it and them (the import's previous batch), else start a new one.
CREATE FUNCTION orderflow_position_sums_defer(lo BIGINT, hi BIGINT, blo BIGINT, bhi BIGINT)
RETURNS VOID LANGUAGE plpgsql AS $f$
DECLARE
    last orderflow_position_sums_pending;
BEGIN
    SELECT * INTO last FROM orderflow_position_sums_pending ORDER BY id_lo DESC LIMIT 1;
    IF FOUND AND last.id_hi < lo
       AND NOT EXISTS (SELECT 1 FROM orderflow_trades t WHERE t.id > last.id_hi AND t.id < lo)
    THEN
        UPDATE orderflow_position_sums_pending
           SET id_hi = hi, block_lo = least(block_lo, blo), block_hi = greatest(block_hi, bhi)
         WHERE id_lo = last.id_lo;
    ELSE
        INSERT INTO orderflow_position_sums_pending VALUES (lo, hi, blo, bhi);
    END IF;
END;
$f$;

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

-- 011's delete trigger, pending rows left out of the subtraction.
CREATE OR REPLACE FUNCTION orderflow_position_sums_on_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM orderflow_position_sums_pending) THEN
        EXECUTE orderflow_position_sums_subtract_sql(
            '(SELECT * FROM old_rows WHERE NOT orderflow_position_sums_is_pending(id))');
    ELSE
        EXECUTE orderflow_position_sums_subtract_sql('old_rows');
    END IF;
    EXECUTE orderflow_position_sums_rebound_sql('old_rows');
    RETURN NULL;
END;
$$;

-- 011's update trigger, pending rows left out of the changed rows.
CREATE OR REPLACE FUNCTION orderflow_position_sums_on_update() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    -- the ids of the rows where a column the sums read changed
    changed TEXT := $q$
        SELECT o.id FROM old_rows o JOIN new_rows n ON n.id = o.id
         WHERE (o.wallet_address::text, o.token_id::numeric, o.market_id::text, o.outcome_index,
                o.timestamp, o.price, o.size, o.usdc_size, o.fee, o.fee_asset, o.side,
                o.is_taker_aggregate)
               IS DISTINCT FROM
               (n.wallet_address::text, n.token_id::numeric, n.market_id::text, n.outcome_index,
                n.timestamp, n.price, n.size, n.usdc_size, n.fee, n.fee_asset, n.side,
                n.is_taker_aggregate)$q$;
    any_changed BOOLEAN;
BEGIN
    IF EXISTS (SELECT 1 FROM orderflow_position_sums_pending) THEN
        changed := changed || ' AND NOT orderflow_position_sums_is_pending(o.id)';
    END IF;
    EXECUTE format('SELECT EXISTS (%s)', changed) INTO any_changed;
    IF NOT any_changed THEN
        RETURN NULL;
    END IF;
    EXECUTE orderflow_position_sums_subtract_sql(
        format('(SELECT * FROM old_rows WHERE id IN (%s))', changed));
    EXECUTE orderflow_position_sums_add_sql(
        format('(SELECT * FROM new_rows WHERE id IN (%s))', changed), FALSE);
    IF EXISTS (
        SELECT 1 FROM old_rows o JOIN new_rows n ON n.id = o.id
         WHERE (o.timestamp, o.is_taker_aggregate, o.wallet_address::text, o.token_id::numeric)
               IS DISTINCT FROM
               (n.timestamp, n.is_taker_aggregate, n.wallet_address::text, n.token_id::numeric)
            OR (o.market_id IS NOT NULL AND o.market_id IS DISTINCT FROM n.market_id)
            OR (o.outcome_index IS NOT NULL AND o.outcome_index IS DISTINCT FROM n.outcome_index))
    THEN
        EXECUTE orderflow_position_sums_rebound_sql('old_rows');
        EXECUTE orderflow_position_sums_rebound_sql('new_rows');
    END IF;
    RETURN NULL;
END;
$$;
