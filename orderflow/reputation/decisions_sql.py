"""The wallets statement's per-position part
(:data:`orderflow.reputation.evidence_sql.WALLETS` puts these common table expressions, in this
order, after the complete sets of :mod:`orderflow.reputation.hedged_sql`;
:mod:`orderflow.reputation.wallet_sums_sql` sums their rows):

* :data:`ADJ` (``adj``) -- ``rep_positions`` with the taker fills that were off-market
  (``rep_wash``) or no decision (``rep_void``) taken out of its decisions and exits;
* :data:`POS` (``pos``) -- each position's closing line (``rep_close``), whether it is judged, and
  the entry prices of its decisions before and after its token's close;
* :data:`DEC` (``dec``) -- one narrow row per position, its decisions' values, stakes and null
  variances, in the fixed (wallet, event, token) order the sums add them in.

Each is the text between ``name AS (`` and the ``)`` that closes it (no parentheses of its own
around it): a fragment, not a statement.
"""

from __future__ import annotations

from orderflow.accounting.aggregate import DECISION_STAKE_SQL, DECISION_VALUE_SQL, HELD_LINE_SQL

__all__ = ["ADJ", "DEC", "POS"]

# A decision amount of rep_positions less its off-market part (in ADJ).
_LESS = (
    "CASE WHEN NOT coalesce(o.taken, FALSE) THEN p.{c}"
    " WHEN p.{c} - o.off_{c} > 0.0000005 THEN p.{c} - o.off_{c} ELSE 0.0 END"
)
# A gross amount of rep_positions (micro-units) in units, less rep_void's part of it (floored).
_GROSS = "greatest(p.{c}_gross_u::float8 / 1000000 - coalesce(o.{v}, 0.0), 0.0)"
_VO = DECISION_VALUE_SQL.format(v="p", y="p.payout_f")
_VC = DECISION_VALUE_SQL.format(v="p", y="coalesce(p.close_y, p.payout_f)")
_STAKE = DECISION_STAKE_SQL.format(v="p")
# what a bought share realized against the closing line (its exit price where it was sold)
_HELD = HELD_LINE_SQL.format(v="p", y="p.close_y")
# a price clipped to [0.01, 0.99]; a position's decisions' mean entry price, and that of those
# before its token's close
_CLIP = "least(0.99, greatest(0.01, {x}))"
_QBAR = _CLIP.format(x="(p.tcb + p.tr) / nullif(p.tb + p.ts, 0)")
_PRE_Q = (
    "(p.tcb + p.tr - p.post_tcb - p.post_tr)"
    " / nullif(greatest(p.tb + p.ts - p.post_tb - p.post_ts, 0.0), 0)"
)

