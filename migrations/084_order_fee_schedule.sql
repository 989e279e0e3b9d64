-- The taker fee schedule each order carries (rate r and exponent e: a fill that takes pays
-- shares x r x (p(1 - p))^e on top), stored with its intent, so that the limits count a BUY
-- that may still take at its limit plus the fee it would pay (docs/executor.md "What counts as
-- open: live orders"). A BUY on its way or in doubt was counted at its limit alone, though its
-- decision staked the fee too: the fees of the entries in flight were left in the cash the next
-- decisions saw, and came on top once they filled (tests/execution/test_fee_reserved.py: three
-- entries spent 1,109.13 of a 1,000 bankroll in a market charging r = 0.25).
--
-- NULL: no schedule known (orders stored before this migration, but those that may still fill,
-- backfilled below from the schedule their decision sized with): no fee reserved, as before.
ALTER TABLE orderflow_orders
    ADD COLUMN fee_rate NUMERIC,
    ADD COLUMN fee_exponent NUMERIC;

UPDATE orderflow_orders o
   SET fee_rate = (s.inputs -> 'sizing' ->> 'fee_rate')::numeric,
       fee_exponent = (s.inputs -> 'sizing' ->> 'fee_exponent')::numeric
  FROM orderflow_signals s
 WHERE s.id = o.signal_id AND o.side = 'BUY' AND o.status IN ('INTENT', 'OPEN')
   AND s.inputs -> 'sizing' ->> 'fee_rate' IS NOT NULL
   AND s.inputs -> 'sizing' ->> 'fee_exponent' IS NOT NULL;
