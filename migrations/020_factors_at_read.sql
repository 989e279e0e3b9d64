-- The factors JSON of a reputation run is built when read, not written. A run used to build a
-- ≈ 1.9 kB jsonb per wallet (≈ 55 float8 values, each float8 -> text -> numeric), write it into
-- orderflow_wallet_stats, compare it with the stored one to decide whether the row changed, and
-- copy it, pglz-compressed, into every history snapshot: about two thirds of the backend CPU of
-- the run's upsert and history (docs/benchmarks.md, "Write half without the JSON cost").
--
-- A run now stores the figures the JSON shows, as they are, in four columns of both tables
-- (factor_figures: the float8 figures, in the order of orderflow.reputation.scores_sql.FIGURES,
-- the run's weights and prior included; the wallet's volume in USDC as the exact NUMERIC the
-- JSON shows; the two wallet addresses of its counterparty evidence), and
-- orderflow_factors(...) builds the same jsonb from them (same keys, same values: each float8
-- goes through the same conversion, from the same float8). Readers call
-- orderflow_factors(s) on a row of either table; its CASE returns the JSON a run stored before
-- this migration (factors_stored, the former factors column) for rows not rewritten since.
-- NULL for a row no run has scored, as before.
ALTER TABLE orderflow_wallet_stats RENAME COLUMN factors TO factors_stored;
ALTER TABLE orderflow_wallet_stats
    ADD COLUMN factor_figures     DOUBLE PRECISION[],
    ADD COLUMN factor_volume_usdc NUMERIC,
    ADD COLUMN factor_counterparty TEXT,
    ADD COLUMN factor_wash_host   TEXT;
ALTER TABLE orderflow_reputation_history RENAME COLUMN factors TO factors_stored;
ALTER TABLE orderflow_reputation_history
    ADD COLUMN factor_figures     DOUBLE PRECISION[],
    ADD COLUMN factor_volume_usdc NUMERIC,
    ADD COLUMN factor_counterparty TEXT,
    ADD COLUMN factor_wash_host   TEXT;

CREATE FUNCTION orderflow_factors(f DOUBLE PRECISION[], volume_usdc NUMERIC, counterparty TEXT,
                                  host TEXT, score NUMERIC, tier TEXT, flags TEXT[])
RETURNS JSONB LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT jsonb_build_object(
    'behaviour', jsonb_build_object(
        'maker_volume_share', f[24], 'penny_stake_share', f[25],
        'top_counterparty', counterparty,
        'group_share', f[26],
        'group_closed_share', f[27],
        'group_fills', f[28],
        'price_deviation', f[29],
        'off_market_share', f[30],
        'off_market_fills', f[31],
        'wash_host', host, 'wash_host_share', f[32],
        'wash_host_own_share', f[33]),
    'win_rate', jsonb_build_object(
        'value', f[34], 'weight', f[1], 'points', 10 * f[1] * f[34],
        'events', f[22], 'wins', f[35], 'expected_wins', f[36],
        'z', f[37]),
    'profit_factor', jsonb_build_object(
        'value', f[38], 'weight', f[2], 'points', 10 * f[2] * f[38],
        'gross_profit', f[39], 'gross_loss', f[40],
        'null_loss', f[41], 'shrunk', f[42]),
    'consistency', jsonb_build_object(
        'value', f[43], 'weight', f[3], 'points', 10 * f[3] * f[43],
        'z_early', f[44], 'z_late', f[45],
        'persistence_z', f[46]),
    'timing', jsonb_build_object(
        'value', f[47], 'weight', f[5], 'points', 10 * f[5] * f[47],
        'clv_edge', f[20], 'clv_se', f[21]),
    'score', score, 'raw_score', round(f[11]::numeric, 4), 'tier', tier,
    'flags', to_jsonb(flags),
    'posterior', jsonb_build_object(
        'edge', f[12], 'sd', f[13], 'p_edge_above_cost', f[14],
        'p_edge_below_zero', f[15], 'follower_cost', f[6],
        'prior_mean', f[7], 'prior_sd', f[8], 'prior_mean_se', f[9],
        'close_miss_sd', f[10],
        'measured', f[16], 'measured_se', f[17],
        'outcome_edge', f[18], 'outcome_se', f[19],
        'clv_edge', f[20], 'clv_se', f[21], 'events', f[22]),
    'volume', jsonb_build_object(
        'value', f[23], 'weight', f[4], 'points', 10 * f[4] * f[23],
        'volume_usdc', volume_usdc, 'events', f[22]))
$$;

CREATE FUNCTION orderflow_factors(s orderflow_wallet_stats)
RETURNS JSONB LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT CASE WHEN s.factor_figures IS NULL THEN s.factors_stored
            ELSE orderflow_factors(s.factor_figures, s.factor_volume_usdc, s.factor_counterparty,
                                   s.factor_wash_host, s.reputation_score, s.trader_tier, s.flags)
       END
$$;

CREATE FUNCTION orderflow_factors(h orderflow_reputation_history)
RETURNS JSONB LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT CASE WHEN h.factor_figures IS NULL THEN h.factors_stored
            ELSE orderflow_factors(h.factor_figures, h.factor_volume_usdc, h.factor_counterparty,
                                   h.factor_wash_host, h.reputation_score, h.trader_tier, h.flags)
       END
$$;