# rep_positions less its off-market fills (rep_wash's rows) and those no decision (rep_void's).
ADJ = f"""
    -- rep_positions with its taker fills that were off-market (rep_wash's per-token rows: a
    -- price nobody else paid around them is no evidence of skill) or no decision (rep_void's:
    -- taken after the resolution, or against the wallet's own orders) taken out of the
    -- decisions; a remainder below a micro-unit is none (an off-market fill after the resolution
    -- is taken out twice: the floor holds)
    SELECT p.wallet_address, p.token_id, p.event_id, p.fills, p.volume_u, p.first_at, p.last_at,
           p.fees_u, p.pnl_u, p.realized_open_u, p.resolved, p.held_u, p.basis_open_u, p.paid_u,
           p.exited_at, p.taker_first_at, p.taker_volume_u, p.penny_u, p.buy_u, p.payout_f,
           p.market_id, p.outcome_index, p.kept_u, p.taker_buy_u,
           p.resolved_at, p.shares_u, p.net_u,
           {_LESS.format(c="tb")} AS tb, {_LESS.format(c="tcb")} AS tcb,
           {_LESS.format(c="ts")} AS ts, {_LESS.format(c="tr")} AS tr,
           {_LESS.format(c="tfee")} AS tfee,
           CASE WHEN NOT g.voided THEN p.exited
                WHEN g.bg > 0 THEN least(1.0, g.sg / g.bg) ELSE 0.0 END AS exited,
           CASE WHEN NOT g.voided THEN p.exit_price
                WHEN g.sg > 0 THEN g.rg / g.sg ELSE 0.0 END AS exit_price,
           CASE WHEN NOT coalesce(o.taken, FALSE) THEN p.short
                WHEN NOT g.voided THEN
                     CASE WHEN p.ts > 0 THEN p.short * {_LESS.format(c="ts")} / p.ts ELSE 0.0 END
                WHEN g.sg > g.bg AND {_LESS.format(c="ts")} > 0
                THEN (g.sg - g.bg) * {_LESS.format(c="ts")} / g.sg
                ELSE 0.0 END AS short,
           CASE WHEN NOT coalesce(o.taken, FALSE) THEN p.short_price
                WHEN {_LESS.format(c="ts")} > 0 THEN {_LESS.format(c="tr")} / {_LESS.format(c="ts")}
                ELSE 0.0 END AS short_price,
           coalesce(o.post_tb, 0.0) AS post_tb, coalesce(o.post_tcb, 0.0) AS post_tcb,
           coalesce(o.post_ts, 0.0) AS post_ts, coalesce(o.post_tr, 0.0) AS post_tr
      FROM rep_positions p
      -- rep_wash's one row per (wallet, token) and rep_void's (at most one each: a sum of two
      -- float8 terms is the same in either order), grouped so the planner knows the key unique
      -- and hashes these few rows rather than the positions (the temp table has no statistics)
      LEFT JOIN (SELECT wallet_address, token_id, sum(off_tb) AS off_tb, sum(off_tcb) AS off_tcb,
                        sum(off_ts) AS off_ts, sum(off_tr) AS off_tr, sum(off_tfee) AS off_tfee,
                        sum(gb) AS gb, sum(gs) AS gs, sum(gr) AS gr, bool_or(taken) AS taken,
                        sum(post_tb) AS post_tb, sum(post_tcb) AS post_tcb,
                        sum(post_ts) AS post_ts, sum(post_tr) AS post_tr
                   FROM (SELECT wallet_address, token_id, off_tb, off_tcb, off_ts,
                                off_tr + x_tr AS off_tr, off_tfee, 0.0::float8 AS gb,
                                0.0::float8 AS gs, x_gr AS gr, TRUE AS taken,
                                0.0::float8 AS post_tb, 0.0::float8 AS post_tcb,
                                0.0::float8 AS post_ts, 0.0::float8 AS post_tr
                           FROM rep_wash WHERE token_id IS NOT NULL
                         UNION ALL
                         -- taken: some fill is voided (a row of decisions after the close
                         -- alone takes nothing out)
                         SELECT wallet_address, token_id, tb, tcb, ts, tr, tfee, gb, gs, gr,
                                gb > 0 OR gs > 0, post_tb, post_tcb, post_ts, post_tr
                           FROM rep_void) x
                  GROUP BY wallet_address, token_id) o
        ON o.wallet_address = p.wallet_address AND o.token_id = p.token_id
     -- the gross amounts exited, exit_price and short are made of, less rep_void's fills that
     -- are no exit of a decision and what sales received above every prevailing price around
     -- them (rep_wash's x_gr: orderflow.reputation.wash_exits_sql; voided: some of either;
     -- else the row's own figures stand)
     CROSS JOIN LATERAL (
           SELECT coalesce(o.gb > 0 OR o.gs > 0 OR o.gr > 0, FALSE) AS voided,
                  {_GROSS.format(c="bought", v="gb")} AS bg,
                  {_GROSS.format(c="sold", v="gs")} AS sg,
                  {_GROSS.format(c="received", v="gr")} AS rg) g
    OFFSET 0  -- each adjusted amount computed once per row"""

# adj with its closing line (rep_close) and its decisions' entry prices.
POS = f"""
    -- A decision is a taker fill; it is judged when its token's market has resolved.
    SELECT p.*,
           -- no closing line for a decision taken after the close (judged by its outcome)
           CASE WHEN rc.close_at IS NULL OR p.taker_first_at > rc.close_at THEN NULL
                WHEN p.last_at >= rc.close_at THEN rc.prev_price
                ELSE rc.close_price END AS close_y,
           p.resolved AND (p.tb > 0 OR p.short > 0) AS judged,
           {_QBAR} AS qbar,
           -- the decisions taken after the close (rep_void's post amounts; their short the
           -- short's share of the taker shares sold then), each at most the position's, and
           -- their entry price; the entry price of those before it (the position's if none)
           least(p.post_tb, p.tb) AS lb,
           CASE WHEN p.ts > 0 THEN p.short * least(1.0, p.post_ts / p.ts) ELSE 0.0 END AS ls,
           {_CLIP.format(x="(p.post_tcb + p.post_tr) / nullif(p.post_tb + p.post_ts, 0)")} AS lq,
           CASE WHEN p.post_tb > 0 OR p.post_ts > 0
                THEN coalesce({_CLIP.format(x=_PRE_Q)}, {_QBAR}) ELSE {_QBAR} END AS pq
      FROM adj p
      LEFT JOIN rep_close rc ON rc.token_id = p.token_id
    OFFSET 0  -- close_y and qbar computed once per row, not at each reference below"""

