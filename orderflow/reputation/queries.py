"""All of reputation's SQL, set-based: a handful of statements whatever the number of wallets.

The run builds temporary tables inside one transaction (dropped on commit):

    rep_positions   one row per (wallet, token): gross/net amounts, resolution, P&L, edge
    rep_last_price  last traded price of every token still held in an unresolved market
    rep_wallets     one row per wallet: the statistics and the factor inputs (``idx`` = 0..n-1)
    rep_scores      factor values, score and tier per ``idx``, computed in numpy and sent back
    rep_final       view: rep_wallets + rep_scores + the factors JSON, ready to persist

**The as_of gate.** :data:`GATED_TRADES` and :data:`GATED_OUTCOMES` are the only way any
statement here reads ``orderflow_trades`` and ``orderflow_market_outcomes``: trades with
``timestamp <= $1`` and resolutions with ``resolved_at <= $1``. Parameter ``$1`` is always the
cut-off (``now()`` for a live run), so no statement can see the future of a backtest.

Accounting in SQL is the aggregate form of :mod:`orderflow.accounting` (average cost, fees in):

* a resolved position's P&L is path-independent: received - paid + held x payout (when the wallet
  sold more than it bought, the proceeds are scaled by bought / sold, the untracked-shares rule);
* an unresolved position realizes, on what it sold, the proceeds minus the average cost of all its
  buys; this equals the sequential average cost when the buys precede the sells (the usual case)
  and approximates it otherwise; the rest is marked at the token's last traded price.
"""

from __future__ import annotations

GATED_TRADES = "SELECT * FROM orderflow_trades WHERE timestamp <= $1::timestamptz"
GATED_OUTCOMES = "SELECT * FROM orderflow_market_outcomes WHERE resolved_at <= $1::timestamptz"

