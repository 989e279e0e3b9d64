-- A move (migration 096) undone: a later fresh read of the wallet's balance showed its shares
-- back beyond the books (the balance it was booked on was wrong — the exchange's, stale even
-- after its refresh, or a chain it read behind), so it is left out of the position's replay
-- (orderflow.execution.wallet_shares): the position as before, open again, its realized P&L
-- without the loss, and the move no longer reported as left the wallet. Kept, not deleted:
-- undone_at when, undone_wallet the balance read that undid it.
ALTER TABLE orderflow_wallet_moves
    ADD COLUMN undone_at     TIMESTAMPTZ,
    ADD COLUMN undone_wallet usdc;
