-- A resolution from a Gamma /markets row (source 'gamma', migration 009) is replaced by the
-- chain's ConditionResolution when the listener stores it (store_sql.INSERT_OUTCOME), which used
-- to overwrite every column of Gamma's row: a reorg orphaning that chain resolution then deleted
-- the outcome (store_sql.DELETE_OUTCOMES) and the market read as unresolved, though Gamma still
-- says it resolved. As for tokens (migration 034, listed_by_gamma), what Gamma says is now kept
-- apart from the row's current source: the gamma_* columns hold Gamma's resolution (its oracle
-- and question id as Gamma gave them, its exact 0/1 payouts, its closedTime), on a Gamma row and
-- on a chain row alike (an import after the chain's resolution notes it without changing the
-- row: history.markets.INSERT_GAMMA_OUTCOMES), and a reorg hands such a market back to Gamma's
-- resolution (store_sql.RETURN_OUTCOMES) instead of deleting it (docs/history.md).
ALTER TABLE orderflow_market_outcomes
    ADD COLUMN gamma_oracle      evm_address,
    ADD COLUMN gamma_question_id evm_hash,
    ADD COLUMN gamma_payouts     NUMERIC[],
    ADD COLUMN gamma_resolved_at TIMESTAMPTZ;

-- Gamma's rows as stored. Nothing a score reads changes, so no market is marked for the
-- incremental run. (Chain rows that already replaced a Gamma row lost what Gamma said: a
-- re-import of the markets notes it again.)
ALTER TABLE orderflow_market_outcomes DISABLE TRIGGER orderflow_market_outcomes_mark_update;
UPDATE orderflow_market_outcomes
   SET gamma_oracle = oracle, gamma_question_id = question_id, gamma_payouts = payouts,
       gamma_resolved_at = resolved_at
 WHERE source = 'gamma';
ALTER TABLE orderflow_market_outcomes ENABLE TRIGGER orderflow_market_outcomes_mark_update;

ALTER TABLE orderflow_market_outcomes ADD CONSTRAINT orderflow_market_outcomes_gamma_claim CHECK (
    source <> 'gamma' OR (gamma_payouts IS NOT NULL AND gamma_resolved_at IS NOT NULL));
