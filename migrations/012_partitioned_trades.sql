-- orderflow_trades and orderflow_matches partitioned by block range (issue 14, item 2;
-- docs/scaling.md §3.1, §3.4).
--
-- Layout
--   PARTITION BY RANGE (block_number), one partition per 1,296,000 blocks (30 days of Polygon's
--   2-second blocks), named <table>_p<n> for blocks [n * 1296000, (n + 1) * 1296000), n
--   zero-padded to 4 digits (orderflow_trades_p0061 holds blocks 79,056,000 to 80,351,999). A
--   block's trades and matches sit in partitions of the same number, made and detached together.
--   Primary key (chain_id, block_number, log_index): on a canonical chain a log's (block, log
--   index) and (tx hash, log index) name the same log (log indexes count per block, and every
--   writer – listener, file import, history import – stores the chain's own log index); a
--   reorg's rollback deletes from the fork height up before the new branch is stored. A
--   partitioned table's unique constraint must contain the partition key, which the old key
--   (chain_id, tx_hash, log_index) did not. (tx hash, log index) stays the public identity,
--   served by the non-unique index <table>_tx (chain_id, tx_hash, log_index).
--   orderflow_trades.id keeps its identity sequence (continuing where it was: the executor's
--   cursors are ids) and is indexed non-uniquely (orderflow_trades_id): ids still come from one
--   sequence only.
--
-- Partitions exist before rows arrive: orderflow_ensure_partitions(lo, hi) creates the missing
-- partitions of both tables for a block range, idempotently and safely under concurrent callers
-- (an advisory lock, re-checked), each as a plain table then ATTACH PARTITION, which takes only a
-- SHARE UPDATE EXCLUSIVE lock on the parent (readers and writers carry on). The store calls it
-- before each batch (orderflow/chain/partitions.py). There is no default partition: attaching a
-- range later would have to scan it. Partition 0 (blocks 0 to 1,295,999) always exists, for
-- development chains (anvil) and test fixtures that insert rows directly; on Polygon it stays
-- empty.
--
-- The existing rows are copied (INSERT … SELECT into the new table, then the old one is
-- dropped): same columns in the same order, types, defaults, CHECKs. Indexes (except the old
-- primary key, constraint-backed ones such as the unique id, and <table>_block (chain_id,
-- block_number), a prefix of the new key) and triggers of the old table are re-created on the
-- new one generically, from pg_index / pg_trigger, so whatever earlier migrations defined (the
-- wallet-stats and NOTIFY statement triggers with transition tables, which PostgreSQL allows on
-- a partitioned parent: their transition table holds the rows of every partition) carries
-- over. A view or foreign key on an old table stops the migration with a message (none exists
-- when this was written).

LOCK TABLE orderflow_trades, orderflow_matches IN ACCESS EXCLUSIVE MODE;

-- The partition span, in one place (orderflow/chain/partitions.py reads it from here).
CREATE FUNCTION orderflow_partition_blocks() RETURNS BIGINT
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT 1296000::bigint';

-- The block-partitioned tables, in the order their partitions are made.
CREATE FUNCTION orderflow_partitioned_tables() RETURNS TEXT[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$SELECT ARRAY['orderflow_trades', 'orderflow_matches']$$;

-- Creates (and attaches) the partitions covering blocks lo..hi that do not exist yet, for every
-- table of orderflow_partitioned_tables() that is partitioned; returns how many it created.
-- Cheap when they all exist (one catalog probe per table and partition spanned).
CREATE FUNCTION orderflow_ensure_partitions(lo BIGINT, hi BIGINT) RETURNS INTEGER
LANGUAGE plpgsql AS $$
DECLARE
    span   CONSTANT BIGINT := orderflow_partition_blocks();
    n      BIGINT;
    tbl    TEXT;
    parent regclass;
    part   TEXT;
    made   INTEGER := 0;
    locked BOOLEAN := false;
BEGIN
    IF lo IS NULL OR hi IS NULL THEN
        RETURN 0;
    END IF;
    IF lo < 0 OR hi < lo THEN
        RAISE EXCEPTION 'orderflow_ensure_partitions: bad block range % to %', lo, hi;
    END IF;
    FOR n IN lo / span .. hi / span LOOP
        FOREACH tbl IN ARRAY orderflow_partitioned_tables() LOOP
            parent := to_regclass(tbl);
            CONTINUE WHEN parent IS NULL
                OR (SELECT relkind FROM pg_class WHERE oid = parent) <> 'p';
            part := tbl || '_p' || lpad(n::text, 4, '0');
            CONTINUE WHEN EXISTS (SELECT 1 FROM pg_inherits
                                   WHERE inhparent = parent AND inhrelid = to_regclass(part));
            IF NOT locked THEN
                -- one creator at a time (key: b"ordfpart"); held to the end of the caller's
                -- transaction, so a second caller re-checks after the first one's commit
                PERFORM pg_advisory_xact_lock(8030591476689891956);
                locked := true;
                CONTINUE WHEN EXISTS (SELECT 1 FROM pg_inherits
                                       WHERE inhparent = parent AND inhrelid = to_regclass(part));
            END IF;
            IF to_regclass(part) IS NOT NULL THEN
                RAISE EXCEPTION 'blocks % to % belong to partition %, which exists but is not attached to %',
                    n * span, (n + 1) * span - 1, part, tbl
                    USING HINT = 'it was detached for archiving: re-attach it (orderflow db partitions attach '
                                 || n || ') or drop it before storing logs of those blocks';
            END IF;
            EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                           part, tbl);
            EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%s) TO (%s)',
                           tbl, part, n * span, (n + 1) * span);
            made := made + 1;
        END LOOP;
    END LOOP;
    RETURN made;
