"""Reads for one wallet (``orderflow wallet``, the per-wallet reference in
:mod:`orderflow.reputation.per_wallet`), through the same as_of gate as the run's SQL."""

from __future__ import annotations

from orderflow.reputation import line_sql
from orderflow.reputation.gate import GATED_OUTCOMES, GATED_TRADES, gated_conditions
from orderflow.reputation.persist_sql import FACTOR_COLUMNS
from orderflow.reputation.scores_sql import FIGURES

# One wallet's fills with their market resolution (for `orderflow wallet` and the reference).
# $1 = as_of, $2 = wallet.
WALLET_FILLS = f"""
SELECT t.token_id, t.side, t.size, t.usdc_size, t.fee, t.fee_asset, t.price, t.timestamp,
       t.is_taker_aggregate, t.chain_id, t.tx_hash, t.wallet_address, t.taker_address,
       coalesce(t.market_id, tk.condition_id) AS market_id,
       CASE WHEN c.neg_risk THEN left(c.question_id, 64) || '00'
            ELSE coalesce(t.market_id, tk.condition_id) END AS event_id,
       coalesce(t.outcome_index, tk.outcome_index) AS outcome_index,
       o.payouts, o.resolved_at
  FROM ({GATED_TRADES}) t
  LEFT JOIN orderflow_tokens tk ON t.market_id IS NULL AND tk.token_id = t.token_id
  LEFT JOIN orderflow_conditions c ON c.condition_id = coalesce(t.market_id, tk.condition_id)
  LEFT JOIN ({GATED_OUTCOMES}) o ON o.market_id = coalesce(t.market_id, tk.condition_id)
 WHERE t.wallet_address = $2
 ORDER BY t.timestamp, t.chain_id, t.tx_hash, t.log_index
"""

# The legs of neg-risk events (what a complete set must cover: hedged_sql.HEDGED_CTES'
# event_legs: the legs prepared by the cut-off). $1 = event ids, $2 = the legs' cut-off.
EVENT_LEGS = f"""
SELECT left(c.question_id, 64) || '00' AS event_id, count(*) AS legs
  FROM ({gated_conditions("$2")}) c
 WHERE c.neg_risk AND left(c.question_id, 64) || '00' = ANY($1::text[])
 GROUP BY 1
"""

_PRICED = line_sql.PRICED.format(t="t")  # a level: a price strictly inside (0, 1)

# The marks of tokens (as CLOSES' mark_price: line_sql's rule at as_of). $1 = as_of, $2 = token
# ids.
TOKEN_LAST_PRICES = f"""
SELECT h.token_id, coalesce(lp.price, m1.price) AS price
  FROM unnest($2::numeric[]) AS h(token_id)
 CROSS JOIN LATERAL (
       SELECT t.price, t.timestamp FROM ({GATED_TRADES}) t
        WHERE t.token_id = h.token_id AND {_PRICED}
        ORDER BY t.timestamp DESC, t.log_index DESC
        LIMIT 1) m1
 CROSS JOIN LATERAL ({line_sql.line("h.token_id", "m1.timestamp", hosts=line_sql.STORED)}) lp
"""

# (the wash hosts the last run stored: line_sql.STORED)
_LINE = line_sql.line("h.token_id", "c1.timestamp", prev=True, hosts=line_sql.STORED)
# Closing lines for one wallet's tokens (as CLOSES): $1 = as_of, $2 = token ids, $3 = resolution
# times (NULL: unresolved), $4 = clv_horizon. The token's first trade is anyone's.
TOKEN_CLOSES = f"""
SELECT h.token_id, c.price::float8 AS close_price, c1.timestamp AS close_at,
       c.prev_price::float8 AS prev_price
  FROM unnest($2::numeric[], $3::timestamptz[]) AS h(token_id, resolved_at)
 CROSS JOIN LATERAL (
       SELECT min(t.timestamp) AS first_at FROM ({GATED_TRADES}) t
        WHERE t.token_id = h.token_id) f
 CROSS JOIN LATERAL (
       SELECT f.first_at + (coalesce(h.resolved_at, $1::timestamptz) - f.first_at)
                           * $4::float8 AS closes_at) e
 CROSS JOIN LATERAL (
       SELECT t.price, t.timestamp FROM ({GATED_TRADES}) t
        WHERE t.token_id = h.token_id AND t.timestamp <= e.closes_at AND {_PRICED}
        ORDER BY t.timestamp DESC, t.log_index DESC
        LIMIT 1) c1
 CROSS JOIN LATERAL ({_LINE}) c
"""

