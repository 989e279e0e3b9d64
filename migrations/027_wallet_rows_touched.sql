-- An incremental reputation run compares the scores it computes with the stored rows' copies it
-- keeps beside its inputs (orderflow_reputation_inputs: stored_score, stored_tier, stored_flags,
-- set after each run's upsert) instead of reading every row of orderflow_wallet_stats. A score,
-- tier or flags written by anything else (by hand, a partial restore) is recorded here, so the
-- next incremental run gives that wallet's row to the upsert and mends it, as a full run would.
-- A run marks its own writes with SET LOCAL orderflow.reputation_writer = 'on'. The ingest
-- path's counters never set these columns, so the trigger does not fire for them.
CREATE TABLE orderflow_reputation_touched (
    wallet_address TEXT PRIMARY KEY
);

CREATE FUNCTION orderflow_wallet_stats_touched() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('orderflow.reputation_writer', true), '') = 'on' THEN
        RETURN NULL;
    END IF;
    INSERT INTO orderflow_reputation_touched (wallet_address)
    VALUES (OLD.wallet_address) ON CONFLICT DO NOTHING;
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO orderflow_reputation_touched (wallet_address)
        VALUES (NEW.wallet_address) ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER orderflow_wallet_stats_touched
AFTER UPDATE OF wallet_address, reputation_score, trader_tier, flags OR DELETE
ON orderflow_wallet_stats
FOR EACH ROW EXECUTE FUNCTION orderflow_wallet_stats_touched();

-- Every row gone at once: the stored copies are no longer the rows; the next run is a full one.
CREATE FUNCTION orderflow_wallet_stats_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('orderflow.reputation_writer', true), '') <> 'on' THEN
        UPDATE orderflow_reputation_state SET valid = FALSE, updated_at = now();
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER orderflow_wallet_stats_truncated
AFTER TRUNCATE ON orderflow_wallet_stats
FOR EACH STATEMENT EXECUTE FUNCTION orderflow_wallet_stats_truncated();
