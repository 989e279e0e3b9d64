-- Settlement of live fills. A CLOB trade is booked as soon as it is matched, but it still has to
-- settle on chain: MATCHED -> MINED -> CONFIRMED, or RETRYING -> FAILED when its transaction
-- fails for good. Every trade of a booked live fill is tracked here until it is final, and a fill
-- whose trade FAILED is taken back by a reversal row in orderflow_fills.

-- A reversal: a row of orderflow_fills with ``reverses`` = the fill it takes back (part of), the
-- same side, positive amounts (the part reversed) and fill_key '<trade id>:reversal', so the
-- UNIQUE (order_id, fill_key) key books it once, whatever restarts happen in between.
ALTER TABLE orderflow_fills ADD COLUMN reverses BIGINT REFERENCES orderflow_fills (id);
CREATE INDEX orderflow_fills_reverses ON orderflow_fills (reverses) WHERE reverses IS NOT NULL;

-- One row per (order, trade id) of a booked live fill. A placement fill covers every trade id of
-- the placement response (fill_key = the ids comma-joined): one row each, pointing at that fill.
-- shares/usdc/fee: our part of the trade as the trades endpoint reports it (NULL until seen).
CREATE TABLE orderflow_fill_trades (
    order_id    BIGINT      NOT NULL REFERENCES orderflow_orders (id),
    trade_id    TEXT        NOT NULL,
    fill_id     BIGINT      NOT NULL REFERENCES orderflow_fills (id),
    status      TEXT        NOT NULL DEFAULT 'MATCHED',
    shares      usdc,
    usdc        usdc,
    fee         usdc,
    booked_at   TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    final_at    TIMESTAMPTZ,  -- CONFIRMED or FAILED (reversed) seen
    gave_up_at  TIMESTAMPTZ,  -- not final within the executor's settlement horizon
    PRIMARY KEY (order_id, trade_id)
);
CREATE INDEX orderflow_fill_trades_pending ON orderflow_fill_trades (booked_at)
    WHERE final_at IS NULL AND gave_up_at IS NULL;
CREATE INDEX orderflow_fill_trades_fill ON orderflow_fill_trades (fill_id);

-- Fills net of their reversals: what positions, the daily P&L and performance replay. A fill
-- reversed in full is absent; a fill reversed in part (one failed trade of several) carries what
-- is left.
CREATE VIEW orderflow_net_fills AS
SELECT f.id, f.order_id, f.position_id, f.strategy, f.mode, f.fill_key, f.token_id, f.side,
       f.price, f.shares - r.shares AS shares, f.usdc - r.usdc AS usdc, f.fee - r.fee AS fee,
       f.fee_asset, f.filled_at
  FROM orderflow_fills f
 CROSS JOIN LATERAL (
        SELECT COALESCE(sum(x.shares), 0) AS shares, COALESCE(sum(x.usdc), 0) AS usdc,
               COALESCE(sum(x.fee), 0) AS fee
          FROM orderflow_fills x WHERE x.reverses = f.id) r
 WHERE f.reverses IS NULL AND f.shares > r.shares;

-- Live fills booked during the last day before this migration: their trades are tracked too
-- (older ones have long settled).
INSERT INTO orderflow_fill_trades (order_id, trade_id, fill_id, booked_at)
SELECT f.order_id, k.trade_id, f.id, f.filled_at
  FROM orderflow_fills f
 CROSS JOIN LATERAL unnest(string_to_array(f.fill_key, ',')) AS k (trade_id)
 WHERE f.mode = 'live' AND f.filled_at >= now() - interval '1 day'
ON CONFLICT DO NOTHING;