# The row as read (its posterior figures against the current population, migration 022) and its
# factors JSON, built from its figures (migration 020); the columns that hold the figures are
# storage, not shown (FIGURE_COLUMNS).
FIGURE_COLUMNS = frozenset((*FACTOR_COLUMNS, "factors_stored"))


# The keys of a factors JSON's ``posterior`` block (orderflow_factors, migration 082) and the
# figure (scores_sql.FIGURES) each shows: the JSON names some figures otherwise (the record's own
# edge ``edge_raw`` is its ``measured``).
POSTERIOR_KEYS = {
    "edge": "edge",
    "sd": "edge_se",
    "p_edge_above_cost": "p_above_cost",
    "p_edge_below_zero": "p_below_zero",
    "follower_cost": "follower_cost",
    "prior_mean": "prior_mean",
    "prior_sd": "prior_sd",
    "prior_mean_se": "prior_mean_se",
    "close_miss_sd": "close_miss_sd",
    "measured": "edge_raw",
    "measured_se": "edge_raw_se",
    "outcome_edge": "outcome_edge",
    "outcome_se": "outcome_se",
    "clv_edge": "clv_edge",
    "clv_se": "clv_se",
    "events": "events",
}


def posterior_figure_json(key: str) -> str:
    """A posterior figure of a row as read, as its factors JSON shows it (``posterior.<key>``,
    jsonb; ``key`` one of :data:`POSTERIOR_KEYS`), without building the JSON: what
    orderflow_factors(s) puts there -- the figure of a row with figures (scores_sql.FIGURES), the
    stored JSON's otherwise. For the executor, which reads a batch of wallets per batch of trades
    and needs only a few of the JSON's figures. Until 7 Dec 2026 the key was the figure's name,
    so ``edge_raw`` looked up ``posterior.edge_raw`` in a stored JSON (which calls it
    ``measured``: NULL) and ``measured`` was refused
    (tests/reputation/test_posterior_figure_json.py)."""
    index = [n for n, _ in FIGURES].index(POSTERIOR_KEYS[key]) + 1
    return (
        "CASE WHEN s.factor_figures IS NULL"
        f" THEN s.factors_stored #> '{{posterior,{key}}}'"
        f" ELSE to_jsonb(s.factor_figures[{index}]) END"
    )


FOLLOWER_COST_JSON = posterior_figure_json("follower_cost")
PRIOR_MEAN_JSON = posterior_figure_json("prior_mean")
WALLET_STATS = """
SELECT s.*, orderflow_factors(s) AS factors
  FROM orderflow_wallet_stats w
 CROSS JOIN LATERAL orderflow_wallet_read(w) AS s
 WHERE w.wallet_address = $1
"""

# Scored wallets whose address opens with $1 and ends with $2 (text: a shortened address as the
# demo prints it); the range keeps the primary key's index in use, left() checks under any
# collation. Six at most: enough to say it is ambiguous.
WALLETS_MATCHING = """
SELECT wallet_address FROM orderflow_wallet_stats
 WHERE wallet_address >= $1::text AND wallet_address < $1::text || 'g'
   AND left(wallet_address, length($1::text)) = $1::text
   AND right(wallet_address, length($2::text)) = $2::text
 ORDER BY wallet_address
 LIMIT 6
"""

WALLET_HISTORY = """
SELECT reputation_score, trader_tier, resolved_positions, computed_at, flags
  FROM orderflow_reputation_history
 WHERE wallet_address = $1
 ORDER BY computed_at DESC
 LIMIT $2
"""

ALL_WALLETS = f"SELECT DISTINCT wallet_address FROM ({GATED_TRADES}) t ORDER BY 1"

# The current population's prior with its skill tail (migration 031), for a wallet replayed alone.
POPULATION_TAIL = """
SELECT prior_mean, prior_sd, skill_share, skill_mean, skill_sd, skill_mean_se
  FROM orderflow_reputation_population
"""
