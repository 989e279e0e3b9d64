-- Why we asked the exchange to cancel an order (a switch's reason: strategy_killed,
-- strategy_paused, leader_exited, trade_failed), stored before the cancel is sent. An order the
-- exchange later shows cancelled is closed with it (settlement._closed_why), when the answer to
-- our cancel was lost: a booking that failed after the exchange had cancelled (a deadlock, a
-- dropped connection), a crash. Until 7 Dec 2026 such an order was closed with no reason, but
-- for a kill or a pause that the strategy's row still showed
-- (tests/execution/test_cancel_booked_late.py).
ALTER TABLE orderflow_orders ADD COLUMN cancel_reason TEXT;
