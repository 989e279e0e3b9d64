-- A token's latest maker prints, as the tape price reads them (orderflow.signals.tape): its maker
-- rows at a level (price above 0 and below 1: orderflow.signals.quotes.is_level), before
-- `before` (NULL: now), newest first, the first `n` and every row of the n-th one's time.
--
-- The mark of an open position (orderflow.execution.position_queries.mark_price: the book each
-- batch reads, the day's P&L, the status) read this with ORDER BY ... LIMIT in its own statement,
-- the token a parameter of the subplan: the planner sized it by the average token and took a
-- bitmap of all the token's rows and a sort, so a popular token — the ones whales trade — had its
-- whole history read per open position per batch (tests/execution/test_mark_reads.py: 4,400 rows
-- read for 200). In a function of its own, with bitmaps and sorts off, the one plan left is the
-- (token, time) index of each partition read backwards and merged: it stops after the n-th
-- row's time. The caller orders what it returns by (time, id), as before.
CREATE FUNCTION orderflow_tape_latest(token NUMERIC, before TIMESTAMPTZ, n INTEGER)
RETURNS TABLE (price NUMERIC, "timestamp" TIMESTAMPTZ, id BIGINT, wallet_address evm_address,
               taker_address evm_address)
LANGUAGE sql STABLE PARALLEL SAFE
SET enable_bitmapscan = off
SET enable_sort = off
AS $$
    SELECT t.price, t.timestamp, t.id, t.wallet_address, t.taker_address
      FROM orderflow_trades t
     WHERE t.token_id = token AND NOT t.is_taker_aggregate AND t.price > 0 AND t.price < 1
       AND t.timestamp < COALESCE(before, 'infinity')
     ORDER BY t.timestamp DESC
     FETCH FIRST (n) ROWS WITH TIES
$$;
