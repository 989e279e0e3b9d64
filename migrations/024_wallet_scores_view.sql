-- orderflow_wallet_scores: the wallets' rows as the executor and `orderflow wallet` read them,
-- for anyone reading with SQL (a dashboard, an ad-hoc query).
--
-- Since migration 022 a run stores only a wallet's own figures: edge, edge_raw, edge_se and both
-- probabilities are NULL in orderflow_wallet_stats for the rows it writes, and are computed when
-- read against the current population (orderflow_wallet_read). This view does that, and adds the
-- factors JSON (orderflow_factors); the columns that only store figures are not shown.
--
-- wallet_address is the table's own column, not the function's output, so a filter on it is
-- an index probe of the table: one wallet costs one read (≈ 18 µs of plpgsql, ≈ 60 µs with the
-- JSON). Every row read costs as much: to count tiers or sum P&L over all wallets, read the
-- stored columns of orderflow_wallet_stats (tests/reputation/test_wallet_scores_view.py).
CREATE VIEW orderflow_wallet_scores AS
SELECT w.wallet_address,
       s.reputation_score, s.trader_tier, s.flags,
       s.edge, s.edge_se, s.edge_raw, s.p_edge_above_cost, s.p_edge_below_zero,
       s.clv_edge, s.clv_se, s.maker_volume_share,
       s.total_trades, s.total_volume_usdc, s.markets_traded, s.resolved_positions,
       s.events_resolved, s.resolved_buys, s.wins, s.losses, s.win_rate,
       s.gross_profit, s.gross_loss, s.profit_factor, s.realized_pnl, s.unrealized_pnl,
       s.roi, s.fees_paid, s.open_positions, s.consistency, s.timing, s.avg_holding_secs,
       s.first_trade_at, s.last_trade_at, s.as_of, s.computed_at, s.updated_at,
       orderflow_factors(s) AS factors
  FROM orderflow_wallet_stats w
 CROSS JOIN LATERAL orderflow_wallet_read(w) AS s;
