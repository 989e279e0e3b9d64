-- Dead letters by where in a file they come from (source_file, source_line; migration 038): a
-- re-import takes over the dead letter a Parquet row or a JSON-array element got before 038 by
-- these (orderflow.chain.store_sql.MERGE_PRE_038_DEAD_LETTERS, one index probe per such bad
-- row), and docs/history.md finds a file's bad rows with
-- `WHERE source_file = … ORDER BY source_line`. Without it both read every dead letter. A
-- node's logs (source_file NULL) are not in it.
CREATE INDEX orderflow_dead_letters_source
    ON orderflow_dead_letters (source_file, source_line) WHERE source_file IS NOT NULL;
