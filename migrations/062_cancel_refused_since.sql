-- Since when the exchange refuses to cancel a live order (docs/executor.md "Refused cancels in
-- the status"): migration 054 kept how many refusals in a row and the last one, not the first,
-- so nothing could say since when a killed strategy's order has been stuck at the exchange
-- (the TradingStrategy's ExchangeRefusing condition, docs/operator.md). Set by the first refusal
-- of the order, kept by the next ones; the order closing ends it (only live orders are read).
ALTER TABLE orderflow_orders ADD COLUMN cancel_refused_since TIMESTAMPTZ;

UPDATE orderflow_orders SET cancel_refused_since = cancel_refused_at
 WHERE cancel_refused_at IS NOT NULL AND status IN ('INTENT', 'OPEN');
