-- When an order was closed, by the executor's clock: the start of its late-fill window
-- (orderflow.execution.late_fill_queries.order_may_fill), whose "now" and fill watermark are the
-- executor's too. Written by each UPDATE that closes an order or changes a closed one (as
-- ``updated_at`` was), NULL while it is live (INTENT, OPEN). The window read ``updated_at``,
-- stamped by the database's clock (``clock_timestamp()``): an executor's clock 20 minutes ahead
-- of the database's ended the window before it began (a fill listed after the close never
-- booked, the shares matched unlisted never held in the limits), one 20 minutes behind held them
-- 20 minutes past its end (tests/execution/test_late_fill_clock.py). ``updated_at`` stays the
-- database's (the exits' pause reads it against the database's clock: exit_queries).
--
-- Orders closed before: their ``updated_at`` (the window as it was).
ALTER TABLE orderflow_orders ADD COLUMN closed_at TIMESTAMPTZ;
UPDATE orderflow_orders SET closed_at = updated_at WHERE status NOT IN ('INTENT', 'OPEN');
