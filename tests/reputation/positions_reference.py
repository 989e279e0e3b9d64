"""The positions statement as it was before one join read a position's market (positions_sql.py at
6a4b307: three joins keyed on the market id, ``payouts``, ``markets`` and ``orderflow_conditions``),
frozen: ``tests/reputation/test_positions_market.py`` runs it and the current one on the same data
and requires the same ``rep_positions`` rows and column types. Do not edit (it is the reference,
not code the run uses). The fragments it shares with the other statements (the sums, the gate,
the resolved P&L) are imported: the comparison is of what this statement does with them.
"""

from __future__ import annotations

from orderflow.accounting.aggregate import RESOLVED_PNL_SQL
from orderflow.reputation.gate import GATED_OUTCOMES
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
           last_at, paid_gross_u + received_gross_u AS volume_u,
           -- net amounts in micro-units: NUMERIC (a fee need not be whole micro-units), but no
           -- division; a zero fee (the usual case) leaves the integer as it is
           CASE WHEN fee_buy_shares = 0 THEN bought_gross_u::numeric
                ELSE bought_gross_u - fee_buy_shares * 1000000 END AS bought,
           CASE WHEN fee_buy_usdc = 0 THEN paid_gross_u::numeric
                ELSE paid_gross_u + fee_buy_usdc * 1000000 END AS paid,
           bought_gross_u, sold_gross_u, received_gross_u,
           CASE WHEN fee_sell_shares = 0 THEN sold_gross_u::numeric
                ELSE sold_gross_u + fee_sell_shares * 1000000 END AS sold,
           CASE WHEN fee_sell_usdc = 0 THEN received_gross_u::numeric
                ELSE received_gross_u - fee_sell_usdc * 1000000 END AS received,
           fee_buy_usdc + fee_sell_usdc + fee_share_value AS fees,
           tb_u, tcb_u, ts_u, tr_u, taker_fee, penny_u, paid_gross_u AS buy_u,
           tcb_u + tr_u AS taker_volume_u, taker_first_at
      FROM (
@SUMS@      ) AS sums
    -- OFFSET 0: each net amount computed once per row (a flattened subquery would repeat its
    -- expression wherever a later column reads it)
    OFFSET 0
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
           greatest(j.bought - j.sold, 0) AS held_u,
           least(j.bought, j.sold) AS matched
      FROM judged j
    OFFSET 0
)
-- Only what later statements read (a narrow table is cheaper to write and re-read). Money
-- leaves this statement as int8 micro-USDC (_u), each position rounded to the chain's unit,
-- so the aggregations below add integers, not NUMERICs; it is computed in micro-units (the net
-- amounts of ``valued`` are micro-units: the P&L formulas are homogeneous in them, and only a
-- position that needs a division pays for one). Decision inputs (orderflow.accounting
-- .aggregate) leave as float8: they feed statistics, not balances.
SELECT v.wallet_address, v.token_id, v.market_id, v.event_id, v.fills, v.volume_u,
       v.bought_gross_u + v.sold_gross_u AS shares_u,
       v.paid::int8 AS paid_u,
       CASE WHEN v.fees = 0 THEN 0 ELSE (v.fees * 1000000)::int8 END AS fees_u,
       v.first_at, v.last_at, v.taker_first_at, v.problem, v.resolved_at,
       CASE WHEN v.problem IS NOT NULL THEN v.payouts_text END AS problem_payouts,
       v.payout::float8 AS payout_f, v.payout IS NOT NULL AS resolved, v.held_u,
       (CASE WHEN v.payout IS NULL THEN NULL
             ELSE {RESOLVED_PNL_SQL.format(v="v")}
        END)::int8 AS pnl_u,
       (CASE WHEN v.payout IS NOT NULL OR v.matched = 0 THEN 0
             ELSE v.received * v.matched / v.sold - v.paid * v.matched / v.bought
        END)::int8 AS realized_open_u,
       (CASE WHEN v.payout IS NULL AND v.bought > 0 AND v.held_u > 0
             THEN v.paid * v.held_u / v.bought ELSE 0 END)::int8 AS basis_open_u,
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
       v.taker_volume_u, v.penny_u, v.buy_u,
       -- the complete sets' columns (migration 060), added after this statement was frozen
       v.outcome_index, greatest(v.tb_u - v.ts_u, 0)::int8 AS kept_u, v.tcb_u AS taker_buy_u
  FROM valued v
"""


# The columns of rep_positions that CLOSES, ISSUES and the incremental run's mark update read,
# from the same CTEs (the planner then skips the money arithmetic of the other columns).
_LIGHT_SELECT = """SELECT v.wallet_address, v.token_id, v.market_id, v.fills, v.first_at,
       v.problem, v.resolved_at,
       CASE WHEN v.problem IS NOT NULL THEN v.payouts_text END AS problem_payouts,
       v.payout IS NOT NULL AS resolved, v.held_u,
       v.tb_u::float8 / 1000000 AS tb, v.ts_u::float8 / 1000000 AS ts
  FROM valued v
"""


def old_positions(*, stored: bool = False, only: str = "", light: bool = False) -> str:
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
