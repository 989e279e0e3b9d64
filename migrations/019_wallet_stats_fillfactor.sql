-- Every reputation run rewrites nearly every orderflow_wallet_stats row (the population prior
-- moves every posterior, docs/reputation.md), about 2.3 kB each. On full pages each rewrite is a
-- new tuple on another page plus an entry in both indexes; with room left on the page it is a
-- heap-only (HOT) update: no index entry, the old version pruned in place. At fillfactor 50 a
-- page holds one row with room for its next versions: backend CPU per rewritten row about
-- halves (docs/benchmarks.md, "Reputation writes"), for about three times the table's disk
-- (≈ 8 kB a wallet: 8 GB for a million wallets). Pages written from now on keep the room; rows
-- move onto such pages as runs rewrite them.
ALTER TABLE orderflow_wallet_stats SET (fillfactor = 50);
