"""A frozen copy of the factors JSON as every run built and stored it before migration 020
(``orderflow.reputation.scores_sql`` at commit c2f3902: one ``jsonb_build_object`` over
``rep_wallets`` and ``rep_scores`` with the run's weights and prior inlined), for the test that
the JSON built when read (``orderflow_factors``) is the same. Since migration 060 the
behaviour also shows ``hedged_share`` (the HEDGED flag's figure), and since migration 082
``round_trip`` (WASH's round-trip figure), added here likewise.

Test helpers only: nothing in orderflow reads this module.
"""

from __future__ import annotations

from orderflow.reputation.prior import Prior

_MOVING = """
    'score', s.score, 'raw_score', round(s.raw_score::numeric, 4), 'tier', s.tier,
    'flags', to_jsonb(s.flags),
    'posterior', jsonb_build_object(
        'edge', s.edge, 'sd', s.edge_se, 'p_edge_above_cost', s.p_above_cost,
        'p_edge_below_zero', s.p_below_zero, 'follower_cost', {COST},
        'prior_mean', {MU}, 'prior_sd', {TAU}, 'prior_mean_se', {MU_SE},
        'close_miss_sd', {KAPPA},
        'measured', s.edge_raw, 'measured_se', s.edge_raw_se,
        'outcome_edge', s.outcome_edge, 'outcome_se', s.outcome_se,
        'clv_edge', s.clv_edge, 'clv_se', s.clv_se, 'events', w.events),
    'volume', jsonb_build_object(
        'value', s.f_vol, 'weight', {W4}, 'points', 10 * {W4} * s.f_vol,
        'volume_usdc', w.volume_usdc, 'events', w.events)"""

_OWN = """
    'behaviour', jsonb_build_object(
        'maker_volume_share', s.maker_share, 'penny_stake_share', s.penny_share,
        'top_counterparty', w.wash_counterparty,
        'group_share', w.wash_share,
        'group_closed_share', w.wash_counterparty_share,
        'group_fills', w.wash_fills,
        'price_deviation', nullif(w.wash_deviation, 'NaN'),
        'off_market_share', w.wash_off_share,
        'off_market_fills', w.wash_off_fills,
        'wash_host', w.wash_host_address, 'wash_host_share', w.wash_host_share,
        'wash_host_own_share', w.wash_host_own_share,
        'hedged_share', w.hedged_volume / nullif(w.buy_volume, 0),
        'round_trip', w.wash_round_trip),
    'win_rate', jsonb_build_object(
        'value', s.f_win, 'weight', {W1}, 'points', 10 * {W1} * s.f_win,
        'events', w.events, 'wins', w.wins, 'expected_wins', w.expected_wins,
        'z', s.win_z),
    'profit_factor', jsonb_build_object(
        'value', s.f_pf, 'weight', {W2}, 'points', 10 * {W2} * s.f_pf,
        'gross_profit', w.gross_profit, 'gross_loss', w.gross_loss,
        'null_loss', w.null_loss, 'shrunk', s.profit_factor_shrunk),
    'consistency', jsonb_build_object(
        'value', s.f_cons, 'weight', {W3}, 'points', 10 * {W3} * s.f_cons,
        'z_early', w.value_early / nullif(sqrt(w.var_early), 0),
        'z_late', w.value_late / nullif(sqrt(w.var_late), 0),
        'persistence_z', s.persistence_z),
    'timing', jsonb_build_object(
        'value', s.f_timing, 'weight', {W5}, 'points', 10 * {W5} * s.f_timing,
        'clv_edge', s.clv_edge, 'clv_se', s.clv_se)"""

# The full JSON of every wallet of rep_wallets / rep_scores, by address.
_FROZEN = f"""
SELECT w.wallet_address, jsonb_build_object({_OWN},{_MOVING}) AS factors
  FROM rep_wallets w
  JOIN rep_scores s ON s.idx = w.idx
"""


def frozen_factors(weights: dict[str, float], cost: float, prior: Prior) -> str:
    """The statement with the run's weights and prior, as ``final_view`` inlined them."""

    def lit(x: float) -> str:
        return f"{float(x)!r}::float8"

    return _FROZEN.format(
        W1=lit(weights["win_rate"]),
        W2=lit(weights["profit_factor"]),
        W3=lit(weights["consistency"]),
        W4=lit(weights["volume"]),
        W5=lit(weights["timing"]),
        COST=lit(cost),
        MU=lit(prior.mean),
        TAU=lit(prior.sd),
        MU_SE=lit(prior.mean_se),
        KAPPA=lit(prior.miss_sd),
    )
