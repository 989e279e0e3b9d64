-- The paper exchange's matching pass (orderflow.execution.paper_book) reads the orders not filled
-- that closed — expired or were cancelled, whichever came first — less than a while ago: a level
-- the listener stores late, its block before the close, still fills them (a cancelled order's
-- too: the desk books the fills from before a cancel). Replaces the index of orders not
-- cancelled by their expiry.
DROP INDEX orderflow_paper_orders_live;
CREATE INDEX orderflow_paper_orders_closing ON orderflow_paper_orders
    (LEAST(expires_at, canceled_at)) WHERE filled < shares;
