-- The partitions of orderflow_trades the counterparty evidence's cells count (migration 023;
-- orderflow.reputation.wash_parts), kept apart from the fingerprint so that a partition the
-- listener makes for a new block range (orderflow_ensure_partitions) does not force a rebuild.
--
-- Each element is a partition attached when the cells' last_id was taken: 'oid relname'. The next
-- incremental run updates the cells only when every one is still attached (same oid) and every
-- partition attached since holds no row with an id up to last_id (its rows are new fills, found
-- by id); otherwise it rebuilds them. NULL (cells built before this migration, whose fingerprint
-- hashed the list instead): rebuilt by the next run.

ALTER TABLE orderflow_wash_state ADD COLUMN partitions TEXT[];
