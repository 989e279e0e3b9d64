-- A fold claims its ranges first, then folds exactly those (issue 14; migration 080).
--
-- Why. 080's fold read the ranges no batch held (FOR UPDATE SKIP LOCKED) at whatever moment its
-- statement reached that read. A bulk import starts a fold beside its batches and goes on to the
-- next batch at once, so which ranges the fold got was a race: the next batch, extending the
-- newest range first, left it nothing (a fold of no range); a batch that committed meanwhile had
-- its range folded by a fold started before it. The work was right either way, but a fold due at
-- a point folded nothing or another point's rows, and the folds' sizes were timing's.
--
-- Now a fold is two steps in its transaction: orderflow_position_sums_fold_claim() takes the fold
-- lock and locks the pending ranges no batch holds, returning their ids; the caller (Python's
-- pending_sums.fold) says it has claimed them before going on, so the import's next batch starts
-- after the claim and records a range of its own; orderflow_position_sums_fold(folding) folds
-- those ranges and forgets them, nothing else. orderflow_position_sums_fold() is both, as before.

-- The fold lock and the pending ranges no writer holds, locked for this transaction: their ids
-- (empty when nothing is pending; the fold lock then is not taken).
CREATE FUNCTION orderflow_position_sums_fold_claim() RETURNS BIGINT[]
LANGUAGE plpgsql AS $$
DECLARE
    folding BIGINT[];
BEGIN
    IF NOT EXISTS (SELECT 1 FROM orderflow_position_sums_pending) THEN
        RETURN '{}';
    END IF;
    PERFORM pg_advisory_xact_lock(orderflow_fold_lock_key());
    SELECT coalesce(array_agg(id_lo), '{}') INTO folding
      FROM (SELECT id_lo FROM orderflow_position_sums_pending FOR UPDATE SKIP LOCKED) held;
    RETURN folding;
END;
$$;

-- The claimed ranges' trades added to the sums, the ranges forgotten; the number folded. The
-- ranges are this transaction's claim (what the claim returned): checked, a range gone or held
-- by another transaction is an error, not a fold racing its writer.
DO $$
BEGIN
    EXECUTE format(
        'CREATE FUNCTION orderflow_position_sums_fold(folding BIGINT[]) RETURNS BIGINT'
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

-- 080's fold, as the two steps.
CREATE OR REPLACE FUNCTION orderflow_position_sums_fold() RETURNS BIGINT
LANGUAGE sql AS $$ SELECT orderflow_position_sums_fold(orderflow_position_sums_fold_claim()) $$;
