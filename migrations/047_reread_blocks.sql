-- Blocks the listener reads again with eth_getLogs, one block each (orderflow.chain.rereads):
-- a file's `removed: true` line retracted rows of the block (rollback.retract_block). Before,
-- the retraction rewound every checkpoint at or past the block below it: a block of an old file
-- (or a hostile line naming an old block by its real hash) sent the listener back over every
-- block since. Now only that block is read again; its row goes once it was (queued_at tells a
-- block queued again meanwhile, which stays).
CREATE TABLE orderflow_reread_blocks (
    chain_id     INTEGER     NOT NULL,
    block_number BIGINT      NOT NULL,
    block_hash   TEXT        NOT NULL,  -- the retracted block's hash
    reason       TEXT        NOT NULL,
    queued_at    TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (chain_id, block_number)
);
