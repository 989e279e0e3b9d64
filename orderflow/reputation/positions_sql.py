"""Reputation's SQL, set-based: a handful of statements whatever the number of wallets.

This module builds ``rep_positions``; the other statements live beside it (named below).

The run builds temporary tables inside one transaction (dropped on commit):

    rep_positions   one row per (wallet, token): gross/net amounts, taker sums, resolution, P&L
    rep_close       closing line / mark price per token      (orderflow.reputation.evidence_sql)
    rep_wash        counterparty / off-market figures per wallet, off-market taker volume per
                    (wallet, token)                              (orderflow.reputation.wash_sql)
    rep_wallets     one row per wallet: statistics and evidence sums, ``idx`` = 0..n-1 (same)
    rep_scores      factor values, score and tier per ``idx``, computed in numpy and sent back
                                                              (orderflow.reputation.scores_sql)
    rep_final       view: rep_wallets + rep_scores + the factors JSON, ready to persist (same)

What a run writes from them is in :mod:`orderflow.reputation.persist_sql`; the one-wallet reads
(``orderflow wallet``, the per-wallet reference) in :mod:`orderflow.reputation.wallet_sql`.

**The as_of gate** (:mod:`orderflow.reputation.gate`). ``GATED_TRADES`` and ``GATED_OUTCOMES`` are
the only way any statement reads ``orderflow_trades`` and ``orderflow_market_outcomes``: trades with
``timestamp <= $1`` and resolutions with ``resolved_at <= $1``. Parameter ``$1`` is always the
cut-off (``now()`` for a live run), so no statement can see the future of a backtest.

Accounting in SQL is the aggregate form of :mod:`orderflow.accounting` (average cost, fees in):

* a resolved position's P&L is path-independent: received - paid + held x payout (when the wallet
  sold more than it bought, the proceeds are scaled by bought / sold, the untracked-shares rule);
* an unresolved position is valued on its totals (``orderflow.accounting.open_pnl``, SQL
  ``OPEN_REALIZED_SQL`` / ``OPEN_BASIS_SQL``; ``orderflow wallet``'s replay the same): on what it
  sold, the proceeds minus the average cost of all its buys; shares sold beyond those bought
  take their share of every sale's proceeds, as at settlement (bought 10 at 0.30, sold 10 at 0.50
  and 10 more from a split at 0.30 realizes 8 x 10 / 20 - 3 = 1.00:
  tests/reputation/test_oversold_open.py; the sums carry no fill order); the rest is held at that
  average cost and marked at the token's mark;
* a wallet's taker decisions are valued by ``DECISION_VALUE_SQL`` (orderflow.accounting.aggregate).
"""

from __future__ import annotations