POSITIONS = f"""
CREATE TEMP TABLE rep_positions ON COMMIT DROP AS
WITH agg AS (
    -- The one pass over the trades, one hash aggregation by (wallet, token). Amounts are summed
    -- as integer micro-units (6 decimals, exact: int8 sums accumulate in 128 bits), which needs
    -- a third of the memory of NUMERIC sums per group; fees are added only where non-zero.
    -- Net amounts follow orderflow.accounting.Fill: a BUY gets size - share fee and pays
    -- collateral + collateral fee; a SELL gives size + share fee and receives collateral - fee.
    SELECT wallet_address, token_id, trade_market_id, trade_outcome_index, fills, first_at,
           last_at,
           (paid_gross_u + received_gross_u) / 1000000 AS volume,
           bought_gross_u / 1000000 - fee_buy_shares AS bought,
           paid_gross_u / 1000000 + fee_buy_usdc AS paid,
           bought_gross_u / 1000000 AS bought_gross,
           paid_gross_u / 1000000 AS paid_gross,
           sold_gross_u / 1000000 + fee_sell_shares AS sold,
           received_gross_u / 1000000 - fee_sell_usdc AS received,
           fee_buy_usdc + fee_sell_usdc + fee_share_value AS fees
      FROM (
        SELECT t.wallet_address, t.token_id,
               min(t.market_id COLLATE "C") AS trade_market_id,
               min(t.outcome_index) AS trade_outcome_index,
               count(*) AS fills,
               coalesce(sum((t.size * 1000000)::int8) FILTER (WHERE t.side = 'BUY'), 0)
                   AS bought_gross_u,
               coalesce(sum((t.usdc_size * 1000000)::int8) FILTER (WHERE t.side = 'BUY'), 0)
                   AS paid_gross_u,
               coalesce(sum((t.size * 1000000)::int8) FILTER (WHERE t.side = 'SELL'), 0)
                   AS sold_gross_u,
               coalesce(sum((t.usdc_size * 1000000)::int8) FILTER (WHERE t.side = 'SELL'), 0)
                   AS received_gross_u,
               coalesce(sum(t.fee) FILTER (WHERE t.fee > 0 AND t.side = 'BUY'
                                           AND t.fee_asset = 'SHARES'), 0) AS fee_buy_shares,
               coalesce(sum(t.fee) FILTER (WHERE t.fee > 0 AND t.side = 'BUY'
                                           AND t.fee_asset = 'COLLATERAL'), 0) AS fee_buy_usdc,
               coalesce(sum(t.fee) FILTER (WHERE t.fee > 0 AND t.side = 'SELL'
                                           AND t.fee_asset = 'SHARES'), 0) AS fee_sell_shares,
               coalesce(sum(t.fee) FILTER (WHERE t.fee > 0 AND t.side = 'SELL'
                                           AND t.fee_asset = 'COLLATERAL'), 0) AS fee_sell_usdc,
               coalesce(sum(t.fee * t.price) FILTER (WHERE t.fee > 0 AND t.fee_asset = 'SHARES'),
                        0) AS fee_share_value,
               min(t.timestamp) AS first_at,
               max(t.timestamp) AS last_at
          FROM ({GATED_TRADES}) t
         GROUP BY t.wallet_address, t.token_id
      ) AS sums
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
    SELECT l.*, m.resolved_at, m.payouts_text,
           CASE WHEN l.market_id IS NULL OR l.outcome_index IS NULL THEN 'UNKNOWN_TOKEN'
                WHEN m.market_id IS NULL THEN NULL
                WHEN m.market_problem IS NOT NULL THEN m.market_problem
                WHEN p.payout IS NULL THEN 'BAD_PAYOUT'
           END AS problem,
           p.payout AS listed_payout
      FROM located l
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
-- so the aggregations below add integers, not NUMERICs.
SELECT v.wallet_address, v.token_id, v.market_id, v.fills,
       (v.volume * 1000000)::int8 AS volume_u,
       (v.paid * 1000000)::int8 AS paid_u,
       (v.fees * 1000000)::int8 AS fees_u,
       v.first_at, v.last_at, v.problem,
       CASE WHEN v.problem IS NOT NULL THEN v.payouts_text END AS problem_payouts,
       v.payout, v.held,
       (CASE WHEN v.payout IS NULL THEN NULL
             WHEN v.bought >= v.sold THEN v.received - v.paid + v.held * v.payout
             ELSE v.received * v.bought / v.sold - v.paid
        END * 1000000)::int8 AS pnl_u,
       (CASE WHEN v.payout IS NOT NULL OR v.matched = 0 THEN 0
             ELSE v.received * v.matched / v.sold - v.paid * v.matched / v.bought
        END * 1000000)::int8 AS realized_open_u,
       (CASE WHEN v.payout IS NULL AND v.bought > 0 THEN v.paid * v.held / v.bought ELSE 0
        END * 1000000)::int8 AS basis_open_u,
       CASE WHEN v.payout IS NOT NULL AND v.bought_gross > 0
            THEN v.payout::float8 - v.paid_gross::float8 / v.bought_gross::float8 END AS edge,
       CASE WHEN v.payout IS NULL THEN NULL
            WHEN v.bought <= v.sold THEN v.last_at
            ELSE v.resolved_at END AS exited_at
  FROM valued v
"""

LAST_PRICES = f"""
CREATE TEMP TABLE rep_last_price ON COMMIT DROP AS
SELECT h.token_id, lp.price
  FROM (SELECT DISTINCT token_id FROM rep_positions WHERE payout IS NULL AND held > 0) h
 CROSS JOIN LATERAL (
       SELECT t.price FROM ({GATED_TRADES}) t
        WHERE t.token_id = h.token_id
        ORDER BY t.timestamp DESC, t.log_index DESC
        LIMIT 1) lp
"""

