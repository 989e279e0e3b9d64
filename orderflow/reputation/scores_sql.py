"""The score half of the run's SQL: the factor inputs out of ``rep_wallets``, the numpy results
back as ``rep_scores``, and ``rep_final`` (wallets + scores + the factors JSON) with the rows
read from it (see :mod:`orderflow.reputation.positions_sql` for the whole run)."""

from __future__ import annotations

from orderflow.reputation.factors import TIERS, Prior
from orderflow.reputation.flags import FLAGS


def inputs_layout(columns: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """The columns of :func:`inputs_copy` with their types."""
    return (("idx", "int4"), *((c, "float8") for c in columns))


def inputs_copy(columns: tuple[str, ...]) -> str:
    """The query of the factor inputs, read as a binary COPY stream
    (:mod:`orderflow.reputation.binary_copy`): one row per wallet in address order (the
    population step's sums then add in the same order whatever built ``rep_wallets``: a full
    and an incremental run agree to the last bit), the wallet's ``idx`` (int4) then one float8
    per column (NaN: none)."""
    cols = ",\n       ".join(f"coalesce({c}::float8, 'NaN')" for c in columns)
    return f"""
SELECT w.idx::int4, {cols}
  FROM (SELECT w.*, h.pos::float8 AS wash_host
          FROM (SELECT r.*, row_number() OVER (ORDER BY r.wallet_address COLLATE "C") - 1 AS pos
                  FROM rep_wallets r) AS w
          -- a wash counterparty's host as its position in these rows (numpy reads its flags)
          LEFT JOIN (SELECT wallet_address,
                            row_number() OVER (ORDER BY wallet_address COLLATE "C") - 1 AS pos
                       FROM rep_wallets) AS h ON h.wallet_address = w.wash_host_address
         ORDER BY w.pos) AS w"""


# Per-wallet results computed in numpy, sent back by binary COPY into ``rep_scores_in`` (NaN for
# none; the tier as its index in TIERS, the flags as their bit set over FLAGS), then
# ``rep_scores`` with NULLs, the score as numeric and the tier and flags by name.
SCORE_COLUMNS = (
    "outcome_edge", "outcome_se", "clv_edge", "clv_se", "edge_raw", "edge_raw_se", "edge",
    "edge_se", "p_above_cost", "p_below_zero", "win_z", "profit_factor_shrunk", "persistence_z",
    "maker_share", "penny_share", "f_win", "f_pf", "f_cons", "f_vol", "f_timing", "raw_score",
    "score",
)  # fmt: skip
SCORES_IN_COLUMNS = (
    ("idx", "int4"),
    *((c, "float8") for c in SCORE_COLUMNS),
    ("tier", "int2"),
    ("flags", "int2"),
)
SCORES_IN = f"""
CREATE TEMP TABLE rep_scores_in ({", ".join(f"{c} {t}" for c, t in SCORES_IN_COLUMNS)})
    ON COMMIT DROP
"""


# ``rep_scores`` from ``rep_scores_in``.
_TIERS = ", ".join(f"'{t}'" for t in TIERS)
_FLAGS = ", ".join(f"'{f}'" for f in FLAGS)
_SCORE_VALUES = ", ".join(
    f"nullif(s.{c}, 'NaN') AS {c}" if c != "score" else "s.score::numeric(4, 2) AS score"
    for c in SCORE_COLUMNS
)
SCORES_TABLE = f"""
CREATE TEMP TABLE rep_scores ON COMMIT DROP AS
SELECT s.idx, {_SCORE_VALUES}, (ARRAY[{_TIERS}])[s.tier + 1] AS tier,
       CASE WHEN s.flags = 0 THEN '{{}}'::text[]
            ELSE ARRAY(SELECT f.name FROM unnest(ARRAY[{_FLAGS}]) WITH ORDINALITY AS f(name, bit)
                        WHERE s.flags & (1 << (f.bit::int - 1)) <> 0 ORDER BY f.bit) END AS flags
  FROM rep_scores_in s
"""


# The factors JSON in two parts. ``factors_moving``: what the population (prior, closing-line
# miss, false-discovery cuts) moves with every run for every wallet -- score, tier, flags (a
# wash host's flags reach its counterparties), the posterior and the volume factor;
# ``factors`` = the wallet's own part and factors_moving's keys. A wallet whose own inputs did
# not change keeps its stored own part and gets only factors_moving anew
# (persist_sql.upsert_stats): the same JSON, for the moving part's share of the cost.
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
        'wash_host_own_share', w.wash_host_own_share),
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

# One jsonb_build_object for the whole JSON (a `||` of the two parts would serialise it twice).
_FINAL = f"""
CREATE TEMP VIEW rep_final AS
SELECT w.*, {{SCORE_COLS}}, s.tier, s.flags,
       jsonb_build_object({_OWN},{_MOVING}) AS factors,
       jsonb_build_object({_MOVING}) AS factors_moving
  FROM rep_wallets w
  JOIN rep_scores s ON s.idx = w.idx
"""

# What the stored own part depends on besides the inputs (incremental.fingerprint).
JSON_SQL = _FINAL


def final_view(weights: dict[str, float], cost: float, prior: Prior) -> str:
    """``rep_final``: a view (not a table) so the factors JSON is only built where a statement
    reads it -- by the upsert, for every wallet (the history copies the rows it wrote).
    Weights and the prior are inlined as float literals (views take no parameters)."""

    def lit(x: float) -> str:
        return f"{float(x)!r}::float8"

    return _FINAL.format(
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
        SCORE_COLS=", ".join(f"s.{c}" for c in SCORE_COLUMNS),
    )


# Views are not dropped on commit like the temp tables they read: drop it explicitly.
DROP_FINAL = "DROP VIEW IF EXISTS rep_final"

SCORE_ROWS = """
SELECT f.wallet_address, f.score, f.tier, f.edge, f.edge_raw, f.edge_se, f.events, f.resolved,
       f.pnl_wins AS wins, f.pnl_losses AS losses, f.factors, f.flags, f.p_above_cost,
       f.p_below_zero, f.clv_edge, f.clv_se, f.maker_share
  FROM rep_final f
"""
