-- The fold of a bulk import's deferred sums (migration 014) runs beside the import's batches
-- instead of between them (issue 14; docs/scaling.md 3.2 "The fold beside the batches",
-- docs/listener.md "Bulk mode").
--
-- Why. The fold took the writer lock: while it ran (a third of a file import's backend time, at
-- its end and every 250,000 fills), no batch was stored, and the import's decoding processes and
-- the second core idled. The writer lock was what kept the fold exact against the writers: a
-- pending range it had read could not be extended, and no row of it could be updated or deleted
-- between the fold's read and its commit (the update and delete triggers, rollback_from and the
-- store's replacement of a row take "pending" to mean "the fold will count this row": a row the
-- fold has read with its old values but not yet committed would be counted by nobody, or twice).
--
-- Now the fold takes a lock of its own, the fold lock (advisory, key b"ordffold"), exclusively,
-- and what depended on the writer lock depends on it:
--
--   * the fold folds the pending ranges no writer holds (FOR UPDATE SKIP LOCKED: a batch that is
--     extending the newest range keeps it for the next fold), and forgets those only;
--   * a batch extends the newest range only when no fold holds it (the same SKIP LOCKED: else it
--     records a range of its own), so a batch never waits for a fold on the ranges' rows;
--   * the update and delete triggers take the fold lock shared before they look at "pending"
--     (a fold in progress is waited for; one that starts after waits for them; an update that
--     changes no column the sums read, as a batch's match links, takes none), and so do
--     rollback_from, a retraction and the store's replacement of rows, before the statement
--     that both deletes rows and asks which were pending (pending_sums.FOLD_LOCK_SHARED);
--   * a batch that is not bulk (a live block) adds its rows to the sums in its insert trigger:
--     it takes the fold lock shared first thing (store.py's prologue), so it never holds a sums
--     row a fold will wait for while waiting for that fold.
--
-- A bulk batch takes the fold lock only in those triggers and statements (a fill's market set
-- when its token registers, a refund, a reorg), so the batches and a fold proceed side by side.
-- The fold no longer takes the writer lock.

CREATE FUNCTION orderflow_fold_lock_key() RETURNS BIGINT
LANGUAGE sql IMMUTABLE AS $$ SELECT 8030591476523035748::bigint $$;  -- b"ordffold"

-- The rows of the ranges a fold holds (its variable ``folding``: their id_lo), for 011's builder.
CREATE FUNCTION orderflow_position_sums_folding_rows() RETURNS TEXT
LANGUAGE sql IMMUTABLE AS $f$
SELECT $q$(SELECT t.wallet_address COLLATE "C" AS wallet_address, t.token_id, t.market_id,
                  t.outcome_index, t.timestamp, t.price, t.fee, t.fee_asset,
                  t.is_taker_aggregate, t.side, t.size, t.usdc_size
             FROM orderflow_position_sums_pending p
             JOIN orderflow_trades t
               ON t.block_number BETWEEN p.block_lo AND p.block_hi
              AND t.id BETWEEN p.id_lo AND p.id_hi
            WHERE p.id_lo = ANY(folding))$q$
$f$;

DO $$
BEGIN
    EXECUTE format(
        'CREATE OR REPLACE FUNCTION orderflow_position_sums_fold() RETURNS BIGINT'
        ' LANGUAGE plpgsql AS %L',
        'DECLARE n BIGINT; folding BIGINT[]; BEGIN'
        ' IF NOT EXISTS (SELECT 1 FROM orderflow_position_sums_pending) THEN RETURN 0; END IF;'
        ' PERFORM pg_advisory_xact_lock(orderflow_fold_lock_key());'
        ' SELECT array_agg(id_lo) INTO folding FROM (SELECT id_lo'
        '   FROM orderflow_position_sums_pending FOR UPDATE SKIP LOCKED) held;'
        ' IF folding IS NULL THEN RETURN 0; END IF;'
        ' ' || orderflow_position_sums_add_sql(orderflow_position_sums_folding_rows(), TRUE) || ';'
        ' DELETE FROM orderflow_position_sums_pending WHERE id_lo = ANY(folding);'
        ' GET DIAGNOSTICS n = ROW_COUNT;'
        ' RETURN n; END;');
END;
$$;

-- 014's, the newest range taken only when no fold holds it.
CREATE OR REPLACE FUNCTION orderflow_position_sums_defer(lo BIGINT, hi BIGINT, blo BIGINT, bhi BIGINT)
RETURNS VOID LANGUAGE plpgsql AS $f$
DECLARE
    last orderflow_position_sums_pending;
BEGIN
    -- the newest range no fold holds, locked (a range of a fold in progress is skipped: the
    -- one found then has rows after it, and this batch records a range of its own)
    SELECT * INTO last FROM orderflow_position_sums_pending
     ORDER BY id_lo DESC LIMIT 1 FOR UPDATE SKIP LOCKED;
    IF FOUND AND last.id_hi < lo
       AND NOT EXISTS (SELECT 1 FROM orderflow_trades t WHERE t.id > last.id_hi AND t.id < lo)
    THEN
        UPDATE orderflow_position_sums_pending
           SET id_hi = hi, block_lo = least(block_lo, blo), block_hi = greatest(block_hi, bhi)
         WHERE id_lo = last.id_lo;
        IF FOUND THEN
            RETURN;
        END IF;
    END IF;
    INSERT INTO orderflow_position_sums_pending VALUES (lo, hi, blo, bhi);
END;
$f$;

-- 014's delete trigger, after the fold lock.
CREATE OR REPLACE FUNCTION orderflow_position_sums_on_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(orderflow_fold_lock_key());
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

-- 014's update trigger: the fold lock once a column the sums read changed.
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
    -- nothing the sums read changed (a match link, say: every bulk batch makes some): no
    -- question of "pending", no fold lock (a batch would wait for every fold in progress)
    EXECUTE format('SELECT EXISTS (%s)', changed) INTO any_changed;
    IF NOT any_changed THEN
        RETURN NULL;
    END IF;
    PERFORM pg_advisory_xact_lock_shared(orderflow_fold_lock_key());
    IF EXISTS (SELECT 1 FROM orderflow_position_sums_pending) THEN
        changed := changed || ' AND NOT orderflow_position_sums_is_pending(o.id)';
        EXECUTE format('SELECT EXISTS (%s)', changed) INTO any_changed;
        IF NOT any_changed THEN
            RETURN NULL;
        END IF;
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
