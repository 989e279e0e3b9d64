-- When maintenance's audit of held live tokens (orderflow.execution.wallet_audit) last read the
-- wallet's balance of each, kept in the database rather than the leader's memory: a restart or a
-- new leader goes on with the schedule (a token due is read at once, one read within the hour is
-- not read again) instead of waiting an hour for every token and starting again from scratch.
-- read_at: the last read asked (a read that failed waits its turn too), or, for a token not read
-- yet, when it was first seen held (its shares just came with a fill the books hold); due an
-- interval after. A token no longer held is forgotten.
CREATE TABLE orderflow_wallet_reads (
    token_id uint256     PRIMARY KEY,
    read_at  TIMESTAMPTZ NOT NULL
);
