-- History import (issue 16): resolutions may come from Gamma /markets rows before the chain's
-- ConditionResolution is stored. Such a row has no log identity (no block, tx or log index) and
-- is marked source = 'gamma'; the chain's resolution replaces it when it arrives (store_sql
-- INSERT_OUTCOME) and a chain row is never replaced by Gamma. Chain rows keep every identity
-- column (the CHECK below), so nothing changes for them.
ALTER TABLE orderflow_market_outcomes
    ADD COLUMN source TEXT NOT NULL DEFAULT 'chain' CHECK (source IN ('chain', 'gamma')),
    ALTER COLUMN oracle DROP NOT NULL,
    ALTER COLUMN question_id DROP NOT NULL,
    ALTER COLUMN block_number DROP NOT NULL,
    ALTER COLUMN block_hash DROP NOT NULL,
    ALTER COLUMN tx_hash DROP NOT NULL,
    ALTER COLUMN log_index DROP NOT NULL,
    ADD CONSTRAINT orderflow_market_outcomes_chain_identity CHECK (
        source <> 'chain' OR (
            oracle IS NOT NULL AND question_id IS NOT NULL AND block_number IS NOT NULL
            AND block_hash IS NOT NULL AND tx_hash IS NOT NULL AND log_index IS NOT NULL));
