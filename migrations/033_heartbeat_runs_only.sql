-- Which strategies an executor process runs: its EXECUTOR_STRATEGIES, empty for every strategy.
-- The operator reads the trading leader's value, so that a TradingStrategy the leader leaves out
-- is reported Degraded (NotRunByExecutor) instead of Running behind a fresh heartbeat
-- (docs/operator.md "Status"). Rows of executors older than this column read '{}' (every
-- strategy), which is what they did.
ALTER TABLE orderflow_executor_heartbeats ADD COLUMN runs_only TEXT[] NOT NULL DEFAULT '{}';
