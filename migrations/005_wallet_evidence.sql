-- Reputation v2 (issue 11): the evidence behind a score, shared by the reputation run (writer),
-- the executor, the backtest and the demo (readers).
--
--   flags               behaviours that look like skill and are not copyable: any of
--                       'MARKET_MAKER', 'WASH', 'PENNY_PICKER' (a flagged wallet is never WHALE or
--                       SMART and never followed; a WASH wallet is never faded)
--   edge / edge_se      (existing columns, redefined) posterior mean and standard error of the
--                       wallet's fee-net edge per dollar on its taker decisions
--   p_edge_above_cost   posterior P(edge > a follower's cost)
--   p_edge_below_zero   posterior P(edge < 0)
--   events_resolved     independent resolved events behind the estimate (NegRisk legs count once)
--   clv_edge / clv_se   closing-line value per dollar on taker decisions, and its standard error
--   maker_volume_share  share of the wallet's volume on the maker side of its fills
ALTER TABLE orderflow_wallet_stats
    ADD COLUMN flags              TEXT[]  NOT NULL DEFAULT '{}',
    ADD COLUMN p_edge_above_cost  DOUBLE PRECISION,
    ADD COLUMN p_edge_below_zero  DOUBLE PRECISION,
    ADD COLUMN events_resolved    INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN clv_edge           DOUBLE PRECISION,
    ADD COLUMN clv_se             DOUBLE PRECISION,
    ADD COLUMN maker_volume_share DOUBLE PRECISION;

ALTER TABLE orderflow_reputation_history
    ADD COLUMN flags TEXT[] NOT NULL DEFAULT '{}';