WALLETS = """
CREATE TEMP TABLE rep_wallets ON COMMIT DROP AS
WITH wm AS (
    -- one row per (wallet, market): hash aggregation only, no sort; market NULL = unknown token.
    -- pnl and cost are micro-USDC here (their ratio is unit-free).
    SELECT p.wallet_address, p.market_id,
           sum(p.fills) AS fills,
           sum(p.volume_u) AS volume_u,
           min(p.first_at) AS first_at,
           max(p.last_at) AS last_at,
           sum(p.fees_u) AS fees_u,
           sum(coalesce(p.pnl_u, p.realized_open_u)) AS realized_u,
           sum(CASE WHEN p.payout IS NULL AND p.held > 0
                    THEN (p.held * coalesce(lp.price, 0) * 1000000)::int8 - p.basis_open_u
                    ELSE 0 END) AS unrealized_u,
           count(*) FILTER (WHERE p.payout IS NULL AND p.held > 0) AS open_positions,
           count(p.edge) AS edge_n,
           sum(p.edge) AS edge_sum,
           sum(p.edge * p.edge) AS edge_sq,
           sum(p.pnl_u) AS pnl,
           sum(p.paid_u) FILTER (WHERE p.payout IS NOT NULL) AS cost,
           min(p.first_at) FILTER (WHERE p.payout IS NOT NULL) AS resolved_first_at,
           max(p.exited_at) AS exited_at
      FROM rep_positions p
      LEFT JOIN rep_last_price lp ON lp.token_id = p.token_id
     GROUP BY p.wallet_address, p.market_id
)
SELECT (row_number() OVER () - 1)::int AS idx,
       wallet_address,
       sum(fills) AS total_trades,
       sum(volume_u) / 1000000 AS volume,
       count(market_id) AS markets_traded,
       min(first_at) AS first_at,
       max(last_at) AS last_at,
       sum(fees_u) / 1000000 AS fees,
       sum(realized_u) / 1000000 AS realized_pnl,
       sum(unrealized_u) / 1000000 AS unrealized_pnl,
       sum(open_positions) AS open_positions,
       sum(edge_n) AS edge_n,
       sum(edge_sum) / nullif(sum(edge_n), 0) AS edge_mean,
       sqrt(greatest((sum(edge_sq) - sum(edge_sum) ^ 2 / nullif(sum(edge_n), 0))
                     / nullif(sum(edge_n) - 1, 0), 0)) AS edge_sd,
       count(pnl) AS resolved,
       count(*) FILTER (WHERE pnl > 0) AS wins,
       count(*) FILTER (WHERE pnl < 0) AS losses,
       coalesce(sum(pnl) FILTER (WHERE pnl > 0), 0) / 1000000 AS gross_profit,
       coalesce(-sum(pnl) FILTER (WHERE pnl < 0), 0) / 1000000 AS gross_loss,
       sum(pnl) / 1000000 AS resolved_pnl,
       sum(cost) / 1000000 AS resolved_cost,
       count(*) FILTER (WHERE pnl IS NOT NULL AND cost > 0) AS return_n,
       avg(pnl::float8 / cost::float8) FILTER (WHERE pnl IS NOT NULL AND cost > 0) AS return_mean,
       stddev_samp(pnl::float8 / cost::float8) FILTER (WHERE pnl IS NOT NULL AND cost > 0)
           AS return_sd,
       avg(extract(epoch FROM exited_at - resolved_first_at)::float8) FILTER (WHERE pnl IS NOT NULL)
           AS holding_secs
  FROM wm
 GROUP BY wallet_address
"""

# Factor inputs, one array per column, in idx order (cheap to ship: one value per wallet).
INPUT_ARRAYS = """
SELECT array_agg(wins::float8) AS wins,
       array_agg(losses::float8) AS losses,
       array_agg(resolved::float8) AS resolved,
       array_agg(gross_profit::float8) AS gross_profit,
       array_agg(gross_loss::float8) AS gross_loss,
       array_agg(return_n::float8) AS return_n,
       array_agg(coalesce(return_mean, 'NaN')) AS return_mean,
       array_agg(coalesce(return_sd, 'NaN')) AS return_sd,
       array_agg(volume::float8) AS volume_usdc,
       array_agg(edge_n::float8) AS edge_n,
       array_agg(coalesce(edge_mean, 'NaN')) AS edge_mean,
       array_agg(coalesce(edge_sd, 'NaN')) AS edge_sd
  FROM (SELECT * FROM rep_wallets ORDER BY idx) AS w
"""

SCORES = """
CREATE TEMP TABLE rep_scores ON COMMIT DROP AS
SELECT (s.idx - 1)::int AS idx, s.wilson_lower, s.wilson_upper,
       nullif(s.pf_shrunk, 'NaN') AS pf_shrunk, s.sharpe_shrunk, s.edge,
       nullif(s.edge_se, 'NaN') AS edge_se, s.f_win, s.f_pf, s.f_cons, s.f_vol, s.f_timing,
       s.raw_score,
       s.score::numeric(4, 2) AS score, s.cap, s.tier
  FROM unnest($1::float8[], $2::float8[], $3::float8[], $4::float8[], $5::float8[],
              $6::float8[], $7::float8[], $8::float8[], $9::float8[], $10::float8[],
              $11::float8[], $12::float8[], $13::float8[], $14::text[], $15::text[])
       WITH ORDINALITY AS s(wilson_lower, wilson_upper, pf_shrunk, sharpe_shrunk, edge, edge_se,
                            f_win, f_pf, f_cons, f_vol, f_timing, raw_score, score, cap, tier,
                            idx)
"""

