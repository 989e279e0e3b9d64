"""All of reputation's SQL, set-based: a handful of statements whatever the number of wallets.

The run builds temporary tables inside one transaction (dropped on commit):

    rep_positions   one row per (wallet, token): gross/net amounts, taker sums, resolution, P&L
    rep_close       closing line / mark price per token      (orderflow.reputation.evidence_sql)
    rep_wash        counterparty / off-market figures per wallet, off-market taker volume per
                    (wallet, token)                              (orderflow.reputation.wash_sql)
    rep_wallets     one row per wallet: statistics and evidence sums, ``idx`` = 0..n-1 (same)
    rep_scores      factor values, score and tier per ``idx``, computed in numpy and sent back
    rep_final       view: rep_wallets + rep_scores + the factors JSON, ready to persist

**The as_of gate** (:mod:`orderflow.reputation.gate`). ``GATED_TRADES`` and ``GATED_OUTCOMES`` are
the only way any statement reads ``orderflow_trades`` and ``orderflow_market_outcomes``: trades with
``timestamp <= $1`` and resolutions with ``resolved_at <= $1``. Parameter ``$1`` is always the
cut-off (``now()`` for a live run), so no statement can see the future of a backtest.

Accounting in SQL is the aggregate form of :mod:`orderflow.accounting` (average cost, fees in):

* a resolved position's P&L is path-independent: received - paid + held x payout (when the wallet
  sold more than it bought, the proceeds are scaled by bought / sold, the untracked-shares rule);
* an unresolved position realizes, on what it sold, the proceeds minus the average cost of all its
  buys; this equals the sequential average cost when the buys precede the sells (the usual case)
  and approximates it otherwise; the rest is marked at the token's last traded price;
* a wallet's taker decisions are valued by ``DECISION_VALUE_SQL`` (orderflow.accounting.aggregate).
"""

from __future__ import annotations

from orderflow.accounting.aggregate import RESOLVED_PNL_SQL
from orderflow.reputation.factors import Prior
from orderflow.reputation.gate import GATED_OUTCOMES, GATED_TRADES
from orderflow.reputation.sums_sql import SUMS_SCAN, SUMS_STORED

