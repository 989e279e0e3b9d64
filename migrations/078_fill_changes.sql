-- The days whose fills changed after their performance row may have been closed
-- (docs/executor.md "Positions and performance").
--
-- A day's row is closed by the first maintenance pass after its end, from history
-- (orderflow.execution.daypnl.closed_day). A fill of that day booked later — the live
-- reconciliation books an outage's fills from the account's trades with the exchange's times
-- (migration 065's fill watermark), a paper fill from a level stored late — or a reversal of one
-- of its fills (its trade FAILED on chain) stayed out of its row, and out of the start mark and
-- equity of every day after it, for good.
--
-- Each fill written, changed or deleted queues its strategy and its UTC day here (a reversal:
-- the day of the fill it takes back), in the fill's own transaction: append-only, no key, so
-- booking takes no lock another booking waits for. Each maintenance pass takes its strategy's
-- rows (orderflow.execution.performance_queries.changed_days, DELETE ... RETURNING, in the
-- transaction that closes the days again) and closes again every closed row from the earliest
-- such day before today. A row queued by a transaction not committed yet is not seen by that
-- DELETE and waits for the next pass, whose close sees its fill.

CREATE TABLE orderflow_fill_changes (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    strategy TEXT NOT NULL,
    day      DATE NOT NULL
);
CREATE INDEX orderflow_fill_changes_strategy ON orderflow_fill_changes (strategy);

CREATE FUNCTION orderflow_fill_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO orderflow_fill_changes (strategy, day)
        SELECT DISTINCT o.strategy, (o.filled_at AT TIME ZONE 'UTC')::date FROM old_rows o;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO orderflow_fill_changes (strategy, day)
        SELECT DISTINCT n.strategy, (COALESCE(r.filled_at, n.filled_at) AT TIME ZONE 'UTC')::date
          FROM new_rows n LEFT JOIN orderflow_fills r ON r.id = n.reverses;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER orderflow_fills_changed_insert
    AFTER INSERT ON orderflow_fills
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION orderflow_fill_changed();
CREATE TRIGGER orderflow_fills_changed_update
    AFTER UPDATE ON orderflow_fills
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION orderflow_fill_changed();
CREATE TRIGGER orderflow_fills_changed_delete
    AFTER DELETE ON orderflow_fills
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION orderflow_fill_changed();
