-- The conditions by block, as the other ledger tables are (orderflow_trades_block,
-- orderflow_matches_block, orderflow_fee_refunds_block, orderflow_market_outcomes_block): the
-- node's batches look up, at the heights of the headers they record, what is held there under
-- another block hash (orderflow.chain.store_forks: a fork's left-over), conditions and
-- resolutions included, and a rollback deletes the conditions from a height up. Without it,
-- both read every condition (a sequential scan of the table) per batch.
CREATE INDEX orderflow_conditions_block ON orderflow_conditions (chain_id, block_number);
