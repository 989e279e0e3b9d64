"""What a reputation run writes: score history snapshots, ``orderflow_wallet_stats``, and the
issues found in ``rep_positions`` (see :mod:`orderflow.reputation.positions_sql`)."""

from __future__ import annotations

from orderflow.reputation.probe import among

# The figures of the factors JSON, stored with the row (migration 020: orderflow_factors() makes
# the JSON when read).
FACTOR_COLUMNS = ("factor_figures", "factor_volume_usdc", "factor_counterparty", "factor_wash_host")

# wins / losses / gross profit and loss / profit_factor / roi are the wallet's P&L per resolved
# event (all its fills); edge, edge_raw, edge_se and the probabilities (the posterior of its
# taker decisions, see orderflow.reputation.factors) depend on the population: a run stores them
# NULL with the wallet's own figures, and orderflow_wallet_read() computes them when read against
# the current orderflow_reputation_population row (migration 022). The factors JSON is stored as
# its own figures (``factors_stored``, a JSON stored before migration 020, is cleared: the figures
# replace it). The unrealized P&L is not written either: readers compute it from the open
# positions and the marks (migration 098, orderflow.reputation.unrealized), so a mark that moves
# rewrites no holder's row. $1 = computed_at, $2 = as_of.
_ROW = (
    ("total_trades", "f.total_trades"),
    ("total_volume_usdc", "f.volume_usdc"),
    ("markets_traded", "f.markets_traded"),
    ("resolved_positions", "f.resolved"),
    ("wins", "f.pnl_wins"),
    ("losses", "f.pnl_losses"),
    ("win_rate", "CASE WHEN f.pnl_wins + f.pnl_losses > 0"
                 " THEN f.pnl_wins::float8 / (f.pnl_wins + f.pnl_losses) END"),
    ("gross_profit", "f.pnl_gross_profit"),
    ("gross_loss", "f.pnl_gross_loss"),
    ("profit_factor", "CASE WHEN f.pnl_gross_loss > 0"
                      " THEN (f.pnl_gross_profit / f.pnl_gross_loss)::float8 END"),
    ("realized_pnl", "f.realized_pnl"),
    ("roi", "CASE WHEN f.resolved_cost > 0 THEN (f.resolved_pnl / f.resolved_cost)::float8 END"),
    ("consistency", "f.f_cons"),
    ("timing", "f.f_timing"),
    ("avg_holding_secs", "f.holding_secs"),
    ("first_trade_at", "f.first_at"),
    ("last_trade_at", "f.last_at"),
    ("reputation_score", "f.score"),
    ("trader_tier", "f.tier"),
    ("computed_at", "$1::timestamptz"),
    ("updated_at", "now()"),
    ("edge", "NULL::float8"),
    ("edge_raw", "NULL::float8"),
    ("edge_se", "NULL::float8"),
    ("resolved_buys", "f.events::int"),
    ("fees_paid", "f.fees"),
    ("open_positions", "f.open_positions"),
    ("as_of", "$2::timestamptz"),
    ("flags", "f.flags"),
    ("p_edge_above_cost", "NULL::float8"),
    ("p_edge_below_zero", "NULL::float8"),
    ("events_resolved", "f.events::int"),
    ("clv_edge", "f.clv_edge"),
    ("clv_se", "f.clv_se"),
    ("maker_volume_share", "f.maker_share"),
    ("factor_figures", "f.own_figures"),
    ("factor_volume_usdc", "f.volume_usdc"),
    ("factor_counterparty", "f.wash_counterparty"),
    ("factor_wash_host", "f.wash_host_address"),
    ("factors_stored", "NULL::jsonb"),
)  # fmt: skip
_STATS_COLUMNS = tuple(c for c, _ in _ROW)
# What decides whether a stored row is rewritten: a wallet whose own figures, P&L, score, tier and
# flags did not change is not (most wallets between two runs, even when the population moved: the
# figures that depend on it are computed when read); its computed_at / as_of say when its values
# were last (re)computed differently. The factors JSON is compared as its own figures (equal
# float8 figures make equal JSON numbers; two figures that differ only beyond the JSON's 15
# digits rewrite a row whose JSON reads the same).
_UNCHANGED = (
    "total_trades", "total_volume_usdc", "markets_traded", "resolved_positions", "realized_pnl",
    "fees_paid", "open_positions", "first_trade_at", "last_trade_at",
    "reputation_score", "trader_tier", "flags", *FACTOR_COLUMNS, "factors_stored",
)  # fmt: skip
_SNAPSHOT = ("reputation_score", "trader_tier", "flags")


def _distinct(old: str, new: str, columns: tuple[str, ...]) -> str:
    return (
        f"({', '.join(f'{old}.{c}' for c in columns)}) IS DISTINCT FROM "
        f"({', '.join(f'{new}.{c}' for c in columns)})"
    )


