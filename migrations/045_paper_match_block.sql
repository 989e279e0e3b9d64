-- The block of the maker fill each paper match took: whether its level is still stored
-- (orderflow.execution.paper_trades, every reconciliation pass for 15 minutes after each paper
-- fill) is probed in that block's partition of orderflow_trades only, not in every partition.
-- Matches made before are given the block of their level as stored now; one whose level is
-- already gone keeps none, and its probe finds nothing: reversed, as it was about to be.
ALTER TABLE orderflow_paper_matches ADD COLUMN level_block BIGINT;
UPDATE orderflow_paper_matches m SET level_block = t.block_number
  FROM orderflow_trades t
 WHERE t.tx_hash = m.level_tx AND t.log_index = m.level_log AND t.timestamp = m.level_time;
