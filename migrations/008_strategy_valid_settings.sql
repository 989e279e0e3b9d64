-- The last settings of each strategy that the executor validated and applied. When a row's
-- settings later fail validation (a bad manual edit, an older executor reading a newer field),
-- an executor that starts or takes over halts the strategy with these settings instead of the
-- defaults: a live strategy stays live (its exits go to the exchange, never to paper).
CREATE TABLE orderflow_strategy_valid_settings (
    name       TEXT        PRIMARY KEY,
    settings   JSONB       NOT NULL,
    generation BIGINT      NOT NULL,
    saved_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
