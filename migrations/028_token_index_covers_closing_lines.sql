-- The token index covers the closing lines (issue 14; docs/benchmarks.md "Closing lines read from
-- the index"). The reputation run's CLOSES probes every token the wallets decided in, up to three
-- times (the last trade at or before the token's closing time, the trade before that, the last
-- trade of an unresolved token), each an "ORDER BY timestamp DESC, log_index DESC LIMIT 1" on
-- (token_id, timestamp) of every partition, then a heap fetch for the price, the log index and
-- the block number the as_of gate reads. At 1 M wallets / 20 M trades that is ≈ 600,000 random
-- heap reads in a 16 GB table: 25-133 s of a full run, most of it waiting on reads.
--
-- With log_index in the key (the probes' whole order) and price and block_number included, the
-- probes are index-only scans (no heap fetch on all-visible pages: every partition but the
-- newest, once vacuumed): the same rows, ×0.65 the statement's CPU on a warm cache, no heap I/O
-- on a cold one. Every other reader of the index (a token's last price, its trades in a window,
-- the counterparty evidence's region reads) uses its (token_id, timestamp) prefix as before.
-- The index is ≈ 25 % wider per fill (measured on the store path: docs/benchmarks.md).
--
-- A partitioned index: the statements below build and drop it on every partition, holding SHARE
-- and ACCESS EXCLUSIVE locks on the trades while they run (≈ 15-45 s per 7 M-fill partition on
-- the project's 2-core machine): writers wait for the migration.
ALTER INDEX orderflow_trades_token_time RENAME TO orderflow_trades_token_time_narrow;
CREATE INDEX orderflow_trades_token_time
    ON orderflow_trades (token_id, timestamp, log_index) INCLUDE (price, block_number);
DROP INDEX orderflow_trades_token_time_narrow;
