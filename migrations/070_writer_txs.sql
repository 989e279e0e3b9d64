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
-- block) pairs under its kind and a search first looks the batch's transactions up here, one
-- range of one index per transaction: only a transaction the other kind stored at another block
-- sends a search to the ledger, into the blocks where it was stored.
--
-- Compact, 76 bytes a pair with its key (250 with the hash's text; benchmarks/writer_search.py):
-- tx_key is 62 bits of the transaction hash (orderflow_tx_key: its last 16 hex digits, the top
-- two bits cleared; the last, not the first: made-up hashes are padded on the left) with the
-- writer's code in the top two bits: 00 an import, 01 either (stored before this migration), 10
-- the node's logs, so that each code is one range of the key. A node's batch probes its
-- transactions' keys under codes 00 and 01, an import's under 01 and 10, and neither probes
-- while those codes' ranges are empty (an import into a database the node never wrote to: one
-- probe of each range per batch). Two transactions sharing a key, or a pair of another chain
-- (no chain recorded), cost a search that finds nothing (the searches match the full hash and
-- the chain); never a miss.
--
-- A pair is recorded for every staged row of a node's batch (a replay too: the row it meets may
-- be an import's, recorded under the import's code, which an import's search does not read) and
-- for an import's batch that stored a row; never deleted (a rollback, a replaced row leave
-- theirs): a pair whose row is gone costs a search that finds nothing, a missing pair would be
-- a misplaced row never found.
CREATE FUNCTION orderflow_tx_key(tx_hash TEXT) RETURNS BIGINT
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN ('x' || right(tx_hash, 16))::bit(64)::bigint & 4611686018427387903;

CREATE TABLE orderflow_writer_txs (
    tx_key       BIGINT NOT NULL,  -- orderflow_tx_key(tx_hash) | the writer's code << 62
    block_number BIGINT NOT NULL
);

-- Rows stored before: the code is the span (migration 066) that holds their block, either (01)
-- where both do: 066 seeded both with every partition holding rows, who wrote them not recorded.
-- One pass over the fills and matches, once, no join (each span's bounds read once); the key is
-- built after (one sort, not an insert per pair).
INSERT INTO orderflow_writer_txs (tx_key, block_number)
SELECT DISTINCT orderflow_tx_key(r.tx_hash)
       | CASE WHEN r.block_number BETWEEN s.i0 AND s.i1 AND r.block_number BETWEEN s.n0 AND s.n1
                   THEN 1::bigint << 62
              WHEN r.block_number BETWEEN s.i0 AND s.i1 THEN 0
              WHEN r.block_number BETWEEN s.n0 AND s.n1 THEN 2::bigint << 62
              ELSE 1::bigint << 62 END,  -- outside both spans (none should be): either
       r.block_number
  FROM (SELECT tx_hash, block_number FROM orderflow_trades
        UNION ALL
        SELECT tx_hash, block_number FROM orderflow_matches) r
 CROSS JOIN (SELECT min(first_block) FILTER (WHERE source = 'import') AS i0,
                    max(last_block) FILTER (WHERE source = 'import') AS i1,
                    min(first_block) FILTER (WHERE source = 'node') AS n0,
                    max(last_block) FILTER (WHERE source = 'node') AS n1
               FROM orderflow_writer_spans) s;

ALTER TABLE orderflow_writer_txs ADD PRIMARY KEY (tx_key, block_number);
ANALYZE orderflow_writer_txs;

DROP TABLE orderflow_writer_spans;
