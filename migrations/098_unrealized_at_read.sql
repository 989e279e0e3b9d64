-- A wallet's unrealized P&L is computed when read, not written (issue 14's hourly run).
--
-- The mark (a token's last price) feeds one figure of a wallet's row, the unrealized P&L of its
-- open positions, and no score input. Stored in the row, every holder's row had to be rewritten
-- whenever a token's mark moved (≈ 90,000 holders an hour at 1 M wallets: their stored inputs
-- moved by the mark's difference, then their rows rewritten by the upsert with the score
-- unchanged). A live run now keeps what the figure is made of instead:
--
-- * orderflow_reputation_open: one row per open position (a token not resolved at the run's
--   cut-off, shares held), its held micro-shares and the average cost of them in micro-USDC
--   (rep_positions' held_u and basis_open_u), written for the wallets the run rescored;
-- * orderflow_reputation_marks: each token's mark as the run's rep_close holds it (no row: no
--   mark), written for the tokens whose fills changed.
--
-- orderflow_unrealized_pnl(wallet) is the sum over its open positions of
-- (held_u x mark)::int8 - basis_u in micro-units, divided by 10^6: the wallets statement's own
-- arithmetic (orderflow.reputation.evidence_sql.WALLETS), so the figure read equals the one a full
-- recompute on the same data would have stored. orderflow_wallet_read(), which every reader of a
-- wallet's row calls (orderflow wallet, the report, the executor's signals, the
-- orderflow_wallet_scores view), sets the row's unrealized_pnl to it. The stored column is no
-- longer written by a run (zeroed here, once).
CREATE TABLE orderflow_reputation_open (
    wallet_address evm_address NOT NULL,
    token_id       uint256     NOT NULL,
    held_u         NUMERIC     NOT NULL,
    basis_u        BIGINT      NOT NULL,
    PRIMARY KEY (wallet_address, token_id)
);

CREATE TABLE orderflow_reputation_marks (
    token_id   uint256 PRIMARY KEY,
    mark_price NUMERIC NOT NULL
);

CREATE FUNCTION orderflow_unrealized_pnl(wallet evm_address)
RETURNS usdc LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT (coalesce(sum((o.held_u * coalesce(m.mark_price, 0))::int8 - o.basis_u), 0)
        / 1000000)::usdc
  FROM orderflow_reputation_open o
  LEFT JOIN orderflow_reputation_marks m ON m.token_id = o.token_id
 WHERE o.wallet_address = wallet
$$;

-- Migration 022's reader, with the unrealized P&L as read.
CREATE OR REPLACE FUNCTION orderflow_wallet_read(s orderflow_wallet_stats)
RETURNS orderflow_wallet_stats LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    f float8[] := s.factor_figures;
BEGIN
    s.unrealized_pnl := orderflow_unrealized_pnl(s.wallet_address);
    IF f IS NULL OR coalesce(array_length(f, 1), 0) < 49 OR f[10] IS NOT NULL THEN
        RETURN s;
    END IF;
    f := orderflow_posterior_figures(f, (SELECT p FROM orderflow_reputation_population p));
    s.factor_figures := f;
    s.edge := f[12];
    s.edge_se := f[13];
    s.p_edge_above_cost := f[14];
    s.p_edge_below_zero := f[15];
    s.edge_raw := f[16];
    RETURN s;
END
$$;

UPDATE orderflow_wallet_stats SET unrealized_pnl = 0 WHERE unrealized_pnl <> 0;