from orderflow.accounting.aggregate import OPEN_BASIS_SQL, OPEN_REALIZED_SQL, RESOLVED_PNL_SQL
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
    -- One row per market with something to say about its positions, built once per statement
    -- (tens of thousands of rows) and joined once per position: its event if it is a neg-risk
    -- condition (_EVENTS, below: the question id is the event, NegRiskAdapter market id, in the
    -- first 31 bytes plus the candidate's index in the last byte, so every leg of one neg-risk
    -- event shares left(question_id, 64); any other market is its own event: no row, or NULL),
    -- and if it is resolved at $1 its resolution, what is wrong with its payouts if anything,
    -- and the payouts as an array from 1 (a position's payout is element outcome_index + 1:
    -- NULL out of range, as is a NULL element; NULL for an empty vector, a ZERO_PAYOUT market).
    -- The per-vector aggregate is computed once per distinct vector (the planner memoizes it).
    -- Each source has at most one row per market (both are keyed by it), so each max() reads
    -- at most one value; the GROUP BY also tells the planner the key is unique, so the join
    -- hashes these rows (a key it knows nothing of, it sorted every position to merge them).
    SELECT k.market_id, max(k.neg_risk_event) AS neg_risk_event, max(k.resolved_at) AS resolved_at,
           max(k.payouts_text) AS payouts_text, max(k.market_problem) AS market_problem,
           max(k.payouts) AS payouts
      FROM (SELECT g.market_id, NULL::text AS neg_risk_event, g.resolved_at,
                   g.payouts::text AS payouts_text,
                   CASE WHEN coalesce(s.total, 0) = 0 THEN 'ZERO_PAYOUT'
                        WHEN s.bad OR abs(s.total - 1) > 0.000001 THEN 'BAD_PAYOUT'
                   END AS market_problem,
                   s.payouts
              FROM ({GATED_OUTCOMES}) g
             CROSS JOIN LATERAL (
                   SELECT sum(u.x) AS total, bool_or(u.x IS NULL OR u.x < 0 OR u.x > 1) AS bad,
                          array_agg(u.x ORDER BY u.i) AS payouts
                     FROM unnest(g.payouts) WITH ORDINALITY AS u(x, i)) s
@EVENTS@
           ) k
     GROUP BY k.market_id
), located AS (
    SELECT a.*,
           coalesce(a.trade_market_id, tk.condition_id) AS market_id,
           coalesce(a.trade_outcome_index, tk.outcome_index) AS outcome_index
      FROM agg a
      LEFT JOIN orderflow_tokens tk
        ON a.trade_market_id IS NULL AND tk.token_id = a.token_id
), judged AS (
    -- m.resolved_at is NULL for a market not resolved at $1 (or not known at all)
    SELECT l.*, m.resolved_at, m.payouts_text,
           coalesce(m.neg_risk_event, l.market_id) AS event_id,
           CASE WHEN l.market_id IS NULL OR l.outcome_index IS NULL THEN 'UNKNOWN_TOKEN'
                WHEN m.resolved_at IS NULL THEN NULL
                WHEN m.market_problem IS NOT NULL THEN m.market_problem
                WHEN m.payouts[l.outcome_index + 1] IS NULL THEN 'BAD_PAYOUT'
           END AS problem,
           m.payouts[l.outcome_index + 1] AS listed_payout
      FROM located l
      LEFT JOIN markets m ON m.market_id = l.market_id
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
       -- the shares bought less those sold, gross of fees (WALLETS' round trips: wash_round_trip)
       v.bought_gross_u - v.sold_gross_u AS net_u,
       v.paid::int8 AS paid_u,
       CASE WHEN v.fees = 0 THEN 0 ELSE (v.fees * 1000000)::int8 END AS fees_u,
       v.first_at, v.last_at, v.taker_first_at, v.problem, v.resolved_at,
       CASE WHEN v.problem IS NOT NULL THEN v.payouts_text END AS problem_payouts,
       v.payout::float8 AS payout_f, v.payout IS NOT NULL AS resolved, v.held_u,
       (CASE WHEN v.payout IS NULL THEN NULL
             ELSE {RESOLVED_PNL_SQL.format(v="v")}
        END)::int8 AS pnl_u,
       (CASE WHEN v.payout IS NOT NULL THEN 0
             ELSE {OPEN_REALIZED_SQL.format(v="v")} END)::int8 AS realized_open_u,
       (CASE WHEN v.payout IS NOT NULL THEN 0
             ELSE {OPEN_BASIS_SQL.format(v="v")} END)::int8 AS basis_open_u,
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
       -- what exited, exit_price and short are made of (WALLETS' adj takes out the fills that
       -- are no exit of a decision: rep_void's gross amounts)
       v.bought_gross_u, v.sold_gross_u, v.received_gross_u,
       v.taker_volume_u, v.penny_u, v.buy_u,
       -- what complete sets read (evidence_sql.HEDGED_CTES): the outcome, the shares its taker
       -- fills bought and did not sell, what they paid
       v.outcome_index, greatest(v.tb_u - v.ts_u, 0)::int8 AS kept_u, v.tcb_u AS taker_buy_u
  FROM valued v
"""

# The neg-risk events' rows of ``markets`` (the light statement reads no event: it leaves them out)
_EVENTS = """
            UNION ALL
            SELECT c.condition_id, left(c.question_id, 64) || '00', NULL, NULL, NULL, NULL
              FROM orderflow_conditions c
             WHERE c.neg_risk"""

# The columns of rep_positions that CLOSES, ISSUES and the incremental run's mark update read,
# from the same CTEs (the planner then skips the money arithmetic of the other columns).
_LIGHT_SELECT = """SELECT v.wallet_address, v.token_id, v.market_id, v.fills, v.first_at,
       v.problem, v.resolved_at,
       CASE WHEN v.problem IS NOT NULL THEN v.payouts_text END AS problem_payouts,
       v.payout IS NOT NULL AS resolved, v.held_u,
       v.tb_u::float8 / 1000000 AS tb, v.ts_u::float8 / 1000000 AS ts
  FROM valued v
"""


def positions(*, stored: bool = False, only: str = "", light: bool = False) -> str:
    """``rep_positions``: from the trades gated at ``$1`` (default), or from the stored sums
    (``stored``: a run at the present, every fill at or before ``$1``); ``only`` restricts the
    stored rows (an SQL condition on ``a``, e.g. the incremental run's wallets); ``light``: only
    the columns of :data:`_LIGHT_SELECT` (the same values; no event, so no neg-risk rows)."""
    sql = _POSITIONS
    if light:
        head, _, _ = sql.partition("-- Only what later statements read")
        sql = head.replace("@EVENTS@", "") + _LIGHT_SELECT
    sql = sql.replace("@EVENTS@", _EVENTS)
    if not stored:
        return sql.replace("@SUMS@", SUMS_SCAN)
    stored_sums = SUMS_STORED.replace("@ONLY@", f"AND ({only})" if only else "")
    return sql.replace("@SUMS@", stored_sums)


POSITIONS = positions()


# Statistics for the planner on the columns later statements join and group by (temp tables have
# none otherwise; the other 30-odd columns would cost more to sample than the statements they
# plan); ANALYZE_LIGHT after ``positions(light=True)``.
ANALYZE = "ANALYZE rep_positions (wallet_address, token_id, event_id, problem)"
ANALYZE_LIGHT = "ANALYZE rep_positions (wallet_address, token_id, problem)"
