-- The reset of a wallet without fills recorded in the score history (docs/reputation.md "A
-- wallet whose every fill the chain took back").
--
-- A history row with no score and no tier: the reset of a wallet whose every fill the chain
-- took back (orderflow.reputation.persist_sql.reset_without_fills) writes one, so the history's
-- newest row no longer keeps the tier of the orphaned fills.

ALTER TABLE orderflow_reputation_history
    ALTER COLUMN reputation_score DROP NOT NULL,
    ALTER COLUMN trader_tier DROP NOT NULL;
