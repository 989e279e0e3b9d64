-- The dead letters of blocks whose eth_getLogs reply stayed at a result cap
-- (orderflow.chain.capped_logs): each range the listener reads whole looks up those of its
-- blocks to resolve them (the block was read in full, e.g. from a node without that cap).
-- Without this index that look-up scanned every dead letter once per range.
CREATE INDEX orderflow_dead_letters_capped
    ON orderflow_dead_letters (chain_id, block_number) WHERE raw ? 'capped_eth_getLogs';
