"""The score half of the run's SQL: the factor inputs out of ``rep_wallets``, the numpy results
back as ``rep_scores``, and ``rep_final`` (wallets + scores + the figures of the factors JSON)
with the rows read from it (see :mod:`orderflow.reputation.positions_sql` for the whole run)."""

from __future__ import annotations

from orderflow.reputation.binary_copy import packed
from orderflow.reputation.flags import FLAGS
from orderflow.reputation.prior import Prior
from orderflow.reputation.standing import Standing
from orderflow.reputation.tiers import TIERS

# The stored inputs keep a wallet's factor inputs, all but its wash host (read through the
# host's idx), packed in one bytea as well (``factor_inputs``, a generated column: PACKED), which
# an incremental run reads of the few wallets whose own figures it computes as one fixed-width
# field: a binary COPY of 1 M wallets by 31 float8 columns took 4.0 s, of the packed column
# 0.4 s (docs/benchmarks.md).
PACKED_COLUMN = "factor_inputs"


def packed_columns(columns: tuple[str, ...]) -> tuple[str, ...]:
    """The factor inputs :data:`PACKED_COLUMN` holds, in its order."""
    return tuple(c for c in columns if c != "wash_host")


def packed_expression(columns: tuple[str, ...]) -> str:
    """:data:`PACKED_COLUMN`'s value: each input as its float8 bytes (NaN: none), the bits the
    row by row COPY sends."""
    return " || ".join(f"float8send(coalesce({c}::float8, 'NaN'))" for c in packed_columns(columns))


