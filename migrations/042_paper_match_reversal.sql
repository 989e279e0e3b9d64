-- A paper match whose level a reorg took away (orderflow.execution.paper_trades): the maker fill
-- it took is no longer stored, so the paper fill is reversed as a live fill whose trade FAILED.
-- The row stays (its level's shares still count as taken: a level that comes back under the same
-- key is not offered again); the order's filled amount goes down by its shares.
ALTER TABLE orderflow_paper_matches ADD COLUMN reversed_at TIMESTAMPTZ;
