-- A position's mode (paper or live) stored on the position: the mode of its first fill, which
-- is where its exit goes (orderflow.execution.position_queries.book_rows) and, now, which mode's
-- risk limits it counts in.
--
-- Why. A strategy can be switched between paper and live. Its cash cap (bankroll + realized -
-- open cost), Kelly's bankroll (bankroll + min(0, realized)) and its daily loss summed every
-- position of the strategy, paper and live: after a switch from paper to live, paper's profit
-- raised the live cash above bankroll_usd (live stakes of money the wallet never made) and
-- today's paper gain widened the live daily-loss budget
-- (tests/execution/test_mode_pnl.py). The limits of a mode now count only that mode's
-- positions and orders, read from this column (it was a subquery on orderflow_fills per
-- position per decision).
--
-- NULL: a position without a fill yet (open_position_for sets it with the first), or one
-- written outside the executor (the demo's backtest positions).
ALTER TABLE orderflow_positions
    ADD COLUMN mode TEXT CHECK (mode IN ('paper', 'live'));

UPDATE orderflow_positions p
   SET mode = f.mode
  FROM (SELECT DISTINCT ON (position_id) position_id, mode
          FROM orderflow_fills ORDER BY position_id, id) f
 WHERE f.position_id = p.id;
