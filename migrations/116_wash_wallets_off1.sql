-- The wallets judged off the market by pass 1 (orderflow_wash_wallets.off1), by an index of
-- those alone: pass 2 of every counterparty update reads them (wash_partials_sql._STORED_OFF1,
-- ``WHERE off1``), a handful among every wallet's row (none of 1 M on the benchmark's data), and
-- read them by a scan of the whole table, whatever the change (≈ 50 ms a pass at 1 M wallets).
-- Only the flagged rows are indexed: a write of any other row leaves the index alone.
CREATE INDEX orderflow_wash_wallets_off1 ON orderflow_wash_wallets (w) WHERE off1;
