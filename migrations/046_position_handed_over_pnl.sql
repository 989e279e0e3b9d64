-- A dust position (under the market's minimum order size) takes a new entry, whose signal then
-- owns the position (orderflow.execution.position_queries.open_position_for). What the position
-- realized until then is the earlier signal's: it gets it at the handover, and the position keeps
-- the total handed over, so the P&L of its owner at close is only what it realized since.
ALTER TABLE orderflow_positions ADD COLUMN handed_over_pnl NUMERIC(38, 6) NOT NULL DEFAULT 0;
