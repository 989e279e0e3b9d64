-- A settlement rests on a resolution the chain can take back.
--
-- Why. The executor settles an open position once its market's resolution is stored
-- (orderflow.execution.positions.settle_resolved: CLOSED 'resolved', its P&L realized at the
-- token's payout, its signal's P&L set). A reorg's rollback or a file's retraction
-- (orderflow.chain.rollback) deletes that resolution, or hands the market back to Gamma's, whose
-- payouts may differ; the chain's next resolution may say other payouts, or come later, or not
-- at all. The position stayed settled at the old payout: its P&L and cash counted while the
-- chain no longer said the market resolved (tests/execution/test_resolution_reorg.py).
--
-- Now. A settled position records the payout per share it was settled at (settled_payout;
-- NULL: not settled) and its market (market_id, from the token when the fill had none). A
-- resolution deleted or changed queues its market in orderflow_settlements_to_check when a
-- settled position rests on it (a statement trigger, in the rollback's own transaction); the
-- executor's maintenance takes the queue at each tick, reopens each settled position of those
-- markets whose token's payout stored now is another or none (replayed from its fills), and
-- settle_resolved settles it again at the payout stored next. Without the queue the check read
-- every settled position's resolution at every tick (20,000 settled positions, 120,000
-- markets: 190-300 ms on a loaded machine, 2 s ticks).
ALTER TABLE orderflow_positions ADD COLUMN settled_payout NUMERIC(20, 10);

UPDATE orderflow_positions p
   SET market_id = tok.condition_id
  FROM orderflow_tokens tok
 WHERE tok.token_id = p.token_id AND p.market_id IS NULL
   AND p.status = 'CLOSED' AND p.close_reason = 'resolved';

-- Settled before this migration: on the resolution stored now (the one they were settled at,
-- unless a reorg already took it away; those stay NULL and are queued below).
UPDATE orderflow_positions p
   SET settled_payout = o.payouts[COALESCE(p.outcome_index, tok.outcome_index) + 1]
  FROM orderflow_positions q
  LEFT JOIN orderflow_tokens tok ON tok.token_id = q.token_id
  JOIN orderflow_market_outcomes o ON o.market_id = q.market_id
 WHERE q.id = p.id AND p.status = 'CLOSED' AND p.close_reason = 'resolved';

-- The settled positions of a market (the trigger's probe, the executor's check).
CREATE INDEX orderflow_positions_settled ON orderflow_positions (market_id)
    WHERE status = 'CLOSED' AND close_reason = 'resolved';

CREATE TABLE orderflow_settlements_to_check (
    market_id evm_hash PRIMARY KEY
);

INSERT INTO orderflow_settlements_to_check
SELECT DISTINCT market_id FROM orderflow_positions
 WHERE status = 'CLOSED' AND close_reason = 'resolved' AND settled_payout IS NULL
   AND market_id IS NOT NULL;

CREATE FUNCTION orderflow_settlements_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The markets whose resolution was deleted (old_rows) or changed (new_rows) and on which a
    -- settled position rests.
    IF TG_OP = 'DELETE' THEN
        INSERT INTO orderflow_settlements_to_check
        SELECT DISTINCT r.market_id FROM old_rows r
         WHERE EXISTS (SELECT 1 FROM orderflow_positions p
                        WHERE p.market_id = r.market_id AND p.status = 'CLOSED'
                          AND p.close_reason = 'resolved')
        ON CONFLICT DO NOTHING;
    ELSE
        INSERT INTO orderflow_settlements_to_check
        SELECT DISTINCT r.market_id FROM new_rows r
         WHERE EXISTS (SELECT 1 FROM orderflow_positions p
                        WHERE p.market_id = r.market_id AND p.status = 'CLOSED'
                          AND p.close_reason = 'resolved')
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER orderflow_market_outcomes_settlements_delete
    AFTER DELETE ON orderflow_market_outcomes
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION orderflow_settlements_check();
CREATE TRIGGER orderflow_market_outcomes_settlements_update
    AFTER UPDATE ON orderflow_market_outcomes
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION orderflow_settlements_check();
