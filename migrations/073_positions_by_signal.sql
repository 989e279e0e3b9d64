-- A signal's positions: closing one adds up what the signal's other closed positions made
-- (orderflow.execution.position_queries.set_owner_pnl: an entry whose rest filled after the
-- position it opened was closed opens a second one). Without it, a scan of every position of
-- every strategy at each close. One more index entry per position.
CREATE INDEX orderflow_positions_signal ON orderflow_positions (signal_id);
