-- A trades partition attached again, and the reset of a wallet without fills, recorded
-- (docs/reputation.md "Partitions detached or attached", "A wallet whose every fill the chain
-- took back").
--
-- (1) A history row with no score and no tier: the reset of a wallet whose every fill the chain
-- took back (orderflow.reputation.persist_sql.reset_without_fills) writes one, so the history's
-- newest row no longer keeps the tier of the orphaned fills.
--
-- (2) orderflow_reputation_state.reattached: set by `orderflow db partitions attach`
-- (orderflow.chain.partitions.attach), in the attach's transaction. While a partition was
-- detached, every run read the closing lines, marks and voided fills of the tokens and wallets
-- it rescored from the attached fills only (orderflow.reputation.detached_lines and
-- detached_void keep what an earlier run computed, not what no run saw) and stored them; back
-- attached, a full run reads them from every fill, and an incremental run kept the stored ones
-- of every token and wallet it did not touch (tests/reputation/test_incremental_property.py,
-- seeds 4, 6, 9 and 18 of 1-21). The next live run is a full one (RunSummary.reattached), which
-- takes the mark (orderflow.reputation.incremental.clear).

ALTER TABLE orderflow_reputation_history
    ALTER COLUMN reputation_score DROP NOT NULL,
    ALTER COLUMN trader_tier DROP NOT NULL;

ALTER TABLE orderflow_reputation_state ADD COLUMN reattached BOOLEAN NOT NULL DEFAULT FALSE;