_POSITIONS = f"""
CREATE TEMP TABLE rep_positions ON COMMIT DROP AS
WITH agg AS (
    -- The one pass over the trades, one hash aggregation by (wallet, token). Amounts are summed
    -- as integer micro-units (6 decimals, exact: int8 sums accumulate in 128 bits), which needs
    -- a third of the memory of NUMERIC sums per group; fees are added only where non-zero.
    -- Net amounts follow orderflow.accounting.Fill: a BUY gets size - share fee and pays
    -- collateral + collateral fee; a SELL gives size + share fee and receives collateral - fee.
    -- Taker fills (is_taker_aggregate: the row of the order that crossed the book) are summed
    -- apart: they are the wallet's decisions; its maker fills are liquidity provision.
    -- The one pass over the trades, one hash aggregation by (wallet, token).
    SELECT wallet_address, token_id, trade_market_id, trade_outcome_index, fills, first_at,
           last_at,
           (paid_gross_u + received_gross_u) / 1000000 AS volume,
           bought_gross_u / 1000000 - fee_buy_shares AS bought,
           paid_gross_u / 1000000 + fee_buy_usdc AS paid,
           bought_gross_u, sold_gross_u, received_gross_u,
           sold_gross_u / 1000000 + fee_sell_shares AS sold,
           received_gross_u / 1000000 - fee_sell_usdc AS received,
           fee_buy_usdc + fee_sell_usdc + fee_share_value AS fees,
           tb_u, tcb_u, ts_u, tr_u, taker_fee, penny_u, paid_gross_u AS buy_u,
           tcb_u + tr_u AS taker_volume_u, taker_first_at
      FROM (
@SUMS@      ) AS sums
), markets AS (
    -- one row per resolved market with what is wrong with its payouts, if anything
    SELECT o.market_id, o.resolved_at,
           CASE WHEN coalesce(c.total, 0) = 0 THEN 'ZERO_PAYOUT'
                WHEN c.bad OR abs(c.total - 1) > 0.000001 THEN 'BAD_PAYOUT'
           END AS market_problem,
           o.payouts::text AS payouts_text
      FROM ({GATED_OUTCOMES}) o
     CROSS JOIN LATERAL (
           SELECT sum(x) AS total, bool_or(x IS NULL OR x < 0 OR x > 1) AS bad
             FROM unnest(o.payouts) AS x) c
), payouts AS (
    -- one row per (resolved market, outcome): per-share payout, no array access per position
    SELECT o.market_id, (u.ordinality - 1)::smallint AS outcome_index, u.payout
      FROM ({GATED_OUTCOMES}) o
     CROSS JOIN LATERAL unnest(o.payouts) WITH ORDINALITY AS u(payout, ordinality)
), located AS (
    SELECT a.*,
           coalesce(a.trade_market_id, tk.condition_id) AS market_id,
           coalesce(a.trade_outcome_index, tk.outcome_index) AS outcome_index
      FROM agg a
      LEFT JOIN orderflow_tokens tk
        ON a.trade_market_id IS NULL AND tk.token_id = a.token_id
), judged AS (
    -- The event: a neg-risk condition's question id is its event (NegRiskAdapter market id) in
    -- the first 31 bytes plus the candidate's index in the last byte, so every leg of one
    -- neg-risk event shares left(question_id, 64); any other condition is its own event.
    SELECT l.*, m.resolved_at, m.payouts_text,
           CASE WHEN c.neg_risk THEN left(c.question_id, 64) || '00'
                ELSE l.market_id END AS event_id,
           CASE WHEN l.market_id IS NULL OR l.outcome_index IS NULL THEN 'UNKNOWN_TOKEN'
                WHEN m.market_id IS NULL THEN NULL
                WHEN m.market_problem IS NOT NULL THEN m.market_problem
                WHEN p.payout IS NULL THEN 'BAD_PAYOUT'
           END AS problem,
           p.payout AS listed_payout
      FROM located l
      LEFT JOIN orderflow_conditions c ON c.condition_id = l.market_id
      LEFT JOIN markets m ON m.market_id = l.market_id
      LEFT JOIN payouts p ON p.market_id = l.market_id AND p.outcome_index = l.outcome_index
), valued AS (
    SELECT j.*,
           CASE WHEN j.problem IS NULL AND j.resolved_at IS NOT NULL
                THEN j.listed_payout END AS payout,
           greatest(j.bought - j.sold, 0) AS held,
           least(j.bought, j.sold) AS matched
      FROM judged j
)
-- Only what later statements read (a narrow table is cheaper to write and re-read). Money
-- leaves this statement as int8 micro-USDC (_u), each position rounded to the chain's unit,
-- so the aggregations below add integers, not NUMERICs. Decision inputs (orderflow.accounting
-- .aggregate) leave as float8: they feed statistics, not balances.
SELECT v.wallet_address, v.token_id, v.market_id, v.event_id, v.fills,
       (v.volume * 1000000)::int8 AS volume_u,
       v.bought_gross_u + v.sold_gross_u AS shares_u,
       (v.paid * 1000000)::int8 AS paid_u,
       (v.fees * 1000000)::int8 AS fees_u,
       v.first_at, v.last_at, v.taker_first_at, v.problem, v.resolved_at,
       CASE WHEN v.problem IS NOT NULL THEN v.payouts_text END AS problem_payouts,
       v.payout::float8 AS payout_f, v.payout IS NOT NULL AS resolved, v.held,
       (CASE WHEN v.payout IS NULL THEN NULL
             ELSE {RESOLVED_PNL_SQL.format(v="v")}
        END * 1000000)::int8 AS pnl_u,
       (CASE WHEN v.payout IS NOT NULL OR v.matched = 0 THEN 0
             ELSE v.received * v.matched / v.sold - v.paid * v.matched / v.bought
        END * 1000000)::int8 AS realized_open_u,
       (CASE WHEN v.payout IS NULL AND v.bought > 0 THEN v.paid * v.held / v.bought ELSE 0
        END * 1000000)::int8 AS basis_open_u,
       CASE WHEN v.payout IS NULL THEN NULL
            WHEN v.bought <= v.sold THEN v.last_at
            ELSE v.resolved_at END AS exited_at,
       v.tb_u::float8 / 1000000 AS tb, v.tcb_u::float8 / 1000000 AS tcb,
       v.ts_u::float8 / 1000000 AS ts, v.tr_u::float8 / 1000000 AS tr,
       v.taker_fee::float8 AS tfee,
       CASE WHEN v.bought_gross_u > 0
            THEN least(1.0, v.sold_gross_u::float8 / v.bought_gross_u) ELSE 0.0 END AS exited,
       CASE WHEN v.sold_gross_u > 0
            THEN v.received_gross_u::float8 / v.sold_gross_u ELSE 0.0 END AS exit_price,
       CASE WHEN v.sold_gross_u > v.bought_gross_u AND v.ts_u > 0
            THEN (v.sold_gross_u - v.bought_gross_u)::float8 * v.ts_u
                 / (v.sold_gross_u::float8 * 1000000)
            ELSE 0.0 END AS short,
       CASE WHEN v.ts_u > 0 THEN v.tr_u::float8 / v.ts_u ELSE 0.0 END AS short_price,
       v.taker_volume_u, v.penny_u, v.buy_u
  FROM valued v
"""