# $1 = computed_at, $2 = as_of. ``rep_write``: the rows of ``rep_final`` as the upsert writes them,
# only those that differ from the stored row (or have none), found by one join rather than by an
# ``ON CONFLICT`` probe and row lock per wallet; ``snapshot``: the score, tier or flags change (a
# history row is written), with the figures of its factors JSON as this run computed them (the
# population's part included, frozen: not read against a later population).
_CHANGED_ROWS = f"""
CREATE TEMP TABLE rep_write ON COMMIT DROP AS
SELECT n.*, CASE WHEN ws.wallet_address IS NULL OR {_distinct("ws", "n", _SNAPSHOT)}
                 THEN n.all_figures END AS snapshot_figures
  FROM (SELECT f.wallet_address, {", ".join(f"{e} AS {c}" for c, e in _ROW)},
               f.factor_figures AS all_figures
          FROM rep_final f) AS n
  LEFT JOIN {{stored}} ws ON ws.wallet_address = n.wallet_address
 WHERE ws.wallet_address IS NULL OR {_distinct("ws", "n", _UNCHANGED)}
"""


def _stored(keys: str, *, incremental: bool) -> str:
    """``orderflow_wallet_stats`` as a join reads it: an incremental run's few rows (``keys``,
    a query of their addresses) read at those keys (orderflow.reputation.probe), not the whole
    table hashed (1.3 GB at 1 M wallets: ≈ 1 s of CPU for 25,000 rows); a full run's, whose
    rows are every wallet's, the whole table."""
    if not incremental:
        return "orderflow_wallet_stats"
    return f"""(SELECT * FROM orderflow_wallet_stats s
          WHERE {among("s.wallet_address", keys)})"""


def changed_rows(*, incremental: bool) -> str:
    """``rep_write`` (:data:`_CHANGED_ROWS`): the stored rows read at ``rep_final``'s wallets."""
    stored = _stored("SELECT wallet_address FROM rep_final", incremental=incremental)
    return _CHANGED_ROWS.format(stored=stored)


# ``rep_write`` into ``orderflow_wallet_stats`` (the same test again under the row lock: the rows
# are those CHANGED_ROWS found).
UPSERT_STATS = f"""
INSERT INTO orderflow_wallet_stats AS ws (wallet_address, {", ".join(_STATS_COLUMNS)})
SELECT wallet_address, {", ".join(_STATS_COLUMNS)} FROM rep_write
ON CONFLICT (wallet_address) DO UPDATE SET
    {", ".join(f"{c} = EXCLUDED.{c}" for c in _STATS_COLUMNS)}
WHERE {_distinct("ws", "EXCLUDED", _UNCHANGED)}
"""

# The row of a wallet the run scored no more because the chain took back every fill it had (a
# reorg's rollback, a retracted block, the node's logs replacing an import): made what a wallet
# never scored has (each computed column at its default; the counters, first and last trade
# times are the insert trigger's and the rollback's), not left with the score, tier, flags and
# figures of fills no longer stored. ``{candidates}``: the wallets to look at (an incremental run:
# the claimed wallets it did not score; a full run: every scored row). The reset is a change of
# score and tier: each row reset gets a history row copied from it (no score, no tier: migration
# 076), or the history's newest row kept the tier of the orphaned fills. $1 = computed_at.
_KEPT = ("total_trades", "total_volume_usdc", "first_trade_at", "last_trade_at", "updated_at")
# The candidates first — the scored rows the run did not score, one hashed set difference — and
# the trades probed for those only: probing every scored row against the view and each trades
# partition cost ≈ 1 s a full run at 100,000 wallets (docs/benchmarks.md, twenty-first session).
_GONE = """
WITH gone AS (
UPDATE orderflow_wallet_stats ws
   SET {reset}, updated_at = now()
  FROM ({candidates}) g
 WHERE ws.wallet_address = g.wallet_address
   AND NOT EXISTS (SELECT 1 FROM orderflow_trades t WHERE t.wallet_address = g.wallet_address)
RETURNING ws.*
)
INSERT INTO orderflow_reputation_history
       (wallet_address, reputation_score, trader_tier, resolved_positions, computed_at, flags,
        {factors})
SELECT wallet_address, reputation_score, trader_tier, resolved_positions, $1::timestamptz,
       flags, {factors}
  FROM gone
"""


# A full run's candidates: its scored rows it did not score.
_UNSCORED_ROWS = """SELECT s.wallet_address FROM orderflow_wallet_stats s
         WHERE s.computed_at IS NOT NULL
        EXCEPT
        SELECT f.wallet_address FROM rep_final f"""
# An incremental run's: the claimed wallets it did not score (a claimed wallet still holding
# fills is among the rows it sends back) that have a scored row, read at those keys alone
# (orderflow.reputation.probe) -- not every claimed wallet probed to find none.
_UNSCORED_KEYS = """SELECT k.wallet_address FROM rep_dirty_keys k
                 WHERE NOT EXISTS (SELECT 1 FROM rep_final f
                                    WHERE f.wallet_address = k.wallet_address)"""
_UNSCORED_CLAIMS = f"""SELECT s.wallet_address FROM orderflow_wallet_stats s
         WHERE s.computed_at IS NOT NULL AND {among("s.wallet_address", _UNSCORED_KEYS)}"""