_FINAL = """
CREATE TEMP VIEW rep_final AS
SELECT w.*, s.score, s.tier, s.edge AS edge_shrunk, s.edge_se, s.f_cons, s.f_timing,
       jsonb_build_object(
           'score', s.score, 'raw_score', round(s.raw_score::numeric, 4), 'capped', s.cap,
           'win_rate', jsonb_build_object(
               'value', s.f_win, 'weight', {W1}, 'points', 10 * {W1} * s.f_win,
               'wins', w.wins, 'losses', w.losses,
               'wilson_lower', s.wilson_lower, 'wilson_upper', s.wilson_upper),
           'profit_factor', jsonb_build_object(
               'value', s.f_pf, 'weight', {W2}, 'points', 10 * {W2} * s.f_pf,
               'gross_profit', w.gross_profit, 'gross_loss', w.gross_loss,
               'shrunk', s.pf_shrunk),
           'consistency', jsonb_build_object(
               'value', s.f_cons, 'weight', {W3}, 'points', 10 * {W3} * s.f_cons,
               'markets', w.return_n, 'mean_return', w.return_mean, 'sd_return', w.return_sd,
               'sharpe_shrunk', s.sharpe_shrunk),
           'volume', jsonb_build_object(
               'value', s.f_vol, 'weight', {W4}, 'points', 10 * {W4} * s.f_vol,
               'volume_usdc', w.volume),
           'timing', jsonb_build_object(
               'value', s.f_timing, 'weight', {W5}, 'points', 10 * {W5} * s.f_timing,
               'edge', s.edge, 'edge_raw', w.edge_mean, 'edge_se', s.edge_se,
               'resolved_buys', w.edge_n)
       ) AS factors
  FROM rep_wallets w
  JOIN rep_scores s ON s.idx = w.idx
"""


def final_view(weights: dict[str, float]) -> str:
    """``rep_final``: a view (not a table) so the factors JSON is only built for the rows a
    statement actually writes -- every wallet in the upsert, changed ones in the history.
    Weights are inlined as float literals (views take no parameters)."""
    return _FINAL.format(
        W1=f"{float(weights['win_rate'])!r}::float8",
        W2=f"{float(weights['profit_factor'])!r}::float8",
        W3=f"{float(weights['consistency'])!r}::float8",
        W4=f"{float(weights['volume'])!r}::float8",
        W5=f"{float(weights['timing'])!r}::float8",
    )


# Views are not dropped on commit like the temp tables they read: drop it explicitly.
DROP_FINAL = "DROP VIEW IF EXISTS rep_final"

# $1 = computed_at. Before the upsert: a snapshot only where score or tier changes.
HISTORY = """
INSERT INTO orderflow_reputation_history
       (wallet_address, reputation_score, trader_tier, factors, resolved_positions, computed_at)
SELECT f.wallet_address, f.score, f.tier, f.factors, f.resolved, $1::timestamptz
  FROM rep_final f
  LEFT JOIN orderflow_wallet_stats ws ON ws.wallet_address = f.wallet_address
 WHERE ws.reputation_score IS DISTINCT FROM f.score
    OR ws.trader_tier IS DISTINCT FROM f.tier
"""

