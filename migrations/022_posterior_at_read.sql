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
-- orderflow.reputation.factors.score; erf as the C library computes it), and
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

-- erf(x) to double precision, as the C library computes it (numpy's probabilities call libm's
-- erf): the algorithm and coefficients of Sun's fdlibm s_erf.c (1993: less than one ulp), with
-- the evaluation order of glibc's version of it (N. Shimizu, 1997: the polynomials split in even
-- and odd parts), which glibc up to 2.40 ships. Against this machine's glibc 2.36 it is equal to
-- the bit (tests/reputation/test_posterior_at_read.py: a dense grid, the intervals' edges, both
-- tails); against a correctly rounded erf (glibc 2.41 on) it is within one ulp.
CREATE FUNCTION orderflow_erf(x DOUBLE PRECISION)
RETURNS DOUBLE PRECISION LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    erx CONSTANT float8 := 8.45062911510467529297e-01;  -- erf(1) rounded to 24 bits
    efx CONSTANT float8 := 1.28379167095512586316e-01;  -- 2 / sqrt(pi) - 1
    -- erf(x) = x + x P(x^2) / Q(x^2) on [0, 0.84375)
    pp CONSTANT float8[] := ARRAY[1.28379167095512558561e-01, -3.25042107247001499370e-01,
        -2.84817495755985104766e-02, -5.77027029648944159157e-03,
        -2.37630166566501626084e-05]::float8[];
    qq CONSTANT float8[] := ARRAY[3.97917223959155352819e-01, 6.50222499887672944485e-02,
        5.08130628187576562776e-03, 1.32494738004321644526e-04,
        -3.96022827877536812320e-06]::float8[];
    -- erf(x) = erx + P(s) / Q(s), s = x - 1, on [0.84375, 1.25)
    pa CONSTANT float8[] := ARRAY[-2.36211856075265944077e-03, 4.14856118683748331666e-01,
        -3.72207876035701323847e-01, 3.18346619901161753674e-01, -1.10894694282396677476e-01,
        3.54783043256182359371e-02, -2.16637559486879084300e-03]::float8[];
    qa CONSTANT float8[] := ARRAY[1.06420880400844228286e-01, 5.40397917702171048937e-01,
        7.18286544141962662868e-02, 1.26171219808761642112e-01, 1.36370839120290507362e-02,
        1.19844998467991074170e-02]::float8[];
    -- erfc(x) = exp(-x^2 - 0.5625 + R(1/x^2) / S(1/x^2)) / x on [1.25, 1/0.35) ...
    ra CONSTANT float8[] := ARRAY[-9.86494403484714822705e-03, -6.93858572707181764372e-01,
        -1.05586262253232909814e+01, -6.23753324503260060396e+01, -1.62396669462573470355e+02,
        -1.84605092906711035994e+02, -8.12874355063065934246e+01,
        -9.81432934416914548592e+00]::float8[];
    sa CONSTANT float8[] := ARRAY[1.96512716674392571292e+01, 1.37657754143519042600e+02,
        4.34565877475229228821e+02, 6.45387271733267880336e+02, 4.29008140027567833386e+02,
        1.08635005541779435134e+02, 6.57024977031928170135e+00,
        -6.04244152148580987438e-02]::float8[];
    -- ... and on [1/0.35, 6) (beyond, erf is 1 to double precision)
    rb CONSTANT float8[] := ARRAY[-9.86494292470009928597e-03, -7.99283237680523006574e-01,
        -1.77579549177547519889e+01, -1.60636384855821916062e+02, -6.37566443368389627722e+02,
        -1.02509513161107724954e+03, -4.83519191608651397019e+02]::float8[];
    sb CONSTANT float8[] := ARRAY[3.03380607434824582924e+01, 3.25792512996573918826e+02,
        1.53672958608443695994e+03, 3.19985821950859553908e+03, 2.55305040643316442583e+03,
        4.74528541206955367215e+02, -2.24409524465858183362e+01]::float8[];
    ax float8 := abs(x);
    z float8;
    s float8;
    s2 float8;
    s4 float8;
    s6 float8;
    p float8;
    q float8;
    r float8;
    e int;
BEGIN
    IF ax < 0.84375 THEN
        IF ax < 3.7252902984619141e-09 THEN  -- 2^-28
            RETURN x + efx * x;
        END IF;
        z := x * x;
        s2 := z * z;
        s4 := s2 * s2;
        p := (pp[1] + z * pp[2]) + s2 * (pp[3] + z * pp[4]) + s4 * pp[5];
        q := (1 + z * qq[1]) + s2 * (qq[2] + z * qq[3]) + s4 * (qq[4] + z * qq[5]);
        RETURN x + x * (p / q);
    END IF;
    IF ax < 1.25 THEN
        s := ax - 1;
        s2 := s * s;
        s4 := s2 * s2;
        s6 := s4 * s2;
        p := (pa[1] + s * pa[2]) + s2 * (pa[3] + s * pa[4]) + s4 * (pa[5] + s * pa[6]) + s6 * pa[7];
        q := (1 + s * qa[1]) + s2 * (qa[2] + s * qa[3]) + s4 * (qa[4] + s * qa[5]) + s6 * qa[6];
        RETURN CASE WHEN x >= 0 THEN erx + p / q ELSE -erx - p / q END;
    END IF;
    IF ax >= 6 THEN
        RETURN CASE WHEN x >= 0 THEN 1.0::float8 ELSE -1.0::float8 END;
    END IF;
    s := 1 / (ax * ax);
    s2 := s * s;
    s4 := s2 * s2;
    s6 := s4 * s2;
    IF ax < 2.8571434020996094 THEN  -- 1/0.35 as fdlibm compares it (high word 0x4006DB6E)
        p := (ra[1] + s * ra[2]) + s2 * (ra[3] + s * ra[4]) + s4 * (ra[5] + s * ra[6])
             + s6 * (ra[7] + s * ra[8]);
        q := (1 + s * sa[1]) + s2 * (sa[2] + s * sa[3]) + s4 * (sa[4] + s * sa[5])
             + s6 * (sa[6] + s * sa[7]) + (s4 * s4) * sa[8];
    ELSE
        p := (rb[1] + s * rb[2]) + s2 * (rb[3] + s * rb[4]) + s4 * (rb[5] + s * rb[6]) + s6 * rb[7];
        q := (1 + s * sb[1]) + s2 * (sb[2] + s * sb[3]) + s4 * (sb[4] + s * sb[5])
             + s6 * (sb[6] + s * sb[7]);
    END IF;
    -- z: ax with the low 32 bits of its mantissa cleared (exact: ax is in [1.25, 6))
    e := CASE WHEN ax < 2 THEN 20 WHEN ax < 4 THEN 19 ELSE 18 END;
    z := trunc(ax * 2.0::float8 ^ e) / 2.0::float8 ^ e;
    r := exp(-z * z - 0.5625) * exp((z - ax) * (z + ax) + p / q);
    RETURN CASE WHEN x >= 0 THEN 1 - r / ax ELSE r / ax - 1 END;
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
