-- Per-partition time and id ranges of orderflow_trades, so readers bounded by time or by id also
-- bound the block and PostgreSQL prunes partitions (issue 14 item 2; docs/scaling.md §3.4).
--
-- orderflow_trade_partition_ranges holds, for every attached partition of orderflow_trades, a
-- range covering its rows: min(timestamp), max(timestamp), max(id). It may be wider than the
-- rows (a reorg's rollback deletes rows and leaves it as it was), never narrower, in every
-- snapshot:
--   * a statement trigger (insert, update) widens the range of each partition the statement's
--     rows went to, in the writer's transaction: a snapshot that sees a row sees its range;
--   * orderflow_ensure_partitions (replaced below, otherwise unchanged) gives a partition it
--     makes an empty range in the same transaction ('infinity', '-infinity', 0);
--   * orderflow_trade_ranges_refresh() recomputes exact ranges (migration, `partitions attach`),
--     holding a SHARE lock on each partition so no write slips past it.
-- A row is keyed by the partition's oid (and names it, for people and for an oid reused by
-- another table, whose row the trigger then makes cover everything).
-- The readers' bounds are scalar subqueries over this table and pg_inherits, written once in
-- orderflow/chain/pruning.py (part of each reader's statement: planned and cached with it, and
-- evaluated in its snapshot): the lowest block a row with timestamp >= t, or with id > i, can be
-- in; the highest block a row with timestamp <= t can be in. An attached partition without a
-- range (attached by hand, or restored by pg_restore: new oids) makes them give no bound at all
-- until orderflow_trade_ranges_refresh() is run: never a wrong bound, only a missed pruning.
-- A history import writes old blocks with new ids: that partition's max(id) grows, so a cursor
-- reader (id > i) still reads it.
-- Out-of-order timestamps are safe: a partition is included when its own range says it may
-- hold a matching row, whatever its neighbours hold.

CREATE TABLE orderflow_trade_partition_ranges (
    relid       OID         PRIMARY KEY,   -- the partition (pg_class.oid)
    relname     NAME        NOT NULL,      -- its name when the row was written
    first_block BIGINT      NOT NULL,
    last_block  BIGINT      NOT NULL,
    min_ts      TIMESTAMPTZ NOT NULL,      -- 'infinity' while empty
    max_ts      TIMESTAMPTZ NOT NULL,      -- '-infinity' while empty
    max_id      BIGINT      NOT NULL       -- 0 while empty
);

-- The partition of orderflow_trades named for partition number n (migration 012's layout).
CREATE FUNCTION orderflow_trades_partition_name(n BIGINT) RETURNS TEXT
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$SELECT 'orderflow_trades_p' || lpad(n::text, 4, '0')$$;

-- Widen the ranges of the partitions a statement's rows went to (insert and update). A range
-- already covering them is not written (no row lock: an update of other columns, e.g. a market
-- id back-fill, stays lock-free here).
CREATE FUNCTION orderflow_trade_ranges_widen() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    span CONSTANT BIGINT := orderflow_partition_blocks();
BEGIN
    INSERT INTO orderflow_trade_partition_ranges AS r
           (relid, relname, first_block, last_block, min_ts, max_ts, max_id)
    SELECT c.oid, c.relname, g.n * span, (g.n + 1) * span - 1, g.min_ts, g.max_ts, g.max_id
      FROM (SELECT block_number / span AS n, min(timestamp) AS min_ts,
                   max(timestamp) AS max_ts, max(id) AS max_id
              FROM new_rows GROUP BY 1) g
      JOIN pg_class c ON c.oid = to_regclass(quote_ident(orderflow_trades_partition_name(g.n)))
     WHERE NOT EXISTS (SELECT 1 FROM orderflow_trade_partition_ranges x
                        WHERE x.relid = c.oid AND x.relname = c.relname
                          AND x.min_ts <= g.min_ts AND x.max_ts >= g.max_ts
                          AND x.max_id >= g.max_id)
     ORDER BY c.oid
    ON CONFLICT (relid) DO UPDATE SET
        -- same table: widen; an oid now naming another table: a range covering everything
        min_ts  = CASE WHEN r.relname = EXCLUDED.relname
                       THEN least(r.min_ts, EXCLUDED.min_ts) ELSE '-infinity' END,
        max_ts  = CASE WHEN r.relname = EXCLUDED.relname
                       THEN greatest(r.max_ts, EXCLUDED.max_ts) ELSE 'infinity' END,
        max_id  = CASE WHEN r.relname = EXCLUDED.relname
                       THEN greatest(r.max_id, EXCLUDED.max_id) ELSE 9223372036854775807 END,
        relname = EXCLUDED.relname,
        first_block = EXCLUDED.first_block,
        last_block  = EXCLUDED.last_block;
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

-- Exact ranges for the attached partitions of orderflow_trades (all, or the one named), from
-- their own indexes (timestamp, id: two endpoint probes each); rows of tables no longer attached
-- are forgotten. Each partition is SHARE-locked first (waits for its writers, blocks new ones
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
        INSERT INTO orderflow_trade_partition_ranges AS r
               (relid, relname, first_block, last_block, min_ts, max_ts, max_id)
        VALUES (p.oid, p.relname, n * span, (n + 1) * span - 1, coalesce(lo, 'infinity'),
                coalesce(hi, '-infinity'), coalesce(top, 0))
        ON CONFLICT (relid) DO UPDATE SET
            relname = EXCLUDED.relname, first_block = EXCLUDED.first_block,
            last_block = EXCLUDED.last_block, min_ts = EXCLUDED.min_ts,
            max_ts = EXCLUDED.max_ts, max_id = EXCLUDED.max_id;
        done := done + 1;
    END LOOP;
    RETURN done;
END
$$;

-- orderflow_ensure_partitions of migration 012, giving each orderflow_trades partition it makes
-- an empty range in the same transaction (the only change).
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
                SELECT c.oid, c.relname, n * span, (n + 1) * span - 1, 'infinity', '-infinity', 0
                  FROM pg_class c WHERE c.oid = to_regclass(part)
                ON CONFLICT (relid) DO UPDATE SET  -- a stale row of a reused oid
                    relname = EXCLUDED.relname, first_block = EXCLUDED.first_block,
                    last_block = EXCLUDED.last_block, min_ts = EXCLUDED.min_ts,
                    max_ts = EXCLUDED.max_ts, max_id = EXCLUDED.max_id;
            END IF;
            made := made + 1;
        END LOOP;
    END LOOP;
    RETURN made;
END
$$;

SELECT orderflow_trade_ranges_refresh();
