-- Shares of a live position that left the wallet outside the executor (a transfer, a merge, a
-- redemption on the site): found by the wallet's balance of the token read before a live exit
-- (orderflow.execution.wallet_shares), booked once per shortfall. shares: what left the
-- position, replayed with its fills as a sale for nothing after after_fill_id (its last fill
-- then); cost: the cost basis they took with them (average cost, fees in), so realized as a
-- loss and reported apart (docs/executor.md "Shares that left the wallet"); books: the live
-- books of the token, every strategy's on the wallet, and wallet: the balance read.
CREATE TABLE orderflow_wallet_moves (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    position_id   BIGINT      NOT NULL REFERENCES orderflow_positions (id),
    strategy      TEXT        NOT NULL,
    token_id      uint256     NOT NULL,
    shares        usdc        NOT NULL CHECK (shares > 0),
    cost          usdc        NOT NULL CHECK (cost >= 0),
    books         usdc        NOT NULL,
    wallet        usdc        NOT NULL,
    after_fill_id BIGINT      NOT NULL REFERENCES orderflow_fills (id),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX orderflow_wallet_moves_position ON orderflow_wallet_moves (position_id);
