-- The four deferrable secondary indexes of orderflow_trades are per-partition indexes, left out
-- of a partition a bulk import starts empty and built when the import ends (issue 14; docs/
-- scaling.md "Deferred indexes", docs/listener.md "Storage").
--
-- wallet+time, token+time (migration 028's covering one), time and the self-match partial index
-- (032) were partitioned indexes: ATTACH PARTITION and CREATE TABLE … PARTITION OF give every
-- partition all of them, and an index attached to a partitioned one cannot be dropped alone. A
-- bulk import (listen --from-file, orderflow import, a long catch-up backfill) pays ≈ 4-6 µs of
-- backend CPU per log for them (docs/benchmarks.md "Deferred indexes"), where one sorted build at
-- the end costs ≈ 2. Here they become plain indexes of each partition, named <partition>_<suffix>:
--
--   * orderflow_trade_indexes_build(part): builds the missing ones of one partition, in the
--     caller's transaction (CREATE INDEX takes SHARE on that partition only: readers carry on,
--     its writers wait). All or nothing: a crash mid-build leaves the partition as it was.
--   * orderflow_ensure_partitions builds them on every partition it makes (empty: instant), so a
--     live writer's partition always has them.
--   * orderflow_trade_indexes_defer(blocks): a bulk import's batch, before it is stored: for each
--     trades partition of its blocks that is attached, EMPTY and indexed, the four are dropped
--     (the partition locked NOWAIT: anyone using it keeps them). Rows then arrive unindexed.
--   * orderflow_trade_indexes_missing(): the attached partitions lacking any: the import builds
--     them at its end, so does a listener's catch-up and `orderflow db partitions index`, and
--     `orderflow db partitions` lists them; a killed import leaves its partition unindexed
--     until one of those runs (readers see every committed row meanwhile: a query on that
--     partition scans it instead of using an index).
--
-- An index counts as present when one of the partition's indexes has the same definition,
-- whatever its name (a partition detached before this migration keeps its auto-named ones).
-- The primary key, the id index and the transaction index stay partitioned indexes: the store's
-- probes, the fold's id ranges, the match and fee-refund links and rollback use them on every
-- batch. So does a new small partial index of the fills whose token was unknown when stored
-- (market_id IS NULL), which the market back-fill of a newly registered token reads instead of
-- token+time: without it, each batch registering tokens would scan the unindexed partition.
--
-- Migration cost: each partition's four indexes are built once (≈ what migration 028 cost for
-- one of them); writers wait for the migration.

-- In the order the partitioned indexes were made (001, 028, 032): between two plans of equal
-- cost (a small partition) the order the indexes were made decides, and with the time index made
-- after the token index the counterparty region's read took every token's trades of its time
-- range instead of its tokens' (tests/reputation/test_wash_region_reads.py failed in CI).
CREATE FUNCTION orderflow_trade_index_defs()
RETURNS TABLE (suffix TEXT, ddl TEXT, printed TEXT)
LANGUAGE sql IMMUTABLE AS $$
    VALUES ('wallet_time', '(wallet_address, timestamp)',
            'btree (wallet_address, "timestamp")'),
           ('timestamp', '(timestamp)', 'btree ("timestamp")'),
           ('token_time', '(token_id, timestamp, log_index) INCLUDE (price, block_number)',
            'btree (token_id, "timestamp", log_index) INCLUDE (price, block_number)'),
           ('self_match', '(wallet_address) WHERE taker_address = wallet_address',
            'btree (wallet_address) WHERE ((taker_address)::text = (wallet_address)::text)')
$$;

-- The partition's indexes of one definition (pg_get_indexdef after "USING ").
CREATE FUNCTION orderflow_trade_index_oids(part regclass, want TEXT) RETURNS SETOF oid
LANGUAGE sql STABLE AS $$
    SELECT x.indexrelid FROM pg_index x
     WHERE x.indrelid = part
       AND substr(pg_get_indexdef(x.indexrelid),
                  strpos(pg_get_indexdef(x.indexrelid), ' USING ') + 7) = want
$$;

CREATE FUNCTION orderflow_trade_indexes_build(part regclass) RETURNS INTEGER
LANGUAGE plpgsql AS $$
DECLARE
    d     RECORD;
    built INTEGER := 0;
    name  TEXT := (SELECT relname FROM pg_class WHERE oid = part);
