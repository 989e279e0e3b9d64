-- The transactions each kind of writer stored fills or matches of, and at which block (docs/
-- listener.md "Storage", docs/history.md "A wrong block no time exposes"; orderflow/chain/
-- store_replace.py). Replaces orderflow_writer_spans (migration 066).
--
-- An import (orderflow import, listen --from-file) may store a log at a block it does not belong
-- to; the node's log of it (the listener's backfill and live blocks) replaces that row, and an
-- import's row the node's logs hold at another block is a dead letter. Each search looked for
-- the batch's transactions in the hash index on tx_hash of every partition in the other kind's
-- span of blocks (migration 066): after a full import (or on a database migrated with its history
-- in place, seeded with every partition) a probe per transaction per partition, for every batch
-- the listener stores (40 partitions: 16-23 ms per live batch of 100 fills on a loaded machine;
-- on a database larger than memory, random reads). Now each batch records its (transaction,
-- block) pairs under its kind ('import', or 'node' for the node's logs) and a search first looks
-- the batch's transactions up here, in one index: only a transaction the other kind stored at
-- another block sends a search to the ledger, into the blocks where it was stored.
--
-- A pair is recorded for every staged row of a batch that stored one (the node's: every batch
-- that had one), never deleted (a rollback, a replaced row leave theirs): a pair whose row is gone
-- costs a search that finds nothing, a missing pair would be a misplaced row never found.
CREATE TABLE orderflow_writer_txs (
    tx_hash      evm_hash NOT NULL,
    block_number BIGINT   NOT NULL,
    chain_id     INTEGER  NOT NULL,
    -- 'either': stored before this migration, by a kind orderflow_writer_spans cannot tell
    source       TEXT     NOT NULL CHECK (source IN ('import', 'node', 'either'))
);

-- Rows stored before: the kind is the span (migration 066) that holds their block, 'either' where
-- both do (066 seeded both with every partition holding rows: who wrote them was not recorded).
-- One pass over both ledgers, once; the key is built after (one sort, not an insert per pair).
INSERT INTO orderflow_writer_txs (tx_hash, block_number, chain_id, source)
SELECT r.tx_hash, r.block_number, r.chain_id,
       CASE WHEN i.source IS NOT NULL AND n.source IS NOT NULL THEN 'either'
            WHEN i.source IS NOT NULL THEN 'import'
            WHEN n.source IS NOT NULL THEN 'node'
            ELSE 'either' END  -- outside both spans (none should be): found by either search
  FROM (SELECT tx_hash, block_number, chain_id FROM orderflow_trades
        UNION
        SELECT tx_hash, block_number, chain_id FROM orderflow_matches) r
  LEFT JOIN orderflow_writer_spans i
         ON i.source = 'import' AND r.block_number BETWEEN i.first_block AND i.last_block
  LEFT JOIN orderflow_writer_spans n
         ON n.source = 'node' AND r.block_number BETWEEN n.first_block AND n.last_block;

ALTER TABLE orderflow_writer_txs ADD PRIMARY KEY (tx_hash, block_number, chain_id, source);
ANALYZE orderflow_writer_txs;

DROP TABLE orderflow_writer_spans;
