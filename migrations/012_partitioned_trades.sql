-- orderflow_trades partitioned by block range (issue 14, item 2; docs/scaling.md §3.1, §3.4).
--
-- Layout
--   PARTITION BY RANGE (block_number), one partition per 1,296,000 blocks (30 days of Polygon's
--   2-second blocks), named orderflow_trades_p<n> for blocks [n * 1296000, (n + 1) * 1296000),
--   n zero-padded to 4 digits (p0061 holds blocks 79,056,000 to 80,351,999).
--   Primary key (chain_id, block_number, log_index): on a canonical chain a log's (block, log
--   index) and (tx hash, log index) name the same log (log indexes count per block, and every
--   writer – listener, file import, history import – stores the chain's own log index); a
--   reorg's rollback deletes from the fork height up before the new branch is stored. A
--   partitioned table's unique constraint must contain the partition key, which the old key
--   (chain_id, tx_hash, log_index) did not. (tx hash, log index) stays the public identity,
--   served by the non-unique index orderflow_trades_tx.
--   id keeps its identity sequence (continuing where it was: the executor's cursors are ids)
--   and is indexed non-uniquely (orderflow_trades_id): ids still come from one sequence only.
--
-- Partitions exist before rows arrive: orderflow_trades_ensure_partitions(lo, hi) creates the
-- missing partitions for a block range, idempotently and safely under concurrent callers (an
-- advisory lock, re-checked), as a plain table then ATTACH PARTITION, which takes only a SHARE
-- UPDATE EXCLUSIVE lock on orderflow_trades (readers and writers carry on). The store calls it
-- before each batch (orderflow/chain/partitions.py). There is no default partition: attaching
-- a range later would have to scan it. Partition 0 (blocks 0 to 1,295,999) always exists, for
-- development chains (anvil) and test fixtures that insert rows directly; on Polygon it stays
-- empty.
--
-- The existing rows are copied (INSERT … SELECT into the new table, then the old one is
-- dropped): same columns in the same order, types, defaults, CHECKs. Indexes (except the old
-- primary key, the unique id constraint and (chain_id, block_number), which the new primary
-- key serves) and triggers of the old table are re-created on the new one generically, from
-- pg_index / pg_trigger, so whatever earlier migrations defined (the wallet-stats and NOTIFY
-- statement triggers with transition tables, which PostgreSQL allows on a partitioned parent:
-- their transition table holds the rows of every partition) carries over. A view or foreign
-- key on the old table stops the migration with a message (none exists when this was written).

LOCK TABLE orderflow_trades IN ACCESS EXCLUSIVE MODE;

DO $$
DECLARE
    deps TEXT;
    dup  RECORD;
BEGIN
    SELECT string_agg(pg_describe_object(d.classid, d.objid, d.objsubid), ', ')
      INTO deps
      FROM pg_depend d
     WHERE d.refobjid = 'orderflow_trades'::regclass
       AND d.deptype = 'n'
       AND (d.classid = 'pg_rewrite'::regclass
            OR EXISTS (SELECT 1 FROM pg_constraint c
                        WHERE d.classid = 'pg_constraint'::regclass
                          AND c.oid = d.objid AND c.contype = 'f'));
    IF deps IS NOT NULL THEN
        RAISE EXCEPTION 'migration 012 cannot carry these over to the partitioned orderflow_trades: %', deps
            USING HINT = 'drop them before migrating and re-create them afterwards';
    END IF;
    SELECT chain_id, block_number, log_index, count(*) AS n INTO dup
      FROM orderflow_trades GROUP BY 1, 2, 3 HAVING count(*) > 1 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'orderflow_trades holds % rows for chain %, block %, log index %: the new identity (chain, block, log index) needs one',
            dup.n, dup.chain_id, dup.block_number, dup.log_index
            USING HINT = 'these rows are not logs of one canonical chain; remove the stale ones (orderflow listen rolls back reorged blocks) and migrate again';
    END IF;
END
$$;

ALTER TABLE orderflow_trades RENAME TO orderflow_trades_unpartitioned;

CREATE TABLE orderflow_trades (
    LIKE orderflow_trades_unpartitioned
        INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY INCLUDING GENERATED
        INCLUDING COMMENTS INCLUDING STORAGE INCLUDING COMPRESSION
) PARTITION BY RANGE (block_number);

-- The partition span, in one place (orderflow/chain/partitions.py reads it from here).
CREATE FUNCTION orderflow_trades_partition_blocks() RETURNS BIGINT
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT 1296000::bigint';

-- Creates (and attaches) the partitions covering blocks lo..hi that do not exist yet; returns
-- how many it created. Cheap when they all exist (one catalog probe per partition spanned).
CREATE FUNCTION orderflow_trades_ensure_partitions(lo BIGINT, hi BIGINT) RETURNS INTEGER
LANGUAGE plpgsql AS $$
DECLARE
    span   CONSTANT BIGINT := orderflow_trades_partition_blocks();
    parent CONSTANT regclass := 'orderflow_trades'::regclass;
    n      BIGINT;
    part   TEXT;
    made   INTEGER := 0;
    locked BOOLEAN := false;
BEGIN
    IF lo IS NULL OR hi IS NULL THEN
        RETURN 0;
    END IF;
    IF lo < 0 OR hi < lo THEN
        RAISE EXCEPTION 'orderflow_trades_ensure_partitions: bad block range % to %', lo, hi;
    END IF;
    FOR n IN lo / span .. hi / span LOOP
        part := 'orderflow_trades_p' || lpad(n::text, 4, '0');
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
            RAISE EXCEPTION 'blocks % to % belong to partition %, which exists but is not attached to orderflow_trades',
                n * span, (n + 1) * span - 1, part
                USING HINT = 'it was detached for archiving: re-attach it (orderflow db partitions attach '
                             || part || ') or drop it before storing trades of those blocks';
        END IF;
        EXECUTE format('CREATE TABLE %I (LIKE orderflow_trades INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
        EXECUTE format('ALTER TABLE orderflow_trades ATTACH PARTITION %I FOR VALUES FROM (%s) TO (%s)',
                       part, n * span, (n + 1) * span);
        made := made + 1;
    END LOOP;
    RETURN made;
END
$$;

SELECT orderflow_trades_ensure_partitions(0, 0);
SELECT orderflow_trades_ensure_partitions(min(block_number), max(block_number))
  FROM orderflow_trades_unpartitioned;

-- No trigger on the new table yet: the copied rows are not new trades (no NOTIFY, no counters).
INSERT INTO orderflow_trades OVERRIDING SYSTEM VALUE
SELECT * FROM orderflow_trades_unpartitioned;

DO $$
DECLARE
    old     CONSTANT regclass := 'orderflow_trades_unpartitioned'::regclass;
    old_on  CONSTANT TEXT := (SELECT format(' ON %I.%I ', n.nspname, c.relname)
                                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                               WHERE c.oid = 'orderflow_trades_unpartitioned'::regclass);
    new_on  CONSTANT TEXT := (SELECT format(' ON %I.orderflow_trades ', n.nspname)
                                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                               WHERE c.oid = 'orderflow_trades_unpartitioned'::regclass);
    indexes TEXT[];
    triggers TEXT[];
    disabled TEXT[];
    seq     TEXT;
    def     TEXT;
    last    BIGINT;
    called  BOOLEAN;
BEGIN
    -- The identity continues exactly where it was (not at max(id): ids of rolled-back rows are
    -- never handed out again, so an executor's cursor never skips a new trade).
    EXECUTE format('SELECT last_value, is_called FROM %s',
                   pg_get_serial_sequence('orderflow_trades_unpartitioned', 'id'))
       INTO last, called;
    PERFORM setval(pg_get_serial_sequence('orderflow_trades', 'id'), last, called);

    -- secondary indexes: not the ones behind constraints (old key, unique id), and not
    -- (chain_id, block_number), a prefix of the new primary key
    SELECT coalesce(array_agg(pg_get_indexdef(i.indexrelid) ORDER BY i.indexrelid), '{}')
      INTO indexes
      FROM pg_index i
     WHERE i.indrelid = old
       AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
       AND i.indexrelid::regclass::text <> 'orderflow_trades_block';
    SELECT coalesce(array_agg(pg_get_triggerdef(t.oid) ORDER BY t.tgname), '{}'),
           coalesce(array_agg(t.tgname::text ORDER BY t.tgname)
                        FILTER (WHERE t.tgenabled = 'D'), '{}')
      INTO triggers, disabled
      FROM pg_trigger t
     WHERE t.tgrelid = old AND NOT t.tgisinternal;

    DROP TABLE orderflow_trades_unpartitioned;  -- frees the index, constraint, sequence names
    seq := pg_get_serial_sequence('orderflow_trades', 'id');
    IF to_regclass('orderflow_trades_id_seq') IS NULL THEN
        EXECUTE format('ALTER SEQUENCE %s RENAME TO orderflow_trades_id_seq', seq);
    END IF;

    ALTER TABLE orderflow_trades
        ADD CONSTRAINT orderflow_trades_pkey PRIMARY KEY (chain_id, block_number, log_index);
    CREATE INDEX orderflow_trades_id ON orderflow_trades (id);
    CREATE INDEX orderflow_trades_tx ON orderflow_trades (chain_id, tx_hash, log_index);
    FOREACH def IN ARRAY indexes LOOP
        IF position(old_on IN def) = 0 THEN
            RAISE EXCEPTION 'migration 012: cannot re-target index definition %', def;
        END IF;
        EXECUTE replace(def, old_on, new_on);
    END LOOP;
    FOREACH def IN ARRAY triggers LOOP
        IF position(old_on IN def) = 0 THEN
            RAISE EXCEPTION 'migration 012: cannot re-target trigger definition %', def;
        END IF;
        EXECUTE replace(def, old_on, new_on);
    END LOOP;
    FOREACH def IN ARRAY disabled LOOP
        EXECUTE format('ALTER TABLE orderflow_trades DISABLE TRIGGER %I', def);
    END LOOP;
END
$$;

ANALYZE orderflow_trades;
