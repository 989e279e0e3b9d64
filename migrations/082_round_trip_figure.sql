-- WASH's round-trip condition (the ring rule's "a closed group must churn", docs/reputation.md; its
-- wash_round_trip, the share of the wallet's shares it traded back) shown with the flag's other
-- figures: figure 51 of factor_figures (orderflow.reputation.scores_sql.FIGURES), the factors
-- JSON's behaviour.round_trip. Until now the JSON showed a ring's closed shares but not the
-- churn that made it WASH, nor why a closed thin market's holders are not. Rows written before
-- have no figure 51: NULL there.

CREATE OR REPLACE FUNCTION orderflow_factors(f DOUBLE PRECISION[], volume_usdc NUMERIC, counterparty TEXT,
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
        'wash_host_own_share', f[33],
        'hedged_share', f[50], 'round_trip', f[51]),
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
