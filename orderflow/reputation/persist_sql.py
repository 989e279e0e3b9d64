"""What a reputation run writes: score history snapshots, ``orderflow_wallet_stats``, and the
issues found in ``rep_positions`` (see :mod:`orderflow.reputation.positions_sql`)."""

from __future__ import annotations

# Before the upsert: the wallets whose score, tier or flags change, with the full figures of
# their factors JSON (the row stores its own figures only: migration 022).
HISTORY_WALLETS = """
CREATE TEMP TABLE rep_history ON COMMIT DROP AS
SELECT f.wallet_address, f.factor_figures
  FROM rep_final f
  LEFT JOIN orderflow_wallet_stats ws ON ws.wallet_address = f.wallet_address
 WHERE ws.reputation_score IS DISTINCT FROM f.score
    OR ws.trader_tier IS DISTINCT FROM f.tier
    OR ws.flags IS DISTINCT FROM f.flags
"""

# The figures of the factors JSON, stored with the row (migration 020: orderflow_factors() makes
# the JSON when read).
FACTOR_COLUMNS = ("factor_figures", "factor_volume_usdc", "factor_counterparty", "factor_wash_host")

# $1 = computed_at. After the upsert: their snapshots, copied from the rows just written, with
# the figures as the run computed them (frozen: not read against a later population).
HISTORY = f"""
INSERT INTO orderflow_reputation_history
       (wallet_address, reputation_score, trader_tier, resolved_positions, computed_at, flags,
        {", ".join(FACTOR_COLUMNS)})
SELECT ws.wallet_address, ws.reputation_score, ws.trader_tier, ws.resolved_positions,
       $1::timestamptz, ws.flags, h.factor_figures,
       {", ".join(f"ws.{c}" for c in FACTOR_COLUMNS[1:])}
  FROM rep_history h
  JOIN orderflow_wallet_stats ws ON ws.wallet_address = h.wallet_address
"""

# wins / losses / gross profit and loss / profit_factor / roi are the wallet's P&L per resolved
# event (all its fills); edge, edge_raw, edge_se and the probabilities (the posterior of its
# taker decisions, see orderflow.reputation.factors) depend on the population: a run stores them
# NULL with the wallet's own figures, and orderflow_wallet_read() computes them when read against
# the current orderflow_reputation_population row (migration 022).
_STATS_COLUMNS = (
    "total_trades", "total_volume_usdc", "markets_traded", "resolved_positions", "wins", "losses",
    "win_rate", "gross_profit", "gross_loss", "profit_factor", "realized_pnl", "unrealized_pnl",
    "roi", "consistency", "timing", "avg_holding_secs", "first_trade_at", "last_trade_at",
    "reputation_score", "trader_tier", "computed_at", "updated_at", "edge", "edge_raw",
    "edge_se", "resolved_buys", "fees_paid", "open_positions", "as_of", "flags",
    "p_edge_above_cost", "p_edge_below_zero", "events_resolved", "clv_edge", "clv_se",
    "maker_volume_share", *FACTOR_COLUMNS, "factors_stored",
)  # fmt: skip
_UNCHANGED = (
    "total_trades", "total_volume_usdc", "markets_traded", "resolved_positions", "realized_pnl",
    "unrealized_pnl", "fees_paid", "open_positions", "first_trade_at", "last_trade_at",
    "reputation_score", "trader_tier", "flags", *FACTOR_COLUMNS, "factors_stored",
)  # fmt: skip


