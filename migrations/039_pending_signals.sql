-- Accepted signals still waiting for their order (status PENDING): few at any time, among every
-- signal ever recorded. The executor looks for those left without an order intent in each
-- maintenance pass (an old leader may leave one in the second before it notices it lost the
-- trading lock: orderflow.execution.order_queries.close_orphans); before, only at start-up.
CREATE INDEX orderflow_signals_pending ON orderflow_signals (id) WHERE status = 'PENDING';
