-- The population-dependent figures of a wallet are computed when read, not written. Every run
-- estimates a population prior (mean, sd, se of the mean, closing-line miss kappa) from all
-- wallets; on a real population it moves every run, and a wallet's posterior edge, its
-- probabilities, its measured edge (kappa), its volume factor and raw score move with it: the
-- upsert used to rewrite every row of orderflow_wallet_stats every run.
--
-- A run now stores the population once (orderflow_reputation_population, the current one) and,
-- per wallet, only what its own inputs decide: factor_figures holds the figures of
-- orderflow.reputation.scores_sql.FIGURES with the population-dependent positions NULL (6
-- follower_cost, 7-10 the prior, 11 raw_score, 12-15 the posterior and its probabilities, 16-17
-- the measured edge, 23 the volume factor) and two own figures more (48 resid_se, 49 the
-- volume factor's evidence weight); edge, edge_raw, edge_se, p_edge_above_cost and
-- p_edge_below_zero are NULL in such a row. Score, tier and flags stay computed by the run.
--
-- orderflow_wallet_read(s) returns the row with those figures computed from its own and the
-- current population (the same float8 operations, in the same order, as
-- orderflow.reputation.factors.score; erf by W. J. Cody's rational approximations), and
-- orderflow_factors(s) builds the JSON from them. A row without own figures (written by hand,
-- or by a run before this migration) reads as stored. History snapshots keep the full figures
-- of their run.
CREATE TABLE orderflow_reputation_population (
    id              BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (id),  -- one row: the current one
    prior_mean      DOUBLE PRECISION NOT NULL,
    prior_sd        DOUBLE PRECISION NOT NULL,
    prior_mean_se   DOUBLE PRECISION NOT NULL,
    close_miss_sd   DOUBLE PRECISION NOT NULL,
    follower_cost   DOUBLE PRECISION NOT NULL,
    factor_z_scale  DOUBLE PRECISION NOT NULL,
    computed_at     TIMESTAMPTZ NOT NULL,
    as_of           TIMESTAMPTZ NOT NULL
);

-- erf(x) to double precision: W. J. Cody, "Rational Chebyshev approximations for the error
-- function", Math. Comp. 23 (1969), as in his CALERF (SPECFUN, 1985), with jint = 0.
CREATE FUNCTION orderflow_erf(x DOUBLE PRECISION)
RETURNS DOUBLE PRECISION LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    a CONSTANT float8[] := ARRAY[3.16112374387056560e00, 1.13864154151050156e02,
        3.77485237685302021e02, 3.20937758913846947e03, 1.85777706184603153e-1]::float8[];
    b CONSTANT float8[] := ARRAY[2.36012909523441209e01, 2.44024637934444173e02,
        1.28261652607737228e03, 2.84423683343917062e03]::float8[];
    c CONSTANT float8[] := ARRAY[5.64188496988670089e-1, 8.88314979438837594e00,
        6.61191906371416295e01, 2.98635138197400131e02, 8.81952221241769090e02,
        1.71204761263407058e03, 2.05107837782607147e03, 1.23033935479799725e03,
        2.15311535474403846e-8]::float8[];
    d CONSTANT float8[] := ARRAY[1.57449261107098347e01, 1.17693950891312499e02,
        5.37181101862009858e02, 1.62138957456669019e03, 3.29079923573345963e03,
        4.36261909014324716e03, 3.43936767414372164e03, 1.23033935480374942e03]::float8[];
    p CONSTANT float8[] := ARRAY[3.05326634961232344e-1, 3.60344899949804439e-1,
        1.25781726111229246e-1, 1.60837851487422766e-2, 6.58749161529837803e-4,
        1.63153871373020978e-2]::float8[];
    q CONSTANT float8[] := ARRAY[2.56852019228982242e00, 1.87295284992346047e00,
        5.27905102951428412e-1, 6.05183413124413191e-2, 2.33520497626869185e-3]::float8[];
    sqrpi CONSTANT float8 := 5.6418958354775628695e-1;  -- 1 / sqrt(pi)
    y float8 := abs(x);
    ysq float8 := 0;
    xnum float8;
    xden float8;
    del float8;
    res float8;
BEGIN
    IF y <= 0.46875 THEN  -- erf itself
        IF y > 1.11e-16 THEN ysq := y * y; END IF;
        xnum := a[5] * ysq;
        xden := ysq;
        FOR i IN 1..3 LOOP
            xnum := (xnum + a[i]) * ysq;
            xden := (xden + b[i]) * ysq;
        END LOOP;
        RETURN x * (xnum + a[4]) / (xden + b[4]);
    ELSIF y <= 4 THEN  -- erfc, then erf = 1 - erfc
        xnum := c[9] * y;
        xden := y;
        FOR i IN 1..7 LOOP
            xnum := (xnum + c[i]) * y;
            xden := (xden + d[i]) * y;
        END LOOP;
        res := (xnum + c[8]) / (xden + d[8]);
        ysq := trunc(y * 16) / 16;
        del := (y - ysq) * (y + ysq);
        res := exp(-ysq * ysq) * exp(-del) * res;
    ELSIF y >= 26.543 THEN  -- erfc underflows
        res := 0;
    ELSE
        ysq := 1 / (y * y);
        xnum := p[6] * ysq;
        xden := ysq;
        FOR i IN 1..4 LOOP
            xnum := (xnum + p[i]) * ysq;
            xden := (xden + q[i]) * ysq;
        END LOOP;
        res := ysq * (xnum + p[5]) / (xden + q[5]);
        res := (sqrpi - res) / y;
        ysq := trunc(y * 16) / 16;
        del := (y - ysq) * (y + ysq);
        res := exp(-ysq * ysq) * exp(-del) * res;
    END IF;
    res := (0.5 - res) + 0.5;
    RETURN CASE WHEN x < 0 THEN -res ELSE res END;
END
$$;

-- The full figures (scores_sql.FIGURES) of a wallet from its own figures and a population: the
-- operations of factors.measurement and factors.score, in their order. A full array (a history
-- snapshot, a row written before this migration: its prior is set) is returned as it is.
CREATE FUNCTION orderflow_posterior_figures(f DOUBLE PRECISION[],
                                            pop orderflow_reputation_population)
RETURNS DOUBLE PRECISION[] LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    kappa float8 := pop.close_miss_sd;
    mu float8 := pop.prior_mean;
    tau2 float8 := pop.prior_sd ^ 2::float8;  -- numpy: a Python float ** 2 (libm pow)
    rse float8 := coalesce(f[48], 0);
    k2 float8 := kappa ^ 2::float8;
    w float8;
    m float8;
    se float8;
    post_var float8;
    post_mean float8;
    weight_on_mu float8;
    post_sd float8;
    post_z float8 := 0;
    f_vol float8;
BEGIN
    IF f IS NULL OR pop.prior_sd IS NULL OR coalesce(array_length(f, 1), 0) < 49
       OR f[10] IS NOT NULL THEN
        RETURN f;
    END IF;
    -- factors.measurement: the closing line, plus the outcome's excess over it shrunk by w
    IF k2 + rse * rse > 0 THEN
        w := k2 / (k2 + rse * rse);
    END IF;
    m := f[20] + w * (f[18] - f[20]);
    se := sqrt(f[21] * f[21] + (w * rse) * (w * rse));
    IF m IS NULL OR se IS NULL THEN
        m := f[18];
        se := f[19];
    END IF;
    IF m IS NULL OR se IS NULL OR NOT se > 0 THEN
        m := NULL;
        se := NULL;
    END IF;
    -- factors.score: the posterior, the prior mean's own uncertainty passed through
    post_var := 1.0 / ((CASE WHEN m IS NULL THEN 0 ELSE 1.0 / (se * se) END) + 1.0 / tau2);
    post_mean := ((CASE WHEN m IS NULL THEN 0 ELSE m / (se * se) END) + mu / tau2) * post_var;
    weight_on_mu := post_var / tau2;
    post_var := post_var + (weight_on_mu * pop.prior_mean_se) * (weight_on_mu * pop.prior_mean_se);
    post_sd := sqrt(post_var);
    IF m IS NOT NULL THEN
        post_z := (post_mean - mu) / se;
    END IF;
    f_vol := 0.5 + 0.5 * f[49] * tanh(post_z / pop.factor_z_scale);
    f[6] := pop.follower_cost;
    f[7] := mu;
    f[8] := pop.prior_sd;
    f[9] := pop.prior_mean_se;
    f[10] := kappa;
    f[11] := 10.0 * (f[1] * f[34] + f[2] * f[38] + f[3] * f[43] + f[4] * f_vol + f[5] * f[47]);
    f[12] := post_mean;
    f[13] := post_sd;
    f[14] := 1.0 - 0.5 * (1.0 + orderflow_erf(((pop.follower_cost - post_mean) / post_sd)
                                              / sqrt(2.0::float8)));
    f[15] := 0.5 * (1.0 + orderflow_erf((-post_mean / post_sd) / sqrt(2.0::float8)));
    f[16] := m;
    f[17] := se;
    f[23] := f_vol;
    RETURN f;
END
$$;

-- A row of orderflow_wallet_stats as readers see it: with own figures, the population-dependent
-- figures and columns computed against the current population; else as stored.
CREATE FUNCTION orderflow_wallet_read(s orderflow_wallet_stats)
RETURNS orderflow_wallet_stats LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    f float8[] := s.factor_figures;
BEGIN
    IF f IS NULL OR coalesce(array_length(f, 1), 0) < 49 OR f[10] IS NOT NULL THEN
        RETURN s;
    END IF;
    f := orderflow_posterior_figures(f, (SELECT p FROM orderflow_reputation_population p));
    s.factor_figures := f;
    s.edge := f[12];
    s.edge_se := f[13];
    s.p_edge_above_cost := f[14];
    s.p_edge_below_zero := f[15];
    s.edge_raw := f[16];
    RETURN s;
END
$$;

-- Migration 020's JSON of a stats row, from the figures as read.
CREATE OR REPLACE FUNCTION orderflow_factors(s orderflow_wallet_stats)
RETURNS JSONB LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    r orderflow_wallet_stats := orderflow_wallet_read(s);
BEGIN
    IF r.factor_figures IS NULL THEN
        RETURN r.factors_stored;
    END IF;
    RETURN orderflow_factors(r.factor_figures, r.factor_volume_usdc, r.factor_counterparty,
                             r.factor_wash_host, r.reputation_score, r.trader_tier, r.flags);
END
$$;