# pos narrowed to what the sums read, valued, in the sums' fixed order.
DEC = f"""
    -- one narrow row per position, only what the sums read, in the fixed order (COLLATE "C":
    -- a byte order, the cheapest to sort; the token orders an event's positions)
    SELECT p.wallet_address COLLATE "C" AS w, p.event_id COLLATE "C" AS e,
           p.fills, p.volume_u, p.first_at, p.last_at, p.fees_u,
           coalesce(p.pnl_u, p.realized_open_u) AS realized_u,
           -- an open position (its unrealized P&L is computed when read, from the open
           -- positions and the marks a run keeps: migration 098, orderflow.reputation.unrealized)
           NOT p.resolved AND p.held_u > 0 AS open,
           p.pnl_u, CASE WHEN p.resolved THEN p.paid_u END AS cost_u,
           CASE WHEN p.resolved THEN p.first_at END AS resolved_first_at, p.exited_at,
           CASE WHEN p.judged THEN p.taker_first_at END AS decided_at,
           CASE WHEN p.judged THEN p.resolved_at END AS judged_at,
           p.taker_volume_u, p.penny_u, p.buy_u,
           -- round trips (rt below): a standard market's shares bought less sold, its first
           -- outcome's less its second's (the market is the event: netted by we's grouping)
           p.shares_u,
           CASE WHEN p.event_id = p.market_id
                THEN CASE WHEN p.outcome_index = 1 THEN -p.net_u ELSE p.net_u END END AS snet,
           -- a standard market's complete sets (HEDGED_CTES): its YES and NO kept, its buys
           CASE WHEN p.event_id = p.market_id AND p.outcome_index = 0 THEN p.kept_u END AS k0,
           CASE WHEN p.event_id = p.market_id AND p.outcome_index = 1 THEN p.kept_u END AS k1,
           CASE WHEN p.event_id = p.market_id THEN p.taker_buy_u END AS kb,
           CASE WHEN p.event_id = p.market_id AND p.kept_u > 0 THEN p.taker_first_at END AS kt,
           CASE WHEN p.judged THEN {_VO} END AS vo,
           -- against the closing line, the decisions after the close at their own price lq (no
           -- line: no closing-line value either way; their outcome stays in the outcome's
           -- excess over the line; docs/reputation.md "Wallets that game the exits and the
           -- line" says why not the outcome): the value is linear in the yardstick y, its slope
           -- the shares held to the end less the short (what DECISION_VALUE_SQL values at y), of
           -- which lb (1 - exited) and ls move
           CASE WHEN p.judged AND p.close_y IS NOT NULL AND (p.lb > 0 OR p.ls > 0)
                THEN {_VC} + (p.lq - p.close_y) * (p.lb * (1.0 - p.exited) - p.ls)
                WHEN p.judged THEN {_VC} END AS vc,
           CASE WHEN p.judged THEN {_STAKE} END AS stake,
           CASE WHEN p.judged THEN p.tb + p.short END AS x,
           CASE WHEN p.judged THEN (p.tb * p.tb + p.short * p.short) * p.qbar * (1 - p.qbar)
           END AS nvar,
           CASE WHEN p.judged AND p.close_y IS NULL
                THEN (p.tb * p.tb + p.short * p.short) * p.qbar * (1 - p.qbar)
                END AS nvar_unclosed,
           -- a decision with a closing line: its closing-line value's variance under no edge,
           -- x^2 (q (1 - q) - c (1 - c)) (the line a martingale from the entry q: what it can
           -- still move; the law of total variance), c each share's line (held_line); the
           -- decisions before the close alone
           CASE WHEN p.judged AND p.close_y IS NOT NULL
                THEN (p.tb - p.lb) * (p.tb - p.lb)
                       * (p.pq * (1 - p.pq) - {_HELD} * (1 - {_HELD}))
                     + (p.short - p.ls) * (p.short - p.ls)
                       * (p.pq * (1 - p.pq) - p.close_y * (1 - p.close_y))
           END AS nvar_close,
           -- a neg-risk position's part of the event's payout in YES terms: the shares its
           -- taker fills bought and kept to the resolution (kept_u, HEDGED's), times its leg's
           -- entry-implied P(YES) (the price for YES, minus one less the price for NO: a NO
           -- pays when its leg loses); nvar in we
           CASE WHEN p.judged AND p.event_id <> p.market_id AND p.kept_u > 0
                THEN p.kept_u::float8 / 1000000 * CASE WHEN p.outcome_index = 0 THEN p.qbar
                                                       ELSE p.qbar - 1 END END AS leg_a
      FROM pos p
     ORDER BY 1, 2, p.token_id"""