# $1 = computed_at, $2 = as_of.
UPSERT_STATS = """
INSERT INTO orderflow_wallet_stats AS ws (
    wallet_address, total_trades, total_volume_usdc, markets_traded, resolved_positions, wins,
    losses, win_rate, gross_profit, gross_loss, profit_factor, realized_pnl, unrealized_pnl, roi,
    consistency, timing, avg_holding_secs, first_trade_at, last_trade_at, reputation_score,
    trader_tier, factors, computed_at, updated_at, edge, edge_raw, edge_se, resolved_buys,
    fees_paid, open_positions, as_of)
SELECT f.wallet_address, f.total_trades, f.volume, f.markets_traded, f.resolved, f.wins,
       f.losses,
       CASE WHEN f.wins + f.losses > 0 THEN f.wins::float8 / (f.wins + f.losses) END,
       f.gross_profit, f.gross_loss,
       CASE WHEN f.gross_loss > 0 THEN (f.gross_profit / f.gross_loss)::float8 END,
       f.realized_pnl, f.unrealized_pnl,
       CASE WHEN f.resolved_cost > 0 THEN (f.resolved_pnl / f.resolved_cost)::float8 END,
       f.f_cons, f.f_timing, f.holding_secs, f.first_at, f.last_at, f.score, f.tier, f.factors,
       $1::timestamptz, now(), f.edge_shrunk, f.edge_mean, f.edge_se, f.edge_n, f.fees,
       f.open_positions, $2::timestamptz
  FROM rep_final f
ON CONFLICT (wallet_address) DO UPDATE SET
    total_trades = EXCLUDED.total_trades,
    total_volume_usdc = EXCLUDED.total_volume_usdc,
    markets_traded = EXCLUDED.markets_traded,
    resolved_positions = EXCLUDED.resolved_positions,
    wins = EXCLUDED.wins,
    losses = EXCLUDED.losses,
    win_rate = EXCLUDED.win_rate,
    gross_profit = EXCLUDED.gross_profit,
    gross_loss = EXCLUDED.gross_loss,
    profit_factor = EXCLUDED.profit_factor,
    realized_pnl = EXCLUDED.realized_pnl,
    unrealized_pnl = EXCLUDED.unrealized_pnl,
    roi = EXCLUDED.roi,
    consistency = EXCLUDED.consistency,
    timing = EXCLUDED.timing,
    avg_holding_secs = EXCLUDED.avg_holding_secs,
    first_trade_at = EXCLUDED.first_trade_at,
    last_trade_at = EXCLUDED.last_trade_at,
    reputation_score = EXCLUDED.reputation_score,
    trader_tier = EXCLUDED.trader_tier,
    factors = EXCLUDED.factors,
    computed_at = EXCLUDED.computed_at,
    updated_at = EXCLUDED.updated_at,
    edge = EXCLUDED.edge,
    edge_raw = EXCLUDED.edge_raw,
    edge_se = EXCLUDED.edge_se,
    resolved_buys = EXCLUDED.resolved_buys,
    fees_paid = EXCLUDED.fees_paid,
    open_positions = EXCLUDED.open_positions,
    as_of = EXCLUDED.as_of
-- A wallet whose figures did not change is not rewritten (most wallets between two hourly
-- runs): its computed_at / as_of say when its values were last (re)computed differently.
WHERE (ws.total_trades, ws.total_volume_usdc, ws.markets_traded, ws.resolved_positions,
       ws.realized_pnl, ws.unrealized_pnl, ws.fees_paid, ws.open_positions, ws.first_trade_at,
       ws.last_trade_at, ws.reputation_score, ws.trader_tier, ws.factors)
      IS DISTINCT FROM
      (EXCLUDED.total_trades, EXCLUDED.total_volume_usdc, EXCLUDED.markets_traded,
       EXCLUDED.resolved_positions, EXCLUDED.realized_pnl, EXCLUDED.unrealized_pnl,
       EXCLUDED.fees_paid, EXCLUDED.open_positions, EXCLUDED.first_trade_at,
       EXCLUDED.last_trade_at, EXCLUDED.reputation_score, EXCLUDED.trader_tier,
       EXCLUDED.factors)
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

SCORE_ROWS = """
SELECT f.wallet_address, f.score, f.tier, f.edge_shrunk AS edge, f.edge_mean AS edge_raw,
       f.edge_se, f.edge_n AS resolved_buys, f.resolved, f.wins, f.losses, f.factors
  FROM rep_final f
"""

# One wallet's fills with their market resolution (for `orderflow wallet` and the reference).
# $1 = as_of, $2 = wallet.
WALLET_FILLS = f"""
SELECT t.token_id, t.side, t.size, t.usdc_size, t.fee, t.fee_asset, t.price, t.timestamp,
       coalesce(t.market_id, tk.condition_id) AS market_id,
       coalesce(t.outcome_index, tk.outcome_index) AS outcome_index,
       o.payouts, o.resolved_at
  FROM ({GATED_TRADES}) t
  LEFT JOIN orderflow_tokens tk ON t.market_id IS NULL AND tk.token_id = t.token_id
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

WALLET_STATS = "SELECT * FROM orderflow_wallet_stats WHERE wallet_address = $1"

WALLET_HISTORY = """
SELECT reputation_score, trader_tier, resolved_positions, computed_at
  FROM orderflow_reputation_history
 WHERE wallet_address = $1
 ORDER BY computed_at DESC
 LIMIT $2
"""

ALL_WALLETS = f"SELECT DISTINCT wallet_address FROM ({GATED_TRADES}) t ORDER BY 1"

RUN_LOCK_KEY = 0x6F72_6466_7265_7075  # "ordfrepu": one reputation run at a time
