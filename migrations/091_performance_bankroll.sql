-- The bankroll a performance row was written with (its day's: ``bankroll_usd`` when the day's
-- row was first written). A closed day's row written again — a fill of it or of a day before it
-- booked or reversed later — took its equity and its ratios on the bankroll set at that moment:
-- ``bankroll_usd`` lowered from 10,000 to 5,000 today moved yesterday's equity from 10,038.01
-- to 5,038.01 (tests/execution/test_performance_bankroll.py). Today's row follows the setting;
-- a past day's keeps the one stored here.
--
-- NULL for rows written before: the bankroll of the pass that writes them next is taken and
-- kept.
ALTER TABLE orderflow_performance ADD COLUMN bankroll usdc;
