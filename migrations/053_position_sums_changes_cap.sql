-- A bound on the log of changed position sums (migration 030) when no reputation run takes it
-- (docs/reputation.md "The log of changed keys, bounded").
--
-- Why. Every statement that changes a (wallet, token) key's sums appends the key to
-- orderflow_position_sums_changes, and only a live reputation run takes the rows. The live
-- listener stores about one log row per stored fill row (it stores a block or two per batch):
-- on mainnet millions a day, ≈ 130 bytes each. With the reputation CronJob disabled or failing
-- for weeks, the log grew without bound — the disk filled, and the next run read every row
-- (1.8 s for 2 M rows of a few hundred keys) to rescore what a full run recomputes anyway.
--
-- Now. orderflow_position_sums_changes_cap(max_rows), called by the live listener every
-- hundred heads (orderflow.chain.pending_sums.CAP_CHANGES), drops the log once it holds more
-- than max_rows rows and marks the stored inputs of the last full run invalid instead: the next
-- run is a full one, which needs no log (the marker a TRUNCATE of the scores already sets,
-- migration 027). Nothing a writer does changes: the hot path pays nothing, and the check costs
-- one relation size while the file is small enough to hold no more than max_rows rows (a heap
-- page holds at most (block size - 24) / 28 tuples); past that, a count of at most
-- max_rows + 1 rows. It takes the reputation run's lock (orderflow.reputation.run.RUN_LOCK_KEY)
-- without waiting: while a run holds it, that run takes the log itself.

-- Take every logged change: the log's rows deleted, and the keys among them left without fills
-- (a reorg took them all) dropped: an empty key is a logged one, found from the log, not by a
-- scan of every key. A live full run (orderflow.reputation.incremental.clear) and the cap below.
CREATE FUNCTION orderflow_position_sums_changes_take() RETURNS BIGINT
LANGUAGE sql AS $$
WITH c AS (DELETE FROM orderflow_position_sums_changes RETURNING wallet_address, token_id),
d AS (
    DELETE FROM orderflow_position_sums s
     USING (SELECT DISTINCT wallet_address, token_id FROM c) k
     WHERE k.wallet_address = s.wallet_address AND k.token_id = s.token_id
       AND s.fills = 0
)
SELECT count(*) FROM c
$$;

CREATE FUNCTION orderflow_position_sums_changes_cap(max_rows BIGINT) RETURNS BIGINT
LANGUAGE plpgsql AS $$
DECLARE
    per_page CONSTANT BIGINT := (current_setting('block_size')::int - 24) / 28;
    pages BIGINT := pg_relation_size('orderflow_position_sums_changes')
                    / current_setting('block_size')::int;
BEGIN
    IF max_rows <= 0 OR pages * per_page <= max_rows THEN
        RETURN 0;
    END IF;
    -- a reputation run in progress takes the log itself (and the cap waits for nothing)
    IF NOT pg_try_advisory_xact_lock(8030591476723708021) THEN
        RETURN 0;
    END IF;
    IF (SELECT count(*) FROM (SELECT FROM orderflow_position_sums_changes
                               LIMIT max_rows + 1) AS l) <= max_rows THEN
        RETURN 0;
    END IF;
    UPDATE orderflow_reputation_state SET valid = FALSE, updated_at = now();
    RETURN orderflow_position_sums_changes_take();
END
$$;
