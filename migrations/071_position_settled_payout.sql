-- The payout per share a settled position was closed at (orderflow.execution.positions.
-- settle_resolved): the resolution its settlement rests on. A reorg (or a file's retraction)
-- can take that resolution away, and the chain's next one may say another payout: a position
-- CLOSED 'resolved' whose token's stored payout is no longer this one is reopened with its
-- fills (orderflow.execution.positions.unsettle_stale) and settled again once a resolution is
-- stored. NULL: not settled (open, or closed otherwise).
--
-- Backfill: positions settled before this migration rest on their market's resolution stored
-- now (the one they were settled at, unless a reorg already took it away: those, NULL here, are
-- reopened at the executor's next tick, as they should be).
ALTER TABLE orderflow_positions ADD COLUMN settled_payout NUMERIC(20, 10);

UPDATE orderflow_positions p
   SET settled_payout = o.payouts[COALESCE(p.outcome_index, tok.outcome_index) + 1]
  FROM orderflow_positions q
  LEFT JOIN orderflow_tokens tok ON tok.token_id = q.token_id
  JOIN orderflow_market_outcomes o ON o.market_id = COALESCE(q.market_id, tok.condition_id)
 WHERE q.id = p.id AND p.status = 'CLOSED' AND p.close_reason = 'resolved';

-- The settled positions, checked against their resolution at every maintenance tick.
CREATE INDEX orderflow_positions_settled ON orderflow_positions (token_id)
    WHERE status = 'CLOSED' AND close_reason = 'resolved';
