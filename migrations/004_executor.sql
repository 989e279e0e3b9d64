-- Executor: per-strategy trade cursors, order intents (stored before sending) and fills.
--
-- Amounts follow 001's conventions: NUMERIC usdc for shares and collateral, NUMERIC(20,10)
-- prices, uint256 token ids. Nothing here ever holds a secret: an order row keeps the signed
-- order's public fields (the signature is what the exchange publishes with the order anyway).

-- How far each strategy has evaluated orderflow_trades (by identity id). Written in the same
-- transaction as the signals of the batch, so a restart resumes exactly where it stopped.
CREATE TABLE orderflow_executor_cursors (
    strategy      TEXT        PRIMARY KEY,
    last_trade_id BIGINT      NOT NULL DEFAULT 0,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One order per accepted signal. The row is written with status INTENT (and, for live orders,
-- the signed order and its possible exchange ids) BEFORE anything is sent; after a crash the
-- executor reconciles INTENT rows with the exchange instead of sending them again.
CREATE TABLE orderflow_orders (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    strategy            TEXT        NOT NULL,
    signal_id           BIGINT      NOT NULL UNIQUE REFERENCES orderflow_signals (id),
    mode                TEXT        NOT NULL CHECK (mode IN ('paper', 'live')),
    client_order_id     TEXT        NOT NULL UNIQUE,       -- the order's salt (live) or a uuid
    exchange_order_id   TEXT,                              -- the CLOB order hash once known
    candidate_order_ids TEXT[]      NOT NULL DEFAULT '{}', -- order hashes under each exchange domain
    token_id            uint256     NOT NULL,
    market_id           evm_hash,
    side                TEXT        NOT NULL CHECK (side IN ('BUY', 'SELL')),
    price               NUMERIC(20, 10) NOT NULL CHECK (price > 0 AND price < 1),
    shares              usdc        NOT NULL CHECK (shares > 0),
    order_type          TEXT        NOT NULL DEFAULT 'GTD',
    status              TEXT        NOT NULL DEFAULT 'INTENT'
                        CHECK (status IN ('INTENT', 'OPEN', 'FILLED', 'CANCELED', 'REJECTED',
                                          'ABANDONED')),
    status_reason       TEXT,
    filled_shares       usdc        NOT NULL DEFAULT 0,
    filled_usdc         usdc        NOT NULL DEFAULT 0,
    fee                 usdc        NOT NULL DEFAULT 0,
    signed_order        JSONB,
    traceparent         TEXT,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    sent_at             TIMESTAMPTZ,
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX orderflow_orders_open ON orderflow_orders (strategy, status)
    WHERE status IN ('INTENT', 'OPEN');

-- Our own fills, paper or live, in the same gross terms as orderflow_trades (fee in fee_asset on
-- top of / out of the gross collateral). A position's state is the replay of its fills through
-- orderflow.accounting, so these rows are the source of truth for the executor's P&L.
CREATE TABLE orderflow_fills (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id      BIGINT      NOT NULL REFERENCES orderflow_orders (id),
    position_id   BIGINT      NOT NULL REFERENCES orderflow_positions (id),
    strategy      TEXT        NOT NULL,
    mode          TEXT        NOT NULL CHECK (mode IN ('paper', 'live')),
    fill_key      TEXT        NOT NULL,                 -- exchange trade id, or 'paper'
    token_id      uint256     NOT NULL,
    side          TEXT        NOT NULL CHECK (side IN ('BUY', 'SELL')),
    price         NUMERIC(20, 10) NOT NULL,
    shares        usdc        NOT NULL CHECK (shares > 0),
    usdc          usdc        NOT NULL CHECK (usdc >= 0),
    fee           usdc        NOT NULL DEFAULT 0 CHECK (fee >= 0),
    fee_asset     TEXT        NOT NULL DEFAULT 'COLLATERAL' CHECK (fee_asset IN ('COLLATERAL', 'SHARES')),
    filled_at     TIMESTAMPTZ NOT NULL,
    UNIQUE (order_id, fill_key)
);
CREATE INDEX orderflow_fills_position ON orderflow_fills (position_id, id);

CREATE INDEX orderflow_positions_strategy_status ON orderflow_positions (strategy, status);
