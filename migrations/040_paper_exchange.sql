-- The executor's paper exchange (orderflow.execution.paper_book): the orders paper mode sent, and
-- what the depth the chain revealed afterwards filled of them. A paper order rests like a live GTD
-- order until it is filled, cancelled or expires; a maker fill stored after it was accepted, at or
-- better than its limit, is liquidity it would have taken first (the backtest's model). Each
-- revealed level is taken once across every paper order (orderflow_paper_matches), so two orders
-- do not both fill from the same shares, and a restart finds what was matched.
CREATE TABLE orderflow_paper_orders (
    order_key   TEXT            PRIMARY KEY,  -- the order's client id (paper-<uuid>)
    token_id    uint256         NOT NULL,
    side        TEXT            NOT NULL CHECK (side IN ('BUY', 'SELL')),
    price       NUMERIC(20, 10) NOT NULL CHECK (price > 0 AND price < 1),
    shares      usdc            NOT NULL CHECK (shares > 0),
    fee_rate    NUMERIC(20, 10) NOT NULL DEFAULT 0 CHECK (fee_rate >= 0),
    -- the quote the order was priced from: a level better than it was posted after the decision
    -- (typically a pre-arranged cross nobody else could hit) and is not offered to the order
    quote       NUMERIC(20, 10) NOT NULL,
    accepted_at TIMESTAMPTZ     NOT NULL,
    expires_at  TIMESTAMPTZ     NOT NULL,
    canceled_at TIMESTAMPTZ,
    filled      usdc            NOT NULL DEFAULT 0
);
CREATE INDEX orderflow_paper_orders_live ON orderflow_paper_orders (expires_at)
    WHERE canceled_at IS NULL AND filled < shares;

CREATE TABLE orderflow_paper_matches (
    order_key  TEXT            NOT NULL REFERENCES orderflow_paper_orders (order_key),
    level_tx   evm_hash        NOT NULL,  -- the maker fill that revealed the level
    level_log  INTEGER         NOT NULL,
    level_time TIMESTAMPTZ     NOT NULL,
    price      NUMERIC(20, 10) NOT NULL,
    shares     usdc            NOT NULL CHECK (shares > 0),
    usdc       usdc            NOT NULL,
    fee        usdc            NOT NULL,
    PRIMARY KEY (order_key, level_tx, level_log)
);
CREATE INDEX orderflow_paper_matches_level ON orderflow_paper_matches (level_tx, level_log);
