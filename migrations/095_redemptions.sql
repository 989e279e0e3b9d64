-- Live winnings redeemed (orderflow.execution.redeem): one row per condition and wallet, queued
-- once the condition's resolution is final (its block REORG_WINDOW_BLOCKS under the listener's
-- checkpoint) and a settled live position of it holds winning shares. PENDING: to send; SENT:
-- the redemption went out (tx_hash: the transaction's hash, or the relayer's id), checked by the
-- wallet's balance of the condition once its receipt had time; DONE: the wallet holds none of the
-- condition's shares (redeemed by us, or elsewhere: reason says which); FAILED: reason, tried
-- again at next_try_at (a pause doubling from 1 minute to 1 hour with attempts).
CREATE TABLE orderflow_redemptions (
    condition_id evm_hash    NOT NULL,
    wallet       evm_address NOT NULL,
    status       TEXT        NOT NULL DEFAULT 'PENDING'
                 CHECK (status IN ('PENDING', 'SENT', 'DONE', 'FAILED')),
    tx_hash      TEXT,
    reason       TEXT,
    attempts     INTEGER     NOT NULL DEFAULT 0,
    next_try_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (condition_id, wallet)
);
CREATE INDEX orderflow_redemptions_open ON orderflow_redemptions (wallet, next_try_at)
    WHERE status <> 'DONE';
