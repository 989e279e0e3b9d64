-- The marks of open tokens read from fills that are no longer attached (a partition of the
-- trades detached for archiving, or dropped after it): per token, the newest mark a live
-- reputation run stored whose fill's block is in no attached partition, with that block
-- (orderflow.reputation.detached_lines.MARKS). No run can read those fills again, so the mark
-- is kept here, apart from orderflow_reputation_closes, which a run rewrites and where a token
-- has no row while nobody holds it open (a resolution the chain later took back). A run marks a
-- token from it where it is newer than the attached fills' mark (where no attached fill marks
-- the token: always); a row whose block is attached again is dropped by the next full run.
--
-- Until now a mark missing from the attached fills kept the stored one whatever its fill, so a
-- database that had stored the mark of a fill a rollback then deleted kept that one
-- (tests/reputation/test_incremental_property.py::test_deletes_while_detached).
CREATE TABLE orderflow_reputation_detached_marks (
    token_id   uint256 PRIMARY KEY,
    mark_price NUMERIC NOT NULL,
    mark_block BIGINT  NOT NULL
);
