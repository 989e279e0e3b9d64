-- The token registry's source follows the chain (docs/history.md, "Gamma /markets rows"): a
-- token first known from a Gamma /markets row (source 'gamma') becomes chain-sourced when the
-- chain's own ConditionPreparation (or resolution, or TokenRegistered) of its condition is
-- stored (store_sql.INSERT_TOKENS), and a Gamma row never takes a chain row back. Whether Gamma
-- lists the token is kept apart (listed_by_gamma), so that a reorg orphaning the preparation
-- hands the token back to Gamma instead of deleting it (store_sql.RETURN_CONDITION_TOKENS).
ALTER TABLE orderflow_tokens ADD COLUMN listed_by_gamma BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE orderflow_tokens SET listed_by_gamma = TRUE WHERE source = 'gamma';
-- Gamma rows whose ConditionPreparation was stored before this migration: the chain's now.
UPDATE orderflow_tokens k
   SET source = 'ConditionPreparation'
  FROM orderflow_conditions c
 WHERE k.source = 'gamma' AND c.condition_id = k.condition_id;