def inputs_layout(columns: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """The columns of :func:`inputs_copy` with their types."""
    return (("idx", "int4"), *((c, "float8") for c in columns))


def inputs_copy(columns: tuple[str, ...], wallets: str) -> str:
    """The query of the factor inputs of the rows of ``wallets`` (``rep_wallets``), read as a
    binary COPY stream (:mod:`orderflow.reputation.binary_copy`): one row per wallet, its
    ``idx`` (int4) then one float8 per column (NaN: none).

    In no order and with no sort: the population step's figures do not depend on the rows'
    order (its prior's fits sort the measurements first, its false-discovery sets take equal
    probabilities together: :mod:`orderflow.reputation.factors`). ``wash_host`` is sent NaN:
    the step sets it from the few rows of :func:`hosts` (joined to every wallet's row here, it
    cost ≈ 20 % of this read at 100,000 wallets)."""
    cols = ",\n       ".join(
        "'NaN'::float8" if c == "wash_host" else f"coalesce(w.{c}::float8, 'NaN')" for c in columns
    )
    return f"""
SELECT w.idx::int4, {cols}
  FROM {wallets} w"""


def stored_layout(columns: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """The columns of :func:`stored_copy` with their types."""
    return (("idx", "int4"), (PACKED_COLUMN, packed(len(packed_columns(columns)))))


def stored_copy(wallets: str, where: str) -> str:
    """The packed factor inputs of the stored inputs' rows (``wallets``) that ``where`` (an SQL
    condition on ``w``) picks: the wallets whose own figures an incremental run computes. In
    the table's physical order (the figures do not depend on it): the rows sent back keep it,
    and the writes that fetch each one's stored inputs and stored row by key then read the
    pages in order, as when every wallet was read by a scan; in the order the index gave them,
    the upsert's backend CPU was 0.5-0.8 s more at 1 M wallets (docs/benchmarks.md)."""
    return f"""
SELECT w.idx::int4, w.{PACKED_COLUMN}
  FROM {wallets} w
 WHERE {where}
 ORDER BY w.ctid"""


# Kept beside the stored inputs, one row per wallet (its ``idx``): its own figures the
# population step needs (orderflow.reputation.standing.Standing, packed as PACKED_COLUMN is) and
# a copy of its stored row's score, tier and flags (:data:`MIRROR`). What an incremental run
# reads of every wallet: ≈ 150 bytes a row, where the stored inputs' rows are ≈ 1.4 kB.
STANDING = "orderflow_reputation_standing"
STANDING_LAYOUT = (("idx", "int4"), ("standing", packed(len(Standing.names()))))

# What an incremental run reads with the standings to know which rows it must send back and
# write: the stored row's score (NaN: no row), tier (its index in TIERS, -1: none) and flags
# (their bit set over FLAGS as numpy makes it; a name FLAGS does not know, or one written twice,
# sets bit 14, which numpy never does; the run writes a set in FLAGS' order, so the order is
# not compared). A wallet whose inputs did not change has the same own figures as when its row
# was written (numpy's elementwise loops do not depend on a wallet's position in the arrays:
# tests/reputation/test_factors.py), so its row can only change through the population: its
# score, tier or flags. The stored row's three are read from the standings' copy of them
# (:data:`MIRROR`), not from ``orderflow_wallet_stats``: a join with every stored row was 40 % of
# the step at 1 M wallets.
STORED_LAYOUT = (
    ("stored_score", "float8"),
    ("stored_tier", "int2"),
    ("stored_flags", "int2"),
)
_FLAG_BITS = " | ".join(
    f"CASE WHEN '{f}' = ANY(ws.flags) THEN {1 << b} ELSE 0 END" for b, f in enumerate(FLAGS)
)
_FLAG_COUNT = " + ".join(f"('{f}' = ANY(ws.flags))::int" for f in FLAGS)
# What :data:`MIRROR` gives for no stored row (also a new wallet's: :data:`STANDING_UPSERT`):
# no score, no tier, no flag.
MIRROR_NONE = {"stored_score": "'NaN'", "stored_tier": "-1", "stored_flags": "0"}
# A stored row's (``ws``: ``orderflow_wallet_stats``, NULLs: no row) score, tier and flags as
# :data:`STORED_LAYOUT` reads them: what the standings keep beside each wallet's own figures
# (columns stored_score, stored_tier, stored_flags), set after every live run's upsert.
MIRROR = f"""coalesce(ws.reputation_score::float8, {MIRROR_NONE["stored_score"]}) AS stored_score,
       coalesce(array_position(ARRAY[{", ".join(f"'{t}'" for t in TIERS)}]::text[],
                               ws.trader_tier::text) - 1,
                {MIRROR_NONE["stored_tier"]})::int2 AS stored_tier,
       CASE WHEN cardinality(ws.flags) > 0
            THEN ({_FLAG_BITS}
                  -- a name FLAGS does not know, or one twice
                  | CASE WHEN cardinality(ws.flags) <> {_FLAG_COUNT} THEN {1 << 14} ELSE 0 END)
            ELSE {MIRROR_NONE["stored_flags"]} END::int2 AS stored_flags"""
MIRROR_COLUMNS = tuple(MIRROR_NONE)

STANDING_COPY = f"""
SELECT s.idx, s.standing, {", ".join(f"s.{c}" for c in MIRROR_COLUMNS)}
  FROM {STANDING} s"""
# The standings an incremental run computed (``rep_standing``: its wallets whose inputs it
# replaced, or whose stored row something else wrote) into STANDING: a wallet keeps its copy
# of its stored row's score, tier and flags, a new one has none.
STANDING_IN = """
CREATE TEMP TABLE rep_standing (idx int4, standing bytea) ON COMMIT DROP
"""
STANDING_UPSERT = f"""
INSERT INTO {STANDING} (idx, standing, {", ".join(MIRROR_COLUMNS)})
SELECT n.idx, n.standing, {", ".join(MIRROR_NONE.values())} FROM rep_standing n
ON CONFLICT (idx) DO UPDATE SET standing = EXCLUDED.standing
"""


def hosts(wallets: str) -> str:
    """A wash counterparty's host, as (the wallet's ``idx``, the host's ``idx``): the few
    wallets of ``wallets`` with one (by the index on ``wash_host_address`` where one is kept)."""
    return f"""
SELECT w.idx, h.idx AS host
  FROM {wallets} w JOIN {wallets} h ON h.wallet_address = w.wash_host_address
 WHERE w.wash_host_address IS NOT NULL"""


# Per-wallet results computed in numpy, sent back by binary COPY into ``rep_scores_in`` (NaN for
# none; the tier as its index in TIERS, the flags as their bit set over FLAGS), then
# ``rep_scores`` with NULLs, the score as numeric and the tier and flags by name.
SCORE_COLUMNS = (
    "outcome_edge", "outcome_se", "clv_edge", "clv_se", "edge_raw", "edge_raw_se", "edge",
    "edge_se", "p_above_cost", "p_below_zero", "win_z", "profit_factor_shrunk", "persistence_z",
    "maker_share", "penny_share", "f_win", "f_pf", "f_cons", "f_vol", "f_timing", "raw_score",
    "score", "resid_se", "volume_evidence",
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


# The figures the factors JSON shows, as one float8 array per wallet in this order (the run's
# weights and prior first, then the population's moving part, then the wallet's own): stored by
# the history (all of them) and by the upsert (its own figures: POPULATION_FIGURES are NULL) with
# the JSON's two wallet addresses and its volume in USDC, and made into the JSON when read by
# orderflow_factors() (migrations 020 and 022: their f[i] are the 1-based positions in this
# list). Append only: the functions read rows written by earlier runs.
FIGURES = (
    ("w_win_rate", "{W1}"),
    ("w_profit_factor", "{W2}"),
    ("w_consistency", "{W3}"),
    ("w_volume", "{W4}"),
    ("w_timing", "{W5}"),
    ("follower_cost", "{COST}"),
    ("prior_mean", "{MU}"),
    ("prior_sd", "{TAU}"),
    ("prior_mean_se", "{MU_SE}"),
    ("close_miss_sd", "{KAPPA}"),
    ("raw_score", "s.raw_score"),
    ("edge", "s.edge"),
    ("edge_se", "s.edge_se"),
    ("p_above_cost", "s.p_above_cost"),
    ("p_below_zero", "s.p_below_zero"),
    ("edge_raw", "s.edge_raw"),
    ("edge_raw_se", "s.edge_raw_se"),
    ("outcome_edge", "s.outcome_edge"),
    ("outcome_se", "s.outcome_se"),
    ("clv_edge", "s.clv_edge"),
    ("clv_se", "s.clv_se"),
    ("events", "w.events"),
    ("f_vol", "s.f_vol"),
    ("maker_share", "s.maker_share"),
    ("penny_share", "s.penny_share"),
    ("wash_share", "w.wash_share"),
    ("wash_counterparty_share", "w.wash_counterparty_share"),
    ("wash_fills", "w.wash_fills"),
    ("wash_deviation", "nullif(w.wash_deviation, 'NaN')"),
    ("wash_off_share", "w.wash_off_share"),
    ("wash_off_fills", "w.wash_off_fills"),
    ("wash_host_share", "w.wash_host_share"),
    ("wash_host_own_share", "w.wash_host_own_share"),
    ("f_win", "s.f_win"),
    ("wins", "w.wins"),
    ("expected_wins", "w.expected_wins"),
    ("win_z", "s.win_z"),
    ("f_pf", "s.f_pf"),
    ("gross_profit", "w.gross_profit"),
    ("gross_loss", "w.gross_loss"),
    ("null_loss", "w.null_loss"),
    ("profit_factor_shrunk", "s.profit_factor_shrunk"),
    ("f_cons", "s.f_cons"),
    ("z_early", "w.value_early / nullif(sqrt(w.var_early), 0)"),
    ("z_late", "w.value_late / nullif(sqrt(w.var_late), 0)"),
    ("persistence_z", "s.persistence_z"),
    ("f_timing", "s.f_timing"),
    ("resid_se", "s.resid_se"),
    ("volume_evidence", "s.volume_evidence"),
    ("hedged_share", "w.hedged_volume / nullif(w.buy_volume, 0)"),  # migration 060
    ("wash_round_trip", "w.wash_round_trip"),  # migration 082
)  # fmt: skip
# The figures that depend on the population (the prior, the follower's cost and what they
# decide): NULL in a stored row's figures (its own figures), computed when read by
# orderflow_posterior_figures() against the current orderflow_reputation_population row
# (migration 022). Figures 48 and 49 are own figures that function reads.
POPULATION_FIGURES = frozenset((
    "follower_cost", "prior_mean", "prior_sd", "prior_mean_se", "close_miss_sd", "raw_score",
    "edge", "edge_se", "p_above_cost", "p_below_zero", "edge_raw", "edge_raw_se", "f_vol",
))  # fmt: skip
_FIGURES = ",\n           ".join(e for _, e in FIGURES)
_OWN_FIGURES = ",\n           ".join("NULL" if n in POPULATION_FIGURES else e for n, e in FIGURES)

_FINAL = f"""
CREATE TEMP VIEW rep_final AS
SELECT w.*, {{SCORE_COLS}}, s.tier, s.flags,
       ARRAY[{_FIGURES}]::float8[] AS factor_figures,
       ARRAY[{_OWN_FIGURES}]::float8[] AS own_figures
  FROM {{WALLETS}} w
  JOIN rep_scores s ON s.idx = w.idx
"""

# The factors JSON of a row of rep_final (migration 020's function over the same figures as a
# stored row: the same JSON).
FACTORS = (
    "orderflow_factors(f.factor_figures, f.volume_usdc, f.wash_counterparty,"
    " f.wash_host_address, f.score, f.tier, f.flags)"
)


def final_view(
    weights: dict[str, float], cost: float, prior: Prior, wallets: str = "rep_wallets"
) -> str:
    """``rep_final``: the rows of ``wallets`` with their scores and the figures of their factors
    JSON (a view: read once, by the upsert). Weights and the prior are inlined as float literals
    (views take no parameters)."""

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
        WALLETS=wallets,
    )


# Views are not dropped on commit like the temp tables they read: drop it explicitly.
DROP_FINAL = "DROP VIEW IF EXISTS rep_final"

SCORE_ROWS = f"""
SELECT f.wallet_address, f.score, f.tier, f.edge, f.edge_raw, f.edge_se, f.events, f.resolved,
       f.pnl_wins AS wins, f.pnl_losses AS losses, {FACTORS} AS factors, f.flags, f.p_above_cost,
       f.p_below_zero, f.clv_edge, f.clv_se, f.maker_share
  FROM rep_final f
"""

# One wallet's factors JSON from rep_final ($1: its address): what orderflow wallet --as-of reads
# its counterparty figures and flags from.
WALLET_FACTORS = f"SELECT {FACTORS} AS factors FROM rep_final f WHERE f.wallet_address = $1"