# The columns of rep_positions that CLOSES, ISSUES and the incremental run's mark update read,
# from the same CTEs (the planner then skips the money arithmetic of the other columns).
_LIGHT_SELECT = """SELECT v.wallet_address, v.token_id, v.market_id, v.fills, v.first_at,
       v.problem, v.resolved_at,
       CASE WHEN v.problem IS NOT NULL THEN v.payouts_text END AS problem_payouts,
       v.payout IS NOT NULL AS resolved, v.held,
       v.tb_u::float8 / 1000000 AS tb, v.ts_u::float8 / 1000000 AS ts
  FROM valued v
"""


def positions(*, stored: bool = False, only: str = "", light: bool = False) -> str:
    """``rep_positions``: from the trades gated at ``$1`` (default), or from the stored sums
    (``stored``: a run at the present, every fill at or before ``$1``); ``only`` restricts the
    stored rows (an SQL condition on ``a``, e.g. the incremental run's wallets); ``light``: only
    the columns of :data:`_LIGHT_SELECT` (the same values)."""
    sql = _POSITIONS
    if light:
        head, _, _ = sql.partition("-- Only what later statements read")
        sql = head + _LIGHT_SELECT
    if not stored:
        return sql.replace("@SUMS@", SUMS_SCAN)
    stored_sums = SUMS_STORED.replace("@ONLY@", f"AND ({only})" if only else "")
    return sql.replace("@SUMS@", stored_sums)


POSITIONS = positions()


def input_arrays(columns: tuple[str, ...]) -> str:
    """The factor inputs, one float8 array per column, one value per wallet in address order
    (the population step's sums then add in the same order whatever built ``rep_wallets``: a
    full and an incremental run agree to the last bit), with the wallets' ``idx``."""
    cols = ",\n       ".join(f"array_agg(coalesce({c}::float8, 'NaN')) AS {c}" for c in columns)
    return f"""
SELECT array_agg(idx) AS idx, {cols}
  FROM (SELECT w.*, h.pos::float8 AS wash_host
          FROM (SELECT r.*, row_number() OVER (ORDER BY r.wallet_address COLLATE "C") - 1 AS pos
                  FROM rep_wallets r) AS w
          -- a wash counterparty's host as its position in these arrays (numpy reads its flags)
          LEFT JOIN (SELECT wallet_address,
                            row_number() OVER (ORDER BY wallet_address COLLATE "C") - 1 AS pos
                       FROM rep_wallets) AS h ON h.wallet_address = w.wash_host_address
         ORDER BY w.pos) AS w"""


# Per-wallet results computed in numpy, sent back as arrays ($1.. in SCORE_COLUMNS order, then
# tiers, flags and the wallets' idx).
SCORE_COLUMNS = (
    "outcome_edge", "outcome_se", "clv_edge", "clv_se", "edge_raw", "edge_raw_se", "edge",
    "edge_se", "p_above_cost", "p_below_zero", "win_z", "profit_factor_shrunk", "persistence_z",
    "maker_share", "penny_share", "f_win", "f_pf", "f_cons", "f_vol", "f_timing", "raw_score",
    "score",
)  # fmt: skip


