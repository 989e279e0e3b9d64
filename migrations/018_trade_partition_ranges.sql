-- Per-partition time and id ranges of orderflow_trades, so readers bounded by time or by id also
-- bound the block and PostgreSQL prunes partitions (issue 14 item 2; docs/scaling.md §3.4).
--
-- orderflow_trade_partition_ranges holds rows (relid = a partition, min_ts, max_ts, max_id); the
-- union of a partition's rows covers its rows' timestamps and ids. It may be wider than they
-- are (a reorg's rollback deletes rows and leaves it), never narrower, in every snapshot:
--   * a statement trigger (insert, update) appends, in the writer's transaction, a row for each
--     partition the statement's rows went to when they are not covered yet (rounded out: hour
--     boundaries, ids to the next multiple of 4096, so a listener appends about once an hour or
--     per 4096 fills): a snapshot that sees a row of orderflow_trades sees its cover. Appending
--     takes no lock a concurrent writer waits for (two writers into one partition never
--     serialise here: the executor's late-commit sweep still has late commits to find);
--   * past 8 rows for a partition, the trigger folds them into one: the rows it can lock at once
--     (FOR UPDATE SKIP LOCKED: it never waits) are deleted and their union inserted, in one
--     statement of the writer's transaction (a reader sees the rows before or after, never
--     neither);
--   * orderflow_ensure_partitions (replaced below, otherwise unchanged) gives a partition it
--     makes an empty row in the same transaction ('infinity', '-infinity', 0);
--   * orderflow_trade_ranges_refresh() replaces them with one exact row per partition
--     (migration, `orderflow db partitions attach`), holding a SHARE lock on each partition so no
--     write slips past it.
-- The readers' bounds are scalar subqueries over this table and pg_inherits, written once in
-- orderflow/chain/pruning.py (part of each reader's statement: planned and cached with it, and
-- evaluated in its snapshot): the lowest block a row with timestamp >= t, or with id > i, can be
-- in; the highest block a row with timestamp <= t can be in. An attached partition with no row
-- (attached by hand, or restored by pg_restore: new oids) makes them give no bound at all until
-- orderflow_trade_ranges_refresh() is run: never a wrong bound, only a missed pruning. Rows of an
-- oid reused by another table only widen its cover. (A table detached by hand keeps its rows
-- here: written to while detached and attached back by hand, it needs the refresh;
-- `orderflow db partitions detach` forgets them.)
-- A history import writes old blocks with new ids: that partition's max(id) grows, so a cursor
-- reader (id > i) still reads it. Out-of-order timestamps are safe: a partition is included
-- when its own cover says it may hold a matching row, whatever its neighbours hold.

CREATE TABLE orderflow_trade_partition_ranges (
    relid       OID         NOT NULL,      -- the partition (pg_class.oid)
    relname     NAME        NOT NULL,      -- its name when the row was written
    first_block BIGINT      NOT NULL,
    last_block  BIGINT      NOT NULL,
    min_ts      TIMESTAMPTZ NOT NULL,      -- 'infinity' for an empty partition
    max_ts      TIMESTAMPTZ NOT NULL,      -- '-infinity' for an empty partition
    max_id      BIGINT      NOT NULL       -- 0 for an empty partition
);
CREATE INDEX orderflow_trade_partition_ranges_relid ON orderflow_trade_partition_ranges (relid);

