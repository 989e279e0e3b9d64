-- Per mode (paper, live): when the desk's fills were last known complete — the start of the last
-- reconciliation pass over all of the mode's orders whose read of the account's trades (the
-- paper exchange's fills) succeeded and whose fills were booked. Written by that pass, after the
-- fills it covers are committed (orderflow.execution.fill_watermark).
--
-- Why. An order closed short of its size (cancelled, expired) may still have a fill from before
-- its close that the account's trades list later; the desk asked for it for 15 minutes of the
-- wall clock (LATE_FILLS) after the close. An executor down for an hour, or the exchange's trade
-- listing failing for an hour, asked for nothing during those 15 minutes, and after them the
-- order was never asked about again: its fill was never booked — shares in the wallet that no
-- position, cash, limit or P&L knew (tests/execution/test_outage_fills.py). A closed order is now
-- asked about until a complete pass has read the trades at least LATE_FILLS after its close:
-- the window runs from this watermark, not from now (orderflow.execution.position_queries
-- order_may_fill), so an outage of any length is covered. No row: the wall clock, as before.
CREATE TABLE orderflow_fill_watermarks (
    mode        TEXT PRIMARY KEY CHECK (mode IN ('paper', 'live')),
    complete_at TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