def scores_table() -> str:
    n = len(SCORE_COLUMNS)
    params = ", ".join(f"${k}::float8[]" for k in range(1, n + 1))
    names = ", ".join(SCORE_COLUMNS)
    cols = ", ".join(
        f"nullif(s.{c}, 'NaN') AS {c}" if c != "score" else "s.score::numeric(4, 2) AS score"
        for c in SCORE_COLUMNS
    )
    return f"""
CREATE TEMP TABLE rep_scores ON COMMIT DROP AS
SELECT s.idx, {cols}, s.tier,
       coalesce(string_to_array(nullif(s.flags, ''), ','), '{{}}'::text[]) AS flags
  FROM unnest({params}, ${n + 1}::text[], ${n + 2}::text[], ${n + 3}::int[])
       AS s({names}, tier, flags, idx)
"""


_FINAL = """
CREATE TEMP VIEW rep_final AS
SELECT w.*, {SCORE_COLS}, s.tier, s.flags,
       jsonb_build_object(
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
           'volume', jsonb_build_object(
               'value', s.f_vol, 'weight', {W4}, 'points', 10 * {W4} * s.f_vol,
               'volume_usdc', w.volume_usdc, 'events', w.events),
           'timing', jsonb_build_object(
               'value', s.f_timing, 'weight', {W5}, 'points', 10 * {W5} * s.f_timing,
               'clv_edge', s.clv_edge, 'clv_se', s.clv_se)
       ) AS factors
  FROM rep_wallets w
  JOIN rep_scores s ON s.idx = w.idx
"""


def final_view(weights: dict[str, float], cost: float, prior: Prior) -> str:
    """``rep_final``: a view (not a table) so the factors JSON is only built for the rows a
    statement actually writes -- every wallet in the upsert, changed ones in the history.
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

# $1 = computed_at. Before the upsert: a snapshot only where score or tier changes.
HISTORY = """
INSERT INTO orderflow_reputation_history
       (wallet_address, reputation_score, trader_tier, factors, resolved_positions, computed_at,
        flags)
SELECT f.wallet_address, f.score, f.tier, f.factors, f.resolved, $1::timestamptz, f.flags
  FROM rep_final f
  LEFT JOIN orderflow_wallet_stats ws ON ws.wallet_address = f.wallet_address
 WHERE ws.reputation_score IS DISTINCT FROM f.score
    OR ws.trader_tier IS DISTINCT FROM f.tier
    OR ws.flags IS DISTINCT FROM f.flags
"""

# $1 = computed_at, $2 = as_of. wins / losses / gross profit and loss / profit_factor / roi are
# the wallet's P&L per resolved event (all its fills); edge, edge_se and the probabilities are the
# posterior of its taker decisions (see orderflow.reputation.factors).
_STATS_COLUMNS = (
    "total_trades", "total_volume_usdc", "markets_traded", "resolved_positions", "wins", "losses",
    "win_rate", "gross_profit", "gross_loss", "profit_factor", "realized_pnl", "unrealized_pnl",
    "roi", "consistency", "timing", "avg_holding_secs", "first_trade_at", "last_trade_at",
    "reputation_score", "trader_tier", "factors", "computed_at", "updated_at", "edge", "edge_raw",
    "edge_se", "resolved_buys", "fees_paid", "open_positions", "as_of", "flags",
    "p_edge_above_cost", "p_edge_below_zero", "events_resolved", "clv_edge", "clv_se",
    "maker_volume_share",
)  # fmt: skip
_UNCHANGED = (
    "total_trades", "total_volume_usdc", "markets_traded", "resolved_positions", "realized_pnl",
    "unrealized_pnl", "fees_paid", "open_positions", "first_trade_at", "last_trade_at",
    "reputation_score", "trader_tier", "factors", "flags",
)  # fmt: skip

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
       f.f_cons, f.f_timing, f.holding_secs, f.first_at, f.last_at, f.score, f.tier, f.factors,
       $1::timestamptz, now(), f.edge, f.edge_raw, f.edge_se, f.events::int, f.fees,
       f.open_positions, $2::timestamptz, f.flags, f.p_above_cost, f.p_below_zero,
       f.events::int, f.clv_edge, f.clv_se, f.maker_share
  FROM rep_final f
ON CONFLICT (wallet_address) DO UPDATE SET
    {", ".join(f"{c} = EXCLUDED.{c}" for c in _STATS_COLUMNS)}
-- A wallet whose figures did not change is not rewritten (most wallets between two hourly
-- runs): its computed_at / as_of say when its values were last (re)computed differently.
WHERE ({", ".join(f"ws.{c}" for c in _UNCHANGED)})
      IS DISTINCT FROM
      ({", ".join(f"EXCLUDED.{c}" for c in _UNCHANGED)})
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

SCORE_ROWS = """
SELECT f.wallet_address, f.score, f.tier, f.edge, f.edge_raw, f.edge_se, f.events, f.resolved,
       f.pnl_wins AS wins, f.pnl_losses AS losses, f.factors, f.flags, f.p_above_cost,
       f.p_below_zero, f.clv_edge, f.clv_se, f.maker_share
  FROM rep_final f