BEGIN
    FOR d IN SELECT * FROM orderflow_trade_index_defs() LOOP
        CONTINUE WHEN EXISTS (SELECT 1 FROM orderflow_trade_index_oids(part, d.printed));
        EXECUTE format('CREATE INDEX %I ON %s %s', name || '_' || d.suffix, part, d.ddl);
        built := built + 1;
    END LOOP;
    RETURN built;
END
$$;

CREATE FUNCTION orderflow_trade_indexes_missing() RETURNS SETOF regclass
LANGUAGE sql STABLE AS $$
    SELECT i.inhrelid::regclass FROM pg_inherits i
     WHERE i.inhparent = 'orderflow_trades'::regclass
       AND EXISTS (SELECT 1 FROM orderflow_trade_index_defs() d
                    WHERE NOT EXISTS (SELECT 1 FROM orderflow_trade_index_oids(i.inhrelid,
                                                                               d.printed)))
     ORDER BY i.inhrelid::regclass::text
$$;

-- Before a bulk batch: its partitions made (as orderflow_ensure_partitions_of does), then each
-- trades partition among them that is empty loses the deferrable indexes it has; returns how
-- many partitions it changed. Locked NOWAIT: a partition someone is reading or writing keeps
-- them (nothing is deferred there: the import is a plain one). A partition holding rows is never
-- changed, so after the first batch this is one probe of the partition's first heap page.
CREATE FUNCTION orderflow_trade_indexes_defer(blocks BIGINT[]) RETURNS INTEGER
LANGUAGE plpgsql AS $$
DECLARE
    span     CONSTANT BIGINT := orderflow_partition_blocks();
    n        BIGINT;
    part     regclass;
    has_rows BOOLEAN;
    x        oid;
    deferred INTEGER := 0;
BEGIN
    PERFORM orderflow_ensure_partitions_of(blocks);
    FOR n IN SELECT DISTINCT b / span FROM unnest(blocks) AS b WHERE b IS NOT NULL ORDER BY 1 LOOP
        part := to_regclass('orderflow_trades_p' || lpad(n::text, 4, '0'));
        CONTINUE WHEN part IS NULL;
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s)', part) INTO STRICT has_rows;
        CONTINUE WHEN has_rows;
        CONTINUE WHEN NOT EXISTS (SELECT 1 FROM orderflow_trade_index_defs() d,
                                       orderflow_trade_index_oids(part, d.printed));
        BEGIN
            EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE NOWAIT', part);
        EXCEPTION WHEN lock_not_available THEN
            CONTINUE;
        END;
        -- re-checked under the lock: a writer may have committed rows meanwhile
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s)', part) INTO STRICT has_rows;
        CONTINUE WHEN has_rows;
        FOR x IN SELECT o FROM orderflow_trade_index_defs() d,
                               orderflow_trade_index_oids(part, d.printed) AS o LOOP
            EXECUTE format('DROP INDEX %s', x::regclass);
        END LOOP;
        deferred := deferred + 1;
    END LOOP;
    RETURN deferred;
END
$$;

-- The market back-fill of a token registered after its fills (store_sql.BACKFILL_TRADE_MARKETS)
-- reads this, not token+time, which a partition being bulk-loaded lacks. Only fills whose token
-- was unknown when stored are in it.
CREATE INDEX orderflow_trades_unmapped ON orderflow_trades (token_id) WHERE market_id IS NULL;

-- The four become per-partition indexes: the partitioned ones dropped (with their partitions'),
-- then built on every attached partition.
DROP INDEX orderflow_trades_wallet_time;
DROP INDEX orderflow_trades_token_time;
DROP INDEX orderflow_trades_timestamp;
DROP INDEX orderflow_trades_self_match;
SELECT orderflow_trade_indexes_build(p) FROM orderflow_trade_indexes_missing() AS p;

-- orderflow_ensure_partitions of migration 018, building the four on each trades partition it
-- makes (an empty table: instant), so a partition a live writer makes is fully indexed.
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
                PERFORM orderflow_trade_indexes_build(to_regclass(part));
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
