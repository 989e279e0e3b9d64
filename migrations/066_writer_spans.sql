-- The blocks where each kind of writer stored fills or matches (docs/history.md "A wrong block
-- no time exposes"; orderflow/chain/store_replace.py).
--
-- An import (orderflow import, listen --from-file) may store a log at a block it does not belong
-- to: a dump row naming a wrong block without a time to expose it. The same log read from the
-- node (the listener's backfill and live blocks) is at its real block: found by its transaction
-- hash and log index in every partition (a hash index probe each), the node's replaces the
-- import's, and an import's is not stored where the node's is. Each search reads only the
-- blocks where the other kind of writer stored rows: store_batch widens the span of its kind
-- ('import', or 'node' for the node's logs) to each batch's blocks (an import's when it stored a
-- row, the node's when it had one), and a search finds nothing to do while the other kind's
-- span is absent: a database only the listener wrote to, or an import before the listener ever
-- ran, pays one lookup of this table per batch. One row per kind; a span only ever widens (a
-- rollback leaves it).
CREATE TABLE orderflow_writer_spans (
    source      TEXT    PRIMARY KEY CHECK (source IN ('import', 'node')),
    first_block BIGINT  NOT NULL,
    last_block  BIGINT  NOT NULL
);

-- Rows stored before this migration: who wrote them is not recorded, so both spans cover every
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
        INSERT INTO orderflow_writer_spans (source, first_block, last_block)
        VALUES ('import', lo, hi), ('node', lo, hi);
    END IF;
END $$;
