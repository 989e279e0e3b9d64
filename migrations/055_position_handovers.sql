-- Dust takeovers (migration 046), one row each: the signal that owned the position until then
-- and the last of the position's fills booked before it (its part ends there).
--
-- Why. At a takeover the earlier signal was given what the position had realized, fixed then,
-- and the new owner's P&L at close was the position's realized P&L less that amount. A fill of
-- the earlier part reversed afterwards (its trade FAILED on chain, a paper level a reorg took
-- away) changed what the position realized, but not the earlier signal's P&L: the difference
-- landed on the new owner (tests/execution/test_dust_entry.py, the "reversal of the earlier
-- part" test). With the boundary stored, a restated position recomputes each earlier owner's
-- part from its own fills (orderflow.execution.positions.restate_position).
--
-- Takeovers before this migration have no row: their earlier signals keep the P&L they were
-- given, as before.
CREATE TABLE orderflow_position_handovers (
    position_id   BIGINT NOT NULL REFERENCES orderflow_positions (id),
    upto_fill_id  BIGINT NOT NULL,  -- the position's last fill (its id) before the takeover
    signal_id     BIGINT REFERENCES orderflow_signals (id),  -- the owner until then (if any)
    PRIMARY KEY (position_id, upto_fill_id)
);