END
$$;

-- The conversion of one table, used for both below and then dropped.
CREATE FUNCTION orderflow_partition_by_block(tbl TEXT) RETURNS VOID
LANGUAGE plpgsql AS $$
DECLARE
    old_name CONSTANT TEXT := tbl || '_unpartitioned';
    nsp      CONSTANT TEXT := (SELECT n.nspname FROM pg_class c
                                 JOIN pg_namespace n ON n.oid = c.relnamespace
                                WHERE c.oid = to_regclass(tbl));
    old_on   CONSTANT TEXT := format(' ON %I.%I ', nsp, old_name);
    new_on   CONSTANT TEXT := format(' ON %I.%I ', nsp, tbl);
    deps     TEXT;
    dup      RECORD;
    old      regclass;
    indexes  TEXT[];
    triggers TEXT[];
    disabled TEXT[];
    seq      TEXT;
    def      TEXT;
    lo       BIGINT;
    hi       BIGINT;
    last     BIGINT;
    called   BOOLEAN;
BEGIN
    SELECT string_agg(pg_describe_object(d.classid, d.objid, d.objsubid), ', ')
      INTO deps
      FROM pg_depend d
     WHERE d.refobjid = to_regclass(tbl)
       AND d.deptype = 'n'
       AND (d.classid = 'pg_rewrite'::regclass
            OR EXISTS (SELECT 1 FROM pg_constraint c
                        WHERE d.classid = 'pg_constraint'::regclass
                          AND c.oid = d.objid AND c.contype = 'f'));
    IF deps IS NOT NULL THEN
        RAISE EXCEPTION 'migration 012 cannot carry these over to the partitioned %: %', tbl, deps
            USING HINT = 'drop them before migrating and re-create them afterwards';
    END IF;
    EXECUTE format('SELECT chain_id, block_number, log_index, count(*) AS n FROM %I'
                   ' GROUP BY 1, 2, 3 HAVING count(*) > 1 LIMIT 1', tbl) INTO dup;
    IF dup.n IS NOT NULL THEN
        RAISE EXCEPTION '% holds % rows for chain %, block %, log index %: the new identity (chain, block, log index) needs one',
            tbl, dup.n, dup.chain_id, dup.block_number, dup.log_index
            USING HINT = 'these rows are not logs of one canonical chain; remove the stale ones (orderflow listen rolls back reorged blocks) and migrate again';
    END IF;

    EXECUTE format('ALTER TABLE %I RENAME TO %I', tbl, old_name);
    old := to_regclass(old_name);
    EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS'
                   ' INCLUDING IDENTITY INCLUDING GENERATED INCLUDING COMMENTS INCLUDING STORAGE'
                   ' INCLUDING COMPRESSION) PARTITION BY RANGE (block_number)', tbl, old_name);
    EXECUTE format('SELECT min(block_number), max(block_number) FROM %I', old_name) INTO lo, hi;
    PERFORM orderflow_ensure_partitions(0, 0);
    PERFORM orderflow_ensure_partitions(lo, hi);
    -- No trigger on the new table yet: the copied rows are not new (no NOTIFY, no counters).
    EXECUTE format('INSERT INTO %I OVERRIDING SYSTEM VALUE SELECT * FROM %I', tbl, old_name);

    -- An identity continues exactly where it was (not at max(id): ids of rolled-back rows are
    -- never handed out again, so an executor's cursor never skips a new trade).
    IF EXISTS (SELECT 1 FROM pg_attribute
                WHERE attrelid = old AND attname = 'id' AND NOT attisdropped) THEN
        seq := pg_get_serial_sequence(old_name, 'id');
    END IF;
    IF seq IS NOT NULL THEN
        EXECUTE format('SELECT last_value, is_called FROM %s', seq) INTO last, called;
        PERFORM setval(pg_get_serial_sequence(tbl, 'id'), last, called);
    END IF;

    -- secondary indexes: not the ones behind constraints (old key, unique id), and not
    -- <table>_block (chain_id, block_number), a prefix of the new primary key
    SELECT coalesce(array_agg(pg_get_indexdef(i.indexrelid) ORDER BY i.indexrelid), '{}')
      INTO indexes
      FROM pg_index i
     WHERE i.indrelid = old
       AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
       AND i.indexrelid::regclass::text <> tbl || '_block';
    SELECT coalesce(array_agg(pg_get_triggerdef(t.oid) ORDER BY t.tgname), '{}'),
           coalesce(array_agg(t.tgname::text ORDER BY t.tgname)
                        FILTER (WHERE t.tgenabled = 'D'), '{}')
      INTO triggers, disabled
      FROM pg_trigger t
     WHERE t.tgrelid = old AND NOT t.tgisinternal;

    EXECUTE format('DROP TABLE %I', old_name);  -- frees the index, constraint, sequence names
    IF seq IS NOT NULL AND to_regclass(tbl || '_id_seq') IS NULL THEN
        EXECUTE format('ALTER SEQUENCE %s RENAME TO %I', pg_get_serial_sequence(tbl, 'id'),
                       tbl || '_id_seq');
    END IF;

    EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I PRIMARY KEY (chain_id, block_number, log_index)',
                   tbl, tbl || '_pkey');
    EXECUTE format('CREATE INDEX %I ON %I (chain_id, tx_hash, log_index)', tbl || '_tx', tbl);
    IF seq IS NOT NULL THEN
        EXECUTE format('CREATE INDEX %I ON %I (id)', tbl || '_id', tbl);
    END IF;
    FOREACH def IN ARRAY indexes || triggers LOOP
        IF position(old_on IN def) = 0 THEN
            RAISE EXCEPTION 'migration 012: cannot re-target definition %', def;
        END IF;
        EXECUTE replace(def, old_on, new_on);
    END LOOP;
    FOREACH def IN ARRAY disabled LOOP
        EXECUTE format('ALTER TABLE %I DISABLE TRIGGER %I', tbl, def);
    END LOOP;
END
$$;

SELECT orderflow_partition_by_block('orderflow_trades');
SELECT orderflow_partition_by_block('orderflow_matches');
DROP FUNCTION orderflow_partition_by_block(TEXT);

ANALYZE orderflow_trades, orderflow_matches;
