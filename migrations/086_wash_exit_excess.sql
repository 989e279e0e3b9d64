-- What a wallet's sales received above every prevailing price around them, per (wallet, token,
-- market key, bucket) of the counterparty evidence's stored cells (migration 023), beside the
-- off-market taker amounts: xg over every sale row, xt over its taker rows. The reputation's
-- wallets statement values an exit at no more than the highest of the other wallets' prices in
-- its bucket, the one before and the one after (docs/reputation.md "Wallets that game the exits
-- and the line"): a sale to a fresh partner at a price it was told to pay made an edge no
-- follower can have. NULL where a row has none. The stored cells are rebuilt by the next
-- incremental run (the statements' fingerprint changed).
ALTER TABLE orderflow_wash_taker
    ADD COLUMN xg NUMERIC,
    ADD COLUMN xt NUMERIC;
