-- Every change log a reputation run takes has a bound, and reaching it costs the listener nothing
-- and the next run no more than a switched full run (docs/reputation.md "The change logs,
-- bounded"). Replaces migration 053's orderflow_position_sums_changes_cap.
--
-- Why. (1) 053 bounded only the log of changed sums. The other marks a run takes -- markets and
-- tokens (migration 011's triggers on resolutions, conditions and the token registry), the
-- wallet rows written by others (027), the trades WASH reads deleted or updated (023's
-- orderflow_wash_dirty: reorgs, refunds, back-filled market ids) -- are append-only since 030
-- and, with no run taking them, grew with every resolution, new market, reorg and refund
-- (tests/reputation/test_change_log_cap.py::test_every_change_log_is_bounded). (2) 053 deleted
-- the log's rows (and the keys they left without fills) in the listener's head handler: 1.3 s at
-- 2 M rows, ≈ 6.5 s at the default bound of 10 M, during which no block was stored. (3) It marked
-- the stored inputs invalid, so the next run was a full one that left the counterparty cells
-- stale, and the run after it rebuilt them (≈ 3 x WASH) instead of updating them.
--
-- Now. orderflow_reputation_changes_cap(max_rows) checks each log as 053 checked one (a relation
-- size while its file is too small to hold more than max_rows rows, then a count of at most
-- max_rows + 1 rows, the reputation run's lock taken without waiting). When any log holds more,
-- it records the overflow (orderflow_reputation_state.overflowed) and TRUNCATEs every log: a
-- constant time whatever their size, their locks taken without waiting (a writer's batch in
-- flight: nothing is dropped, the next check tries again) and held for the truncation alone.
-- The stored inputs stay valid: the next live run sees the overflow and switches to a full
-- recompute as it does for a large change, which builds the counterparty cells
-- (orderflow.reputation.run), and drops the keys left without fills, which no log names any
-- more, by a scan of the sums (orderflow.reputation.incremental.clear). The listener calls it
-- from a task of its own, off the head handler (orderflow.chain.live).

ALTER TABLE orderflow_reputation_state ADD COLUMN overflowed BOOLEAN NOT NULL DEFAULT FALSE;

DROP FUNCTION orderflow_position_sums_changes_cap(BIGINT);

-- The names of the logs found past max_rows rows (every log then truncated); empty: none, or a
-- run in progress (it takes them). Raises lock_not_available (nothing done) when writers held
-- the logs at every attempt for a second.
CREATE FUNCTION orderflow_reputation_changes_cap(max_rows BIGINT) RETURNS TEXT[]
LANGUAGE plpgsql AS $$
DECLARE
    block CONSTANT BIGINT := current_setting('block_size')::int;
    per_page CONSTANT BIGINT := (block - 24) / 28;  -- the most tuples a heap page holds
    logs CONSTANT TEXT[] := ARRAY[
        'orderflow_position_sums_changes', 'orderflow_reputation_dirty_markets',
        'orderflow_reputation_dirty_tokens', 'orderflow_reputation_touched',
        'orderflow_wash_dirty'];
    candidates TEXT[];
    over TEXT[] := '{}';
    t TEXT;
    past BOOLEAN;
    attempt INT;
BEGIN
    IF max_rows <= 0 THEN
        RETURN over;
    END IF;
    candidates := ARRAY(SELECT l FROM unnest(logs) AS l
                         WHERE pg_relation_size(l::regclass) / block * per_page > max_rows);
    IF cardinality(candidates) = 0 THEN
        RETURN over;
    END IF;
    -- a reputation run in progress takes the logs itself (and the cap waits for nothing)
    IF NOT pg_try_advisory_xact_lock(8030591476723708021) THEN
        RETURN over;
    END IF;
    FOREACH t IN ARRAY candidates LOOP
        EXECUTE format('SELECT count(*) > $1 FROM (SELECT FROM %I LIMIT $1 + 1) AS l', t)
           INTO past USING max_rows;
        IF past THEN
            over := over || t;
        END IF;
    END LOOP;
    IF cardinality(over) = 0 THEN
        RETURN over;
    END IF;
    INSERT INTO orderflow_reputation_state (id, valid, overflowed, updated_at)
    VALUES (TRUE, FALSE, TRUE, now())
    ON CONFLICT (id) DO UPDATE SET overflowed = TRUE, updated_at = now();
    -- the logs' locks taken without waiting (a writer never queues behind the truncation), tried
    -- again between the writers' batches (each appends in milliseconds) for up to a second
    FOR attempt IN 1..100 LOOP
        BEGIN
            LOCK TABLE orderflow_position_sums_changes, orderflow_reputation_dirty_markets,
                       orderflow_reputation_dirty_tokens, orderflow_reputation_touched,
                       orderflow_wash_dirty
                IN ACCESS EXCLUSIVE MODE NOWAIT;
            TRUNCATE orderflow_position_sums_changes, orderflow_reputation_dirty_markets,
                     orderflow_reputation_dirty_tokens, orderflow_reputation_touched,
                     orderflow_wash_dirty;
            RETURN over;
        EXCEPTION WHEN lock_not_available THEN
            PERFORM pg_sleep(0.01);
        END;
    END LOOP;
    RAISE lock_not_available USING MESSAGE = 'the change logs stayed busy: not dropped';
END
$$;
