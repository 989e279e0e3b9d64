-- A strategy's orders by when they were stored: `orderflow strategy status` counts those stored
-- since --since (orderflow.execution.status_queries: _OUTCOMES, _CANCELED). Without it both
-- read every order of every strategy (the only index by strategy, orderflow_orders_open, holds
-- the live ones). One more index entry per order stored: one per accepted signal.
CREATE INDEX orderflow_orders_strategy_created ON orderflow_orders (strategy, created_at);
