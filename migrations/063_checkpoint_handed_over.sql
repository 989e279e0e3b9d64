-- Whether a checkpoint was last written by a history import's hand-over (docs/history.md "The
-- hand-over"): the hand-over moves the listener's checkpoint to a file's last block only while
-- the listener does not own it, i.e. while the last write of it was a hand-over's.
--
-- Why. The ownership was inferred from the checkpoints themselves: the listener's was the last
-- hand-over's when it held the history stream's block (and, for a moment on main, the same
-- updated_at). A reorg's rollback rewinds every stream at or past the reorged block to the block
-- below, in one statement: the listener's and the history stream's then hold the same block,
-- written at the same time, and the next import moved the listener's checkpoint to its file's
-- last block -- the blocks after the reorg, which the listener had to read again, and every block
-- up to the file's last were never read (tests/history/test_hand_over_checkpoint.py, the reorg
-- test). Now each write says who made it: a hand-over marks its writes with
-- SET LOCAL orderflow.hand_over = 'on' (orderflow.history.hand_over); any other write of a
-- checkpoint (the listener advancing it, a rollback or re-read rewinding it) clears the mark.
ALTER TABLE orderflow_sync_checkpoints ADD COLUMN handed_over BOOLEAN NOT NULL DEFAULT FALSE;

-- The checkpoints written before: the former rule (the listener's at the history stream's block:
-- files imported in sequence before the listener ran).
UPDATE orderflow_sync_checkpoints l SET handed_over = TRUE
  FROM orderflow_sync_checkpoints h
 WHERE l.stream = 'listener' AND h.stream = 'history' AND h.chain_id = l.chain_id
   AND h.block_number = l.block_number;

CREATE FUNCTION orderflow_checkpoint_written() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.handed_over := coalesce(current_setting('orderflow.hand_over', true), '') = 'on';
    RETURN NEW;
END $$;

CREATE TRIGGER orderflow_checkpoint_written
BEFORE INSERT OR UPDATE ON orderflow_sync_checkpoints
FOR EACH ROW EXECUTE FUNCTION orderflow_checkpoint_written();
