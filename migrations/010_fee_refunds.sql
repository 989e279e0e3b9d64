-- FeeModule refunds (issue 13): a V1 fill's fee as paid, not as first charged.
--
-- Polymarket's FeeModule calls a V1 exchange's matchOrders and then pays back part of the fee
-- the exchange charged, emitting FeeRefunded. The listener stores each refund, links it to the
-- fill it belongs to (same transaction; by order hash for the 2025 module, by wallet and asset
-- for the 2023 one) and lowers that fill's fee by it:
--   orderflow_trades.fee           the fee paid (charged - refunded)
--   orderflow_trades.fee_refunded  what the FeeModule paid back (charged = fee + fee_refunded)
-- Both in the fill's fee asset (shares for a V1 BUY, collateral for a SELL).
ALTER TABLE orderflow_trades
    ADD COLUMN fee_refunded usdc NOT NULL DEFAULT 0 CHECK (fee_refunded >= 0);

CREATE TABLE orderflow_fee_refunds (
    chain_id        INTEGER     NOT NULL,
    tx_hash         evm_hash    NOT NULL,
    log_index       INTEGER     NOT NULL,
    block_number    BIGINT      NOT NULL,
    block_hash      evm_hash    NOT NULL,
    timestamp       TIMESTAMPTZ NOT NULL,
    fee_module      evm_address NOT NULL,
    wallet_address  evm_address NOT NULL,           -- the order's maker, who got the refund
    token_id        uint256     NOT NULL,           -- 0 = collateral, else the outcome token
    refund          usdc        NOT NULL CHECK (refund >= 0),
    order_hash      evm_hash,                       -- 2025 module only
    fee_charged     usdc,                           -- 2025 module only: the fee as charged
    trade_log_index INTEGER,                        -- the fill (same chain, tx) it refunds
    PRIMARY KEY (chain_id, tx_hash, log_index)
);
CREATE INDEX orderflow_fee_refunds_block ON orderflow_fee_refunds (chain_id, block_number);
-- Refunds still waiting for their fill (normally none: a refund and its fill share a batch).
CREATE INDEX orderflow_fee_refunds_unlinked ON orderflow_fee_refunds (chain_id, tx_hash)
    WHERE trade_log_index IS NULL;
