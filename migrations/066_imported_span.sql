-- The blocks where fills or matches not read from the node may be stored (docs/history.md "A
-- wrong block no time exposes"; orderflow/chain/store_replace.py).
--
-- An import (orderflow import, listen --from-file) may store a log at a block it does not belong
-- to: a dump row naming a wrong block without a time to expose it. The node's log, stored by the
-- listener at its real block, replaces such a row, found by its transaction hash and log index in
-- every partition (a hash index probe each). Rows the node's logs contradict can only be where an
-- import stored rows: store_batch widens this span to each non-authoritative batch's blocks when
-- it stores a fill or a match, and the listener's probe reads only the partitions it covers (none
-- at all while the table is empty: a database no import wrote to pays nothing). One row; the span
-- only ever widens (a rollback leaves it).
CREATE TABLE orderflow_imported_span (
    one         BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    first_block BIGINT  NOT NULL,
    last_block  BIGINT  NOT NULL
);

-- Rows stored before this migration: who wrote them is not recorded, so the span covers every
-- partition of orderflow_trades or orderflow_matches that holds a row (one probe per partition).
DO $$
DECLARE
    span CONSTANT BIGINT := orderflow_partition_blocks();
    part RECORD;
    held BOOLEAN;
    lo   BIGINT;
    hi   BIGINT;
BEGIN
    FOR part IN
        SELECT c.relname,
               substring(c.relname FROM '_p([0-9]+)$')::bigint AS n
          FROM pg_inherits i
          JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent IN (to_regclass('orderflow_trades'), to_regclass('orderflow_matches'))
    LOOP
        CONTINUE WHEN part.n IS NULL;
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I)', part.relname) INTO held;
        CONTINUE WHEN NOT held;
        lo := least(lo, part.n * span);
        hi := greatest(hi, (part.n + 1) * span - 1);
    END LOOP;
    IF lo IS NOT NULL THEN
        INSERT INTO orderflow_imported_span (first_block, last_block) VALUES (lo, hi);
    END IF;
END $$;