-- The partition of orderflow_trades named for partition number n (migration 012's layout).
CREATE FUNCTION orderflow_trades_partition_name(n BIGINT) RETURNS TEXT
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$SELECT 'orderflow_trades_p' || lpad(n::text, 4, '0')$$;

-- Cover rows of partition n (times lo..hi, ids up to top): append a row unless the partition's
-- rows cover them already; past 8 rows, fold those it can lock at once into one.
CREATE FUNCTION orderflow_trade_ranges_cover(n BIGINT, lo TIMESTAMPTZ, hi TIMESTAMPTZ, top BIGINT)
RETURNS VOID LANGUAGE plpgsql AS $$
DECLARE
    span  CONSTANT BIGINT := orderflow_partition_blocks();
    grain CONSTANT BIGINT := 4096;
    part  CONSTANT TEXT := orderflow_trades_partition_name(n);
    rel   OID;
BEGIN
    rel := to_regclass(quote_ident(part));
    IF rel IS NULL OR EXISTS (
           SELECT 1 FROM orderflow_trade_partition_ranges r
            WHERE r.relid = rel
           HAVING min(r.min_ts) <= lo AND max(r.max_ts) >= hi AND max(r.max_id) >= top) THEN
        RETURN;
    END IF;
    INSERT INTO orderflow_trade_partition_ranges
           (relid, relname, first_block, last_block, min_ts, max_ts, max_id)
    VALUES (rel, part, n * span, (n + 1) * span - 1, date_trunc('hour', lo),
            date_trunc('hour', hi) + interval '1 hour', (top / grain + 1) * grain);
    IF (SELECT count(*) FROM orderflow_trade_partition_ranges r WHERE r.relid = rel) > 8 THEN
        WITH folded AS (
            DELETE FROM orderflow_trade_partition_ranges r
             WHERE r.ctid = ANY(ARRAY(SELECT x.ctid FROM orderflow_trade_partition_ranges x
                                       WHERE x.relid = rel FOR UPDATE SKIP LOCKED))
            RETURNING r.*
        )
        INSERT INTO orderflow_trade_partition_ranges
               (relid, relname, first_block, last_block, min_ts, max_ts, max_id)
        SELECT relid, max(relname), min(first_block), max(last_block), min(min_ts), max(max_ts),
               max(max_id)
          FROM folded GROUP BY relid;
    END IF;
END
$$;

-- The statement trigger (insert, update): one pass over the rows when they are all in one
-- partition (a listener's batch), a grouped one otherwise.
CREATE FUNCTION orderflow_trade_ranges_widen() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    span CONSTANT BIGINT := orderflow_partition_blocks();
    blo  BIGINT;
    bhi  BIGINT;
    lo   TIMESTAMPTZ;
    hi   TIMESTAMPTZ;
    top  BIGINT;
    g    RECORD;
BEGIN
    SELECT min(block_number), max(block_number), min(timestamp), max(timestamp), max(id)
      INTO blo, bhi, lo, hi, top
      FROM new_rows;
    IF blo IS NULL THEN
        RETURN NULL;
    ELSIF blo / span = bhi / span THEN
        PERFORM orderflow_trade_ranges_cover(blo / span, lo, hi, top);
    ELSE
        FOR g IN SELECT block_number / span AS n, min(timestamp) AS lo, max(timestamp) AS hi,
                        max(id) AS top
                   FROM new_rows GROUP BY 1 ORDER BY 1
        LOOP
            PERFORM orderflow_trade_ranges_cover(g.n, g.lo, g.hi, g.top);
        END LOOP;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER orderflow_trades_ranges_insert
    AFTER INSERT ON orderflow_trades
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION orderflow_trade_ranges_widen();

CREATE TRIGGER orderflow_trades_ranges_update
    AFTER UPDATE ON orderflow_trades
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION orderflow_trade_ranges_widen();

-- One exact row for each attached partition of orderflow_trades (all, or the one named), from
-- its own indexes (timestamp, id: endpoint probes); rows of tables no longer attached are
-- forgotten. Each partition is SHARE-locked first (waits for its writers, blocks new ones
-- until the caller's commit), so no row is stored that the recomputed range misses.
CREATE FUNCTION orderflow_trade_ranges_refresh(only_part regclass DEFAULT NULL) RETURNS INTEGER
LANGUAGE plpgsql AS $$
DECLARE
    span CONSTANT BIGINT := orderflow_partition_blocks();
    p    RECORD;
    n    BIGINT;
    lo   TIMESTAMPTZ;
    hi   TIMESTAMPTZ;
    top  BIGINT;
    done INTEGER := 0;
BEGIN
    IF only_part IS NULL THEN
        DELETE FROM orderflow_trade_partition_ranges r
         WHERE NOT EXISTS (SELECT 1 FROM pg_inherits i
                            WHERE i.inhrelid = r.relid
                              AND i.inhparent = 'orderflow_trades'::regclass);
    END IF;
    FOR p IN SELECT c.oid, c.relname
               FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
              WHERE i.inhparent = 'orderflow_trades'::regclass
                AND (only_part IS NULL OR c.oid = only_part)
              ORDER BY c.oid
    LOOP
        n := substring(p.relname from '^orderflow_trades_p([0-9]+)$')::bigint;
        CONTINUE WHEN n IS NULL;  -- not of migration 012's layout: no range, no bound
        EXECUTE format('LOCK TABLE %I IN SHARE MODE', p.relname);
        EXECUTE format('SELECT min(timestamp), max(timestamp), max(id) FROM %I', p.relname)
           INTO lo, hi, top;
        DELETE FROM orderflow_trade_partition_ranges WHERE relid = p.oid;
        INSERT INTO orderflow_trade_partition_ranges
               (relid, relname, first_block, last_block, min_ts, max_ts, max_id)
        VALUES (p.oid, p.relname, n * span, (n + 1) * span - 1, coalesce(lo, 'infinity'),
                coalesce(hi, '-infinity'), coalesce(top, 0));
        done := done + 1;
    END LOOP;
    RETURN done;
END
$$;

-- orderflow_ensure_partitions of migration 012, giving each orderflow_trades partition it makes
-- an empty row in the same transaction (the only change).
CREATE OR REPLACE FUNCTION orderflow_ensure_partitions(lo BIGINT, hi BIGINT) RETURNS INTEGER
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
            IF tbl = 'orderflow_trades' THEN
                INSERT INTO orderflow_trade_partition_ranges
                       (relid, relname, first_block, last_block, min_ts, max_ts, max_id)
                VALUES (to_regclass(part)::oid, part, n * span, (n + 1) * span - 1, 'infinity',
                        '-infinity', 0);
            END IF;
            made := made + 1;
        END LOOP;
    END LOOP;
    RETURN made;
END
$$;

SELECT orderflow_trade_ranges_refresh();
