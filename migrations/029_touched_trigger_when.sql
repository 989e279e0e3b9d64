-- The reputation run's own writes skip migration 027's row trigger before it is queued.
--
-- orderflow_wallet_stats_touched returned at once for a run's own writes (orderflow
-- .reputation_writer = 'on'), but as an AFTER ROW trigger it was still queued and called once per
-- row the run's upsert changed: a run that writes every wallet (the first full run after a
-- history import: 100,000 rows at the benchmark's check size) paid a plpgsql call and a queued
-- event per row for nothing. The same test as a WHEN condition is evaluated as the row is
-- written, and a false one queues nothing. Writes by anything else are recorded as before.
DROP TRIGGER orderflow_wallet_stats_touched ON orderflow_wallet_stats;

CREATE TRIGGER orderflow_wallet_stats_touched
AFTER UPDATE OF wallet_address, reputation_score, trader_tier, flags OR DELETE
ON orderflow_wallet_stats
FOR EACH ROW
WHEN (coalesce(current_setting('orderflow.reputation_writer', true), '') <> 'on')
EXECUTE FUNCTION orderflow_wallet_stats_touched();
