-- A neg-risk leg's condition deleted (a reorg's rollback, a node's retraction: orderflow.chain
-- .rollback) marks the other legs of its event for the next incremental reputation run.
--
-- Why. A complete set of a neg-risk event is read against the event's legs in
-- orderflow_conditions (orderflow.reputation.evidence_sql.HEDGED_CTES): YES on four legs is a
-- set when the event has four, not when it has five. The incremental run extends each changed
-- market to the legs of its event by joining orderflow_conditions on the changed market
-- (orderflow.reputation.incremental.claim_changes); a deleted leg is no longer there to join, so
-- only its own holders were rescored, and a wallet holding every other leg kept its old figure
-- while a full run read it as a set (tests/reputation/test_neg_risk_leg_removed.py: the
-- incremental run after the retraction rescored nobody, hedged volume 0 against 303.03). Now the
-- delete marks the legs still stored, found while the deleted rows' question ids are at hand.
CREATE FUNCTION orderflow_reputation_mark_event_legs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO orderflow_reputation_dirty_markets
    SELECT DISTINCT l.condition_id
      FROM old_rows o
      JOIN orderflow_conditions l
        ON l.neg_risk AND left(l.question_id, 64) = left(o.question_id, 64)
     WHERE o.neg_risk;
    RETURN NULL;
END;
$$;

CREATE TRIGGER orderflow_conditions_mark_event_legs AFTER DELETE ON orderflow_conditions
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION orderflow_reputation_mark_event_legs();