"""

# One wallet's fills with their market resolution (for `orderflow wallet` and the reference).
# $1 = as_of, $2 = wallet.
WALLET_FILLS = f"""
SELECT t.token_id, t.side, t.size, t.usdc_size, t.fee, t.fee_asset, t.price, t.timestamp,
       t.is_taker_aggregate, coalesce(t.market_id, tk.condition_id) AS market_id,
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

# $1 = as_of, $2 = token ids.
TOKEN_LAST_PRICES = f"""
SELECT h.token_id, lp.price
  FROM unnest($2::numeric[]) AS h(token_id)
 CROSS JOIN LATERAL (
       SELECT t.price FROM ({GATED_TRADES}) t
        WHERE t.token_id = h.token_id
        ORDER BY t.timestamp DESC, t.log_index DESC
        LIMIT 1) lp
"""

# Closing lines for one wallet's tokens (as CLOSES): $1 = as_of, $2 = token ids, $3 = resolution
# times (NULL: unresolved), $4 = clv_horizon. The token's first trade is anyone's.
TOKEN_CLOSES = f"""
SELECT h.token_id, c1.price::float8 AS close_price, c1.timestamp AS close_at,
       c2.price::float8 AS prev_price
  FROM unnest($2::numeric[], $3::timestamptz[]) AS h(token_id, resolved_at)
 CROSS JOIN LATERAL (
       SELECT min(t.timestamp) AS first_at FROM ({GATED_TRADES}) t
        WHERE t.token_id = h.token_id) f
 CROSS JOIN LATERAL (
       SELECT t.price, t.timestamp FROM ({GATED_TRADES}) t
        WHERE t.token_id = h.token_id
          AND t.timestamp <= f.first_at + (coalesce(h.resolved_at, $1::timestamptz) - f.first_at)
                                          * $4::float8
        ORDER BY t.timestamp DESC, t.log_index DESC
        LIMIT 1) c1
  LEFT JOIN LATERAL (
       SELECT t.price FROM ({GATED_TRADES}) t
        WHERE t.token_id = h.token_id AND t.timestamp < c1.timestamp
        ORDER BY t.timestamp DESC, t.log_index DESC
        LIMIT 1) c2 ON TRUE
"""

WALLET_STATS = "SELECT * FROM orderflow_wallet_stats WHERE wallet_address = $1"

WALLET_HISTORY = """
SELECT reputation_score, trader_tier, resolved_positions, computed_at, flags
  FROM orderflow_reputation_history
 WHERE wallet_address = $1
 ORDER BY computed_at DESC
 LIMIT $2
"""

ALL_WALLETS = f"SELECT DISTINCT wallet_address FROM ({GATED_TRADES}) t ORDER BY 1"

RUN_LOCK_KEY = 0x6F72_6466_7265_7075  # "ordfrepu": one reputation run at a time
