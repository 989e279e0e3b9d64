-- The prior's skill tail (orderflow.reputation.prior, docs/reputation.md "Empirical Bayes").
--
-- A run's prior was one normal N(mu, tau^2). Most takers lose the spread and the fees and a few
-- percent have real edge; one normal centred on the many shrinks the few onto them however long
-- their records. The prior now has a second component where the data ask for one: weight
-- skill_share (pi), mean skill_mean, spread skill_sd and the standard error of that mean. With
-- pi = 0 (no tail: the default, and every row written before) a wallet's figures are computed
-- exactly as migration 022 computed them.
--
-- With a tail, a wallet's posterior is the two components' normal posteriors weighted by how
-- well each explains its measured edge m +- se (each component's marginal N(mean, sd^2 +
-- se(mean)^2 + se^2); the log odds clipped to +-700 before exp). Mean, sd and both
-- probabilities are the operations of orderflow.reputation.prior.posterior in their order, with
-- the C library's exp, ln and sqrt on both sides and migration 022's erf.

ALTER TABLE orderflow_reputation_population
    ADD COLUMN skill_share   DOUBLE PRECISION NOT NULL DEFAULT 0,
    ADD COLUMN skill_mean    DOUBLE PRECISION NOT NULL DEFAULT 0,
    ADD COLUMN skill_sd      DOUBLE PRECISION NOT NULL DEFAULT 0,
    ADD COLUMN skill_mean_se DOUBLE PRECISION NOT NULL DEFAULT 0;

-- Migration 022's function with the tail: the bulk's posterior as before; with pi > 0 the
-- tail's the same way, then the mixture.
CREATE OR REPLACE FUNCTION orderflow_posterior_figures(f DOUBLE PRECISION[],
                                                       pop orderflow_reputation_population)
RETURNS DOUBLE PRECISION[] LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    kappa float8 := pop.close_miss_sd;
    mu float8 := pop.prior_mean;
    tau2 float8 := pop.prior_sd ^ 2::float8;  -- numpy: a Python float ** 2 (libm pow)
    rse float8 := coalesce(f[48], 0);
    k2 float8 := kappa ^ 2::float8;
    share float8 := coalesce(pop.skill_share, 0);
    w float8;
    m float8;
    se float8;
    post_var float8;
    post_mean float8;
    weight_on_mu float8;
    post_sd float8;
    post_z float8 := 0;
    f_vol float8;
    p_above float8;
    p_below float8;
    -- the tail
    tau2_s float8;
    var_s float8;
    mean_s float8;
    weight_s float8;
    s2_b float8;
    s2_s float8;
    d_b float8;
    d_s float8;
    x float8;
    r_s float8;
    r_b float8;
    sd_b float8;
    sd_s float8;
    gap float8;
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
    -- prior._component for the bulk: the prior mean's own uncertainty passed through
    post_var := 1.0 / ((CASE WHEN m IS NULL THEN 0 ELSE 1.0 / (se * se) END) + 1.0 / tau2);
    post_mean := ((CASE WHEN m IS NULL THEN 0 ELSE m / (se * se) END) + mu / tau2) * post_var;
    weight_on_mu := post_var / tau2;
    post_var := post_var + (weight_on_mu * pop.prior_mean_se) * (weight_on_mu * pop.prior_mean_se);
    post_sd := sqrt(post_var);
    IF share > 0 THEN
        -- the tail's component, the same way
        tau2_s := pop.skill_sd ^ 2::float8;
        var_s := 1.0 / ((CASE WHEN m IS NULL THEN 0 ELSE 1.0 / (se * se) END) + 1.0 / tau2_s);
        mean_s := ((CASE WHEN m IS NULL THEN 0 ELSE m / (se * se) END)
                   + pop.skill_mean / tau2_s) * var_s;
        weight_s := var_s / tau2_s;
        var_s := var_s + (weight_s * pop.skill_mean_se) * (weight_s * pop.skill_mean_se);
        -- prior.tail_weight
        IF m IS NULL THEN
            r_s := share;
        ELSE
            s2_b := (pop.prior_sd ^ 2::float8 + pop.prior_mean_se ^ 2::float8) + se * se;
            s2_s := (pop.skill_sd ^ 2::float8 + pop.skill_mean_se ^ 2::float8) + se * se;
            d_b := m - mu;
            d_s := m - pop.skill_mean;
            x := ln((1.0 - share) / share)
                 + 0.5 * ((ln(s2_s / s2_b) + d_s * d_s / s2_s) - d_b * d_b / s2_b);
            x := least(greatest(x, -700.0::float8), 700.0::float8);
            r_s := 1.0 / (1.0 + exp(x));
        END IF;
        -- prior.posterior: the mixture
        r_b := 1.0 - r_s;
        sd_b := post_sd;
        sd_s := sqrt(var_s);
        gap := mean_s - post_mean;
        p_above := r_b * (1.0 - 0.5 * (1.0 + orderflow_erf(((pop.follower_cost - post_mean) / sd_b)
                                                            / sqrt(2.0::float8))))
                   + r_s * (1.0 - 0.5 * (1.0 + orderflow_erf(((pop.follower_cost - mean_s) / sd_s)
                                                              / sqrt(2.0::float8))));
        p_below := r_b * (0.5 * (1.0 + orderflow_erf((-post_mean / sd_b) / sqrt(2.0::float8))))
                   + r_s * (0.5 * (1.0 + orderflow_erf((-mean_s / sd_s) / sqrt(2.0::float8))));
        post_var := r_b * post_var + r_s * var_s + r_b * r_s * (gap * gap);
        post_mean := r_b * post_mean + r_s * mean_s;
        post_sd := sqrt(post_var);
    ELSE
        p_above := 1.0 - 0.5 * (1.0 + orderflow_erf(((pop.follower_cost - post_mean) / post_sd)
                                                    / sqrt(2.0::float8)));
        p_below := 0.5 * (1.0 + orderflow_erf((-post_mean / post_sd) / sqrt(2.0::float8)));
    END IF;
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
    f[14] := p_above;
    f[15] := p_below;
    f[16] := m;
    f[17] := se;
    f[23] := f_vol;
    RETURN f;
END
$$;
