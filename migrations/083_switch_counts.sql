-- Every kill and pause of a strategy counted in its row, so that a switch turned on and off
-- again while the executor's trading loop was busy still stops the orders decided before it
-- (docs/executor.md "Idempotent orders"). The executor counted kills and pauses in memory only,
-- when its loop read the row while the switch was on, and its last check before sending read the
-- switch as it is now: a kill (or a pause) written and lifted while the loop was busy with a
-- large batch, or waiting on a full order queue, left no trace, and every order queued before it
-- went out (tests/execution/test_switch_lifted_unseen.py: 3 sent where 1 was on its way).
--
-- kills: how many times killed turned on or the row was deleted (deleted_at set); halts: how
-- many times paused turned on. A trigger keeps both: written by nothing else (an UPDATE that sets
-- them is overruled), they only grow. The executor keeps, with each decision, the counts its
-- registry last read, and refuses the order before sending when the row's have moved since.
ALTER TABLE orderflow_strategies
    ADD COLUMN kills BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN halts BIGINT NOT NULL DEFAULT 0;

CREATE FUNCTION orderflow_strategy_switch_counts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.kills := OLD.kills
        + ((NEW.killed AND NOT OLD.killed)
           OR (NEW.deleted_at IS NOT NULL AND OLD.deleted_at IS NULL))::int;
    NEW.halts := OLD.halts + (NEW.paused AND NOT OLD.paused)::int;
    RETURN NEW;
END
$$;

CREATE TRIGGER orderflow_strategy_switch_counts
    BEFORE UPDATE ON orderflow_strategies
    FOR EACH ROW EXECUTE FUNCTION orderflow_strategy_switch_counts();
