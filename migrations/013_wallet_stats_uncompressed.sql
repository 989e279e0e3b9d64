-- Reputation's per-wallet row is rewritten by every run whose population prior moved (nearly
-- every wallet's posterior moves with it, docs/reputation.md), and each write compared the old
-- row's factors JSON with the new one and compressed the new one: at about 2 kB a row (the
-- factors JSON about 1.9 kB) the tuple passed the default 2 kB TOAST threshold, so every write
-- paid a pglz compression and every comparison a decompression. Keep the rows uncompressed and
-- inline (a row stays far below a page): about 0.7 kB more per wallet, about a quarter less time
-- in the run's upsert (docs/benchmarks.md, reputation). Rows written before stay compressed
-- until the next run rewrites them; readers see the same values either way.
ALTER TABLE orderflow_wallet_stats SET (toast_tuple_target = 8160);