# $1 = computed_at, $2 = as_of. The upsert of ``rep_final`` into ``orderflow_wallet_stats``: every
# column a run computes, the factors JSON as its own figures (``factors_stored``, a JSON stored
# before migration 020, is cleared: the figures replace it), the population's part NULL.
UPSERT_STATS = f"""
INSERT INTO orderflow_wallet_stats AS ws (wallet_address, {", ".join(_STATS_COLUMNS)})
SELECT f.wallet_address, f.total_trades, f.volume_usdc, f.markets_traded, f.resolved,
       f.pnl_wins, f.pnl_losses,
       CASE WHEN f.pnl_wins + f.pnl_losses > 0
            THEN f.pnl_wins::float8 / (f.pnl_wins + f.pnl_losses) END,
       f.pnl_gross_profit, f.pnl_gross_loss,
       CASE WHEN f.pnl_gross_loss > 0 THEN (f.pnl_gross_profit / f.pnl_gross_loss)::float8 END,
       f.realized_pnl, f.unrealized_pnl,
       CASE WHEN f.resolved_cost > 0 THEN (f.resolved_pnl / f.resolved_cost)::float8 END,
       f.f_cons, f.f_timing, f.holding_secs, f.first_at, f.last_at, f.score, f.tier,
       $1::timestamptz, now(), NULL::float8, NULL::float8, NULL::float8, f.events::int, f.fees,
       f.open_positions, $2::timestamptz, f.flags, NULL::float8, NULL::float8,
       f.events::int, f.clv_edge, f.clv_se, f.maker_share,
       f.own_figures, f.volume_usdc, f.wash_counterparty, f.wash_host_address, NULL::jsonb
  FROM rep_final f
ON CONFLICT (wallet_address) DO UPDATE SET
    {", ".join(f"{c} = EXCLUDED.{c}" for c in _STATS_COLUMNS)}
-- A wallet whose own figures, score, tier and flags did not change is not rewritten (most
-- wallets between two hourly runs, even when the population moved: the figures that depend on
-- it are computed when read): its computed_at / as_of say when its values were last
-- (re)computed differently. The factors JSON is compared as its own figures (equal float8
-- figures make equal JSON numbers; two figures that differ only beyond the JSON's 15 digits
-- rewrite a row whose JSON reads the same).
WHERE ({", ".join(f"ws.{c}" for c in _UNCHANGED)})
      IS DISTINCT FROM
      ({", ".join(f"EXCLUDED.{c}" for c in _UNCHANGED)})
"""


# $1..$4 = the prior (mean, sd, se of the mean, closing-line miss sd), $5 = follower_cost,
# $6 = factor_z_scale, $7 = computed_at, $8 = as_of: the population the rows are read against.
POPULATION = """
INSERT INTO orderflow_reputation_population
       (id, prior_mean, prior_sd, prior_mean_se, close_miss_sd, follower_cost, factor_z_scale,
        computed_at, as_of)
VALUES (TRUE, $1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (id) DO UPDATE SET
    prior_mean = EXCLUDED.prior_mean, prior_sd = EXCLUDED.prior_sd,
    prior_mean_se = EXCLUDED.prior_mean_se, close_miss_sd = EXCLUDED.close_miss_sd,
    follower_cost = EXCLUDED.follower_cost, factor_z_scale = EXCLUDED.factor_z_scale,
    computed_at = EXCLUDED.computed_at, as_of = EXCLUDED.as_of
"""

CLEAR_ISSUES = "DELETE FROM orderflow_reputation_issues"

# $1 = computed_at, $2 = as_of.
ISSUES = """
INSERT INTO orderflow_reputation_issues
       (kind, token_id, market_id, wallets, trades, detail, as_of, computed_at)
SELECT problem, token_id, min(market_id), count(*), sum(fills),
       CASE problem
           WHEN 'UNKNOWN_TOKEN'
               THEN 'no market_id on its trades and no orderflow_tokens row: cannot settle'
           WHEN 'ZERO_PAYOUT' THEN 'market resolved with payouts ' || min(problem_payouts)
                                   || ' summing to 0: treated as unresolved'
           ELSE 'market resolved with payouts ' || min(problem_payouts)
                || ' unusable for this outcome: treated as unresolved'
       END,
       $2::timestamptz, $1::timestamptz
  FROM rep_positions
 WHERE problem IS NOT NULL
 GROUP BY problem, token_id
"""

ISSUE_COUNTS = """
SELECT problem, count(*) AS positions, count(DISTINCT token_id) AS tokens
  FROM rep_positions WHERE problem IS NOT NULL GROUP BY problem
"""

# The same from the stored issues (an incremental run holds only the dirty wallets' positions).
STORED_ISSUE_COUNTS = """
SELECT kind AS problem, sum(wallets) AS positions, count(*) AS tokens
  FROM orderflow_reputation_issues GROUP BY kind
"""
