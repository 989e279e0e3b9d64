-- An exit may be tried again (docs/executor.md "An exit that failed is tried again"): a signal
-- is one attempt at acting on a trade. The trading loop's decision is attempt 0; maintenance
-- records attempt 1, 2, ... of a FOLLOW_WHALE exit whose earlier attempts left the position
-- open (refused by the exchange, never sent, expired partly filled) while its leader has left.
-- Before, the key (strategy, signal_type, trade) allowed one signal per trade, so one 429 on
-- the exit's POST held the position to resolution.
ALTER TABLE orderflow_signals ADD COLUMN attempt SMALLINT NOT NULL DEFAULT 0 CHECK (attempt >= 0);

DO $$
DECLARE
    old_key TEXT;
BEGIN
    SELECT c.conname INTO STRICT old_key
      FROM pg_constraint c
     WHERE c.conrelid = 'orderflow_signals'::regclass AND c.contype = 'u'
       AND (SELECT array_agg(a.attname::text ORDER BY k.ord)
              FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
              JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum)
           = ARRAY['strategy', 'signal_type', 'chain_id', 'tx_hash', 'log_index'];
    EXECUTE format('ALTER TABLE orderflow_signals DROP CONSTRAINT %I', old_key);
END
$$;

ALTER TABLE orderflow_signals ADD CONSTRAINT orderflow_signals_trade_attempt
    UNIQUE (strategy, signal_type, chain_id, tx_hash, log_index, attempt);
