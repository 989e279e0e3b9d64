-- A stop (pause or kill) set from the command line on a strategy a TradingStrategy owns holds
-- against the resource (docs/operator.md "A stop from the command line"): the operator writes
-- the resource's spec on every reconcile — a spec change, its own restart's resume — and used to
-- lift such a stop silently with `killed: false` in the spec. The hold keeps the switch on
-- until the resource takes the stop over (`spec.killed: true`, which clears the hold) and then
-- releases it like any stop of its own. A strategy the command line owns needs no hold.
ALTER TABLE orderflow_strategies
    ADD COLUMN pause_held BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN kill_held  BOOLEAN NOT NULL DEFAULT FALSE;
