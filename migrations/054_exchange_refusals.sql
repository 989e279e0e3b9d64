-- What the exchange refuses, where `orderflow strategy status` can read it (docs/executor.md
-- "When the exchange refuses our API key", "Refused cancels in the status"). The executor kept
-- both in memory only: its log, its metrics and its alert said so, the status did not.
--
-- orderflow_exchange_keys: one row per trading mode (live) while the exchange refuses the
-- executor's API key (401/403): since when, how many requests it refused, the last refusal.
-- The executor deletes the row as soon as the exchange accepts the key again.
CREATE TABLE orderflow_exchange_keys (
    mode            TEXT PRIMARY KEY,
    refused_since   TIMESTAMPTZ NOT NULL DEFAULT now(),
    refusals        INTEGER NOT NULL DEFAULT 1,
    last_refused_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_error      TEXT
);

-- A live order whose cancels the exchange refused (answered not_canceled while it stays open,
-- or our API key refused): how many in a row, the last one, and why. Reset when a cancel of it
-- goes through or the order closes.
ALTER TABLE orderflow_orders
    ADD COLUMN cancel_refusals    INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN cancel_refused_at  TIMESTAMPTZ,
    ADD COLUMN cancel_refused_why TEXT;
