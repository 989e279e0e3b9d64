-- The tables the hourly reputation run rewrites row by row, vacuumed after every run (issue 14,
-- the hourly run at 1 M wallets; docs/benchmarks.md "Dead rows between hourly runs").
--
-- Why. Every hourly run rewrites the rows of the wallets it rescores -- about 25,000 of 1 M at
-- mainnet-like traffic, mostly the same active wallets hour after hour -- in
-- orderflow_wallet_stats (the upsert), the kept inputs, standings and closing lines (a delete and
-- insert each; created by a full run: orderflow.reputation.stored_inputs.save), the open
-- positions, the marks and the counterparty state's wallet rows. Autovacuum's default threshold
-- is a fifth of a table (200,000 dead rows of 1 M): eight hours of runs pile their dead versions
-- on the rows the next run reads and writes again. Measured at 1 M wallets after four runs: the
-- hour 49.1 s, its upsert 11.2 s; after a VACUUM of three of these tables, the next hour 24.2 s,
-- its upsert 2.2 s. At a hundredth of a table, autovacuum takes each run's dead rows before the
-- next run (the launcher looks every minute; the runs are an hour apart).
ALTER TABLE orderflow_wallet_stats SET (autovacuum_vacuum_scale_factor = 0.01);
ALTER TABLE orderflow_reputation_open SET (autovacuum_vacuum_scale_factor = 0.01);
ALTER TABLE orderflow_reputation_marks SET (autovacuum_vacuum_scale_factor = 0.01);
ALTER TABLE orderflow_wash_wallets SET (autovacuum_vacuum_scale_factor = 0.01);

-- the tables a full run made before this migration (the next full run sets it on its own)
DO $$
DECLARE
    t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['orderflow_reputation_inputs', 'orderflow_reputation_standing',
                             'orderflow_reputation_closes'] LOOP
        IF to_regclass(t) IS NOT NULL THEN
            EXECUTE format('ALTER TABLE %I SET (autovacuum_vacuum_scale_factor = 0.01)', t);
        END IF;
    END LOOP;
END;
$$;
