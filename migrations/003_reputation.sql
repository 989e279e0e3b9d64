-- Reputation (issue 3): what the executor needs to estimate a followed wallet's win probability,
-- and a record of the inputs the reputation run could not use.

-- Edge: mean over the wallet's resolved buy positions of (payout per share - average entry price
-- per share, fees excluded). The executor's probability for a followed buy is
-- entry price + edge, clipped to (0, 1).
ALTER TABLE orderflow_wallet_stats
    ADD COLUMN edge           DOUBLE PRECISION,   -- shrunk toward 0: raw * n / (n + k)
    ADD COLUMN edge_raw       DOUBLE PRECISION,   -- unshrunk mean
    ADD COLUMN edge_se        DOUBLE PRECISION,   -- standard error of the raw mean (n >= 2)
    ADD COLUMN resolved_buys  INTEGER NOT NULL DEFAULT 0,  -- n: resolved positions with buys
    ADD COLUMN fees_paid      usdc    NOT NULL DEFAULT 0,
    ADD COLUMN open_positions INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN as_of          TIMESTAMPTZ;        -- data cut-off of the run that wrote the row

-- Inputs the run could not use, one row per (kind, token), replaced by every run:
--   UNKNOWN_TOKEN  trades in a token with no market_id on the row and no orderflow_tokens entry
--   ZERO_PAYOUT    the token's market resolved with payouts summing to 0
--   BAD_PAYOUT     payouts NULL, negative, above 1, or no entry for the token's outcome index
-- The affected positions count as unresolved (volume and trades still count).
CREATE TABLE orderflow_reputation_issues (
    kind        TEXT        NOT NULL CHECK (kind IN ('UNKNOWN_TOKEN', 'ZERO_PAYOUT', 'BAD_PAYOUT')),
    token_id    uint256     NOT NULL,
    market_id   evm_hash,
    wallets     INTEGER     NOT NULL,
    trades      BIGINT      NOT NULL,
    detail      TEXT        NOT NULL,
    as_of       TIMESTAMPTZ,
    computed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (kind, token_id)
);