def reset_without_fills(*, incremental: bool) -> str:
    """The reset (``_GONE``); its status ``INSERT 0 n`` counts the history rows it wrote."""
    reset = ", ".join(f"{c} = DEFAULT" for c in _STATS_COLUMNS if c not in _KEPT)
    candidates = _UNSCORED_CLAIMS if incremental else _UNSCORED_ROWS
    return _GONE.format(reset=reset, candidates=candidates, factors=", ".join(FACTOR_COLUMNS))


# $1 = computed_at. After the upsert: the snapshots of the rows whose score, tier or flags
# changed, copied from the rows just written, with the figures as the run computed them.
_HISTORY = f"""
INSERT INTO orderflow_reputation_history
       (wallet_address, reputation_score, trader_tier, resolved_positions, computed_at, flags,
        {", ".join(FACTOR_COLUMNS)})
SELECT ws.wallet_address, ws.reputation_score, ws.trader_tier, ws.resolved_positions,
       $1::timestamptz, ws.flags, h.snapshot_figures,
       {", ".join(f"ws.{c}" for c in FACTOR_COLUMNS[1:])}
  FROM rep_write h
  JOIN {{stored}} ws ON ws.wallet_address = h.wallet_address
 WHERE h.snapshot_figures IS NOT NULL
"""


def history(*, incremental: bool) -> str:
    """:data:`_HISTORY`, the stored rows read at the snapshots' wallets."""
    keys = "SELECT wallet_address FROM rep_write WHERE snapshot_figures IS NOT NULL"
    return _HISTORY.format(stored=_stored(keys, incremental=incremental))


# $1 = as_of. What an ``--as-of`` run writes, and all it writes (a look at the past: the stored
# rows, the population row and the next incremental run's inputs stay as the last live run left
# them): a history row stamped ``as_of`` for each wallet it scored whose score, tier or flags
# differ from its last history row at or before ``as_of`` (or that has none), with the figures of
# its factors JSON as computed then. Looking at the same time again writes nothing.
AS_OF_HISTORY = f"""
INSERT INTO orderflow_reputation_history
       (wallet_address, reputation_score, trader_tier, resolved_positions, computed_at, flags,
        {", ".join(FACTOR_COLUMNS)})
SELECT f.wallet_address, f.score, f.tier, f.resolved, $1::timestamptz, f.flags,
       f.factor_figures, f.volume_usdc, f.wash_counterparty, f.wash_host_address
  FROM rep_final f
  LEFT JOIN LATERAL (
        SELECT h.reputation_score, h.trader_tier, h.flags
          FROM orderflow_reputation_history h
         WHERE h.wallet_address = f.wallet_address AND h.computed_at <= $1::timestamptz
         ORDER BY h.computed_at DESC, h.id DESC
         LIMIT 1) p ON TRUE
 WHERE (p.reputation_score, p.trader_tier, p.flags)
       IS DISTINCT FROM (f.score::numeric(4, 2), f.tier, f.flags)
"""

# The positions per problem of ``rep_positions`` (an ``--as-of`` run's: it stores no issues).
POSITION_ISSUE_COUNTS = """
SELECT problem, count(*) AS positions FROM rep_positions WHERE problem IS NOT NULL GROUP BY problem
"""

# $1..$4 = the prior's bulk (mean, sd, se of the mean, closing-line miss sd), $5 = follower_cost,
# $6 = factor_z_scale, $7 = computed_at, $8 = as_of, $9..$12 = its skill tail (share, mean, sd,
# se of the mean; share 0: none): the population the rows are read against.
POPULATION = """
INSERT INTO orderflow_reputation_population
       (id, prior_mean, prior_sd, prior_mean_se, close_miss_sd, follower_cost, factor_z_scale,
        computed_at, as_of, skill_share, skill_mean, skill_sd, skill_mean_se)
VALUES (TRUE, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (id) DO UPDATE SET
    prior_mean = EXCLUDED.prior_mean, prior_sd = EXCLUDED.prior_sd,
    prior_mean_se = EXCLUDED.prior_mean_se, close_miss_sd = EXCLUDED.close_miss_sd,
    follower_cost = EXCLUDED.follower_cost, factor_z_scale = EXCLUDED.factor_z_scale,
    computed_at = EXCLUDED.computed_at, as_of = EXCLUDED.as_of,
    skill_share = EXCLUDED.skill_share, skill_mean = EXCLUDED.skill_mean,
    skill_sd = EXCLUDED.skill_sd, skill_mean_se = EXCLUDED.skill_mean_se
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

# Positions and tokens per problem, from the stored issues (one row per (problem, token) with its
# positions: ISSUES above; an incremental run holds only the dirty wallets' positions, and a full
# run's would be a scan of millions of rows).
ISSUE_COUNTS = """
SELECT kind AS problem, sum(wallets) AS positions, count(*) AS tokens
  FROM orderflow_reputation_issues GROUP BY kind
"""
