"""Reputation's evidence statements: closing lines, the per-wallet evidence sums (and WASH, from
:mod:`orderflow.reputation.wash_sql`, re-exported: the run calls WASH, then the closing lines,
which leave out the matches inside the wash groups it found, then the sums). The
wallets statement's complete sets (the HEDGED flag) are :mod:`orderflow.reputation.hedged_sql`'s.

Run after ``rep_positions`` (:data:`orderflow.reputation.positions_sql.POSITIONS`), inside the same
transaction, reading trades only through the as_of gate (:data:`GATED_TRADES`).
"""

from __future__ import annotations

from orderflow.accounting.aggregate import DECISION_STAKE_SQL, DECISION_VALUE_SQL, HELD_LINE_SQL
from orderflow.reputation import line_sql
from orderflow.reputation.gate import GATED_TRADES
from orderflow.reputation.hedged_sql import HEDGED_CTES
from orderflow.reputation.wash_sql import WASH

__all__ = ["CLOSES", "VOID", "WALLETS", "WASH"]

# Closing line of every token a decision was taken in, at the token's closing time --
# ``clv_horizon`` of the way from its first trade to its resolution ($2; the cut-off for an
# unresolved token) -- by line_sql's rule (the median of the last prints of its last distinct
# takers in the hours up to its last market print by that time, the matches inside one wash
# group left out; none when a few wallets flood them): close_price; close_at, the time of its
# last trade from anyone by then; prev_price, the same rule over the trades before close_at
# (used for a wallet that took part in that trade itself: its own trade does not make its
# closing line). Also the mark of every token still held in an unresolved market: the same rule
# at as_of (its last print where the rule gives none).
# $1 = as_of, $2 = clv_horizon. Reads rep_hosts (line_sql.keep_hosts: after WASH).
#
# Which probes a token needs (closing line and the trade before it if resolved, the mark if not)
# is said inside each LATERAL subquery, on the outer row alone: a one-time filter that skips the
# index probes, where the same test in the join's ON clause runs them and discards their row (at
# 1 M wallets that was 40 % of the statement's 600,000 probes, docs/benchmarks.md "Closing
# lines").
_LINE = line_sql.line("k.token_id", "c1.timestamp", prev=True, when="k.resolved")
_MARK = line_sql.line("k.token_id", "m1.timestamp", when="NOT k.resolved")
_PRICED = line_sql.PRICED.format(t="t")  # a level: a price strictly inside (0, 1)
CLOSES = f"""
CREATE TEMP TABLE rep_close ON COMMIT DROP AS
WITH k AS (
    SELECT token_id, bool_or(resolved) AS resolved,
           min(first_at) + (coalesce(min(resolved_at) FILTER (WHERE resolved), $1::timestamptz)
                            - min(first_at)) * $2::float8 AS closes_at
      FROM rep_positions
     GROUP BY token_id
    HAVING bool_or(tb > 0 OR ts > 0) OR bool_or(NOT resolved AND held_u > 0)
)
SELECT k.token_id, c.price::float8 AS close_price, c1.timestamp AS close_at,
       c.prev_price::float8 AS prev_price,
       coalesce(m.price, m1.price) AS mark_price,
       m1.block_number AS mark_block,  -- the block of its fill (detached_lines.MARKS)
       c1.block_number AS close_block,  -- the block of the line's last fill (detached_lines.KEEP)
       true AS whole  -- read with every fill of the token attached? (detached_lines.KEEP)
  FROM k
  LEFT JOIN LATERAL (
       SELECT t.price, t.timestamp, t.block_number FROM ({GATED_TRADES}) t
        WHERE k.resolved AND t.token_id = k.token_id AND t.timestamp <= k.closes_at
          AND {_PRICED}
        ORDER BY t.timestamp DESC, t.log_index DESC
        LIMIT 1) c1 ON true
  LEFT JOIN LATERAL (
       SELECT t.price, t.timestamp, t.block_number FROM ({GATED_TRADES}) t
        WHERE NOT k.resolved AND t.token_id = k.token_id AND {_PRICED}
        ORDER BY t.timestamp DESC, t.log_index DESC
        LIMIT 1) m1 ON true
  CROSS JOIN LATERAL ({_LINE}) c
  CROSS JOIN LATERAL ({_MARK}) m
"""

# A voided amount of rep_void: {x}'s sum over the voided fills (their share) that {taker} and
# {side} keep.
_VOIDED = "coalesce(sum({x} * v.frac) FILTER (WHERE {taker} AND {side}), 0)::float8"
# A decision after the close of rep_void: the shares of the taker fills after it on {side}, less
# their voided share.
_POST = "coalesce(sum({x} * (1 - v.frac)) FILTER (WHERE v.post AND {side}), 0)::float8"
_TAKER = "t.is_taker_aggregate"
_FEE = "CASE WHEN t.fee_asset = 'SHARES' THEN t.fee * t.price ELSE t.fee END"

# Fills that are no decision about the outcome, per (wallet, token), in the units of
# rep_positions' taker columns (rep_wash's off_* amounts have the same):
#
# * every fill of a resolved position stamped at or after its market's resolution -- taken
#   with the outcome known (the winner bought at 0.60 from stale orders once its market resolved
#   read as +0.67 a dollar of edge); read only for the positions whose last fill is at or after
#   their resolution (rare: none in most runs), each by the wallet's time index;
# * the part of a taker order that filled against the wallet's own resting orders (a maker row
#   naming its own wallet as the taker), and those maker rows: a trade with itself, at a price
#   nobody else paid (the counterparty evidence leaves such a match out: no pair, no off-market
#   verdict), so the winner bought at 0.50 from itself, the market at 0.95, read as +1 a dollar
#   of edge. Per (wallet, transaction): the shares of its self-matched maker rows over the
#   shares of its taker rows there (at most 1), applied to those taker rows; the maker rows by
#   migration 032's partial index, the taker rows by the transaction index.
#
# Also the decisions of a position that began before its token's close (rep_close.close_at) taken
# after it, which have no closing line (step 3 of docs/reputation.md): a dollar of each token
# bought early on gave the line to every later buy of the position, so a buy after the close of
# whichever token had fallen since was worth the whole fall
# (tests/reputation/test_gaming_late_line.py). Read, for each wallet with such positions, once:
# its taker fills after the earliest of their closes, by its time index (each fill read at most
# once, where a read per position would read an active wallet's history once per position).
#
# tb, tcb, ts, tr, tfee: the taker rows' part (out of the decisions); gb, gs, gr: every row's,
# gross shares bought and sold and collateral received (out of what exited, exit_price and
# short are made of: a sale into a stale bid after the resolution, or to the wallet's own
# resting bid, is no exit of a decision -- the loser dumped at 0.95 once resolved read as a
# winning decision, a coin flip sold to itself at 0.89 as exited at 0.89).
# post_tb, post_tcb, post_ts, post_tr: the shares and collateral the taker rows after the close
# bought and sold, less their voided part (what WALLETS values at their own price instead of the
# line).
# A fill in both counts once (the larger share). Sums NUMERIC, one conversion at the end (no
# order to depend on). A function of the wallet's own fills and its markets' resolutions: a
# change to either rescores the wallet (and the post amounts' close: a token whose line moved
# rescores its holders), so an incremental run (rep_positions: the rescored wallets') makes the
# same rows as a full one (tests/reputation/test_void_decisions.py).
# $1 = as_of. Reads rep_close.
VOID = f"""
CREATE TEMP TABLE rep_void ON COMMIT DROP AS
WITH late AS (
    SELECT t.chain_id, t.tx_hash, t.log_index, 1::numeric AS frac
      FROM rep_positions p
     CROSS JOIN LATERAL (
           SELECT g.chain_id, g.tx_hash, g.log_index FROM ({GATED_TRADES}) g
            WHERE g.wallet_address = p.wallet_address AND g.timestamp >= p.resolved_at
              AND g.token_id = p.token_id
           OFFSET 0) t
     WHERE p.resolved AND p.last_at >= p.resolved_at
), own_maker AS MATERIALIZED (
    SELECT s.wallet_address, s.chain_id, s.tx_hash, s.log_index, s.size
      FROM ({GATED_TRADES}) s
     WHERE s.taker_address = s.wallet_address AND NOT s.is_taker_aggregate
       AND s.wallet_address IN (SELECT wallet_address FROM rep_positions)
), own AS (
    SELECT wallet_address, chain_id, tx_hash, sum(size) AS shares
      FROM own_maker
     GROUP BY wallet_address, chain_id, tx_hash
), own_taker AS (
    SELECT t.chain_id, t.tx_hash, t.log_index,
           coalesce(least(1, x.shares / nullif(sum(t.size) OVER (PARTITION BY x.wallet_address,
                                                                 x.chain_id, x.tx_hash), 0)),
                    1) AS frac
      FROM own x
      JOIN ({GATED_TRADES}) t
        ON t.chain_id = x.chain_id AND t.tx_hash = x.tx_hash
       AND t.wallet_address = x.wallet_address AND t.is_taker_aggregate
), span AS (
    SELECT p.wallet_address, p.token_id, rc.close_at
      FROM rep_positions p
      JOIN rep_close rc ON rc.token_id = p.token_id
     WHERE p.resolved AND p.taker_first_at <= rc.close_at AND p.last_at > rc.close_at
), post AS (
    SELECT t.chain_id, t.tx_hash, t.log_index
      FROM (SELECT wallet_address, min(close_at) AS since FROM span GROUP BY wallet_address) w
     CROSS JOIN LATERAL (
           SELECT g.chain_id, g.tx_hash, g.log_index, g.token_id, g.timestamp
             FROM ({GATED_TRADES}) g
            WHERE g.wallet_address = w.wallet_address AND g.timestamp > w.since
              AND g.is_taker_aggregate
           OFFSET 0) t
      JOIN span s ON s.wallet_address = w.wallet_address AND s.token_id = t.token_id
     WHERE t.timestamp > s.close_at
), v AS (
    SELECT chain_id, tx_hash, log_index, max(frac) AS frac, bool_or(post) AS post
      FROM (SELECT *, FALSE AS post FROM late
            UNION ALL SELECT *, FALSE FROM own_taker
            UNION ALL SELECT chain_id, tx_hash, log_index, 1::numeric, FALSE FROM own_maker
            UNION ALL SELECT chain_id, tx_hash, log_index, 0::numeric, TRUE FROM post) u
     GROUP BY chain_id, tx_hash, log_index
)
SELECT t.wallet_address, t.token_id,
       {_VOIDED.format(x="t.size", taker=_TAKER, side="t.side = 'BUY'")} AS tb,
       {_VOIDED.format(x="t.usdc_size", taker=_TAKER, side="t.side = 'BUY'")} AS tcb,
       {_VOIDED.format(x="t.size", taker=_TAKER, side="t.side <> 'BUY'")} AS ts,
       {_VOIDED.format(x="t.usdc_size", taker=_TAKER, side="t.side <> 'BUY'")} AS tr,
       {_VOIDED.format(x=_FEE, taker=_TAKER, side="t.fee > 0")} AS tfee,
       {_VOIDED.format(x="t.size", taker="TRUE", side="t.side = 'BUY'")} AS gb,
       {_VOIDED.format(x="t.size", taker="TRUE", side="t.side <> 'BUY'")} AS gs,
       {_VOIDED.format(x="t.usdc_size", taker="TRUE", side="t.side <> 'BUY'")} AS gr,
       {_POST.format(x="t.size", side="t.side = 'BUY'")} AS post_tb,
       {_POST.format(x="t.usdc_size", side="t.side = 'BUY'")} AS post_tcb,
       {_POST.format(x="t.size", side="t.side <> 'BUY'")} AS post_ts,
       {_POST.format(x="t.usdc_size", side="t.side <> 'BUY'")} AS post_tr
  FROM v
  JOIN ({GATED_TRADES}) t
    ON t.chain_id = v.chain_id AND t.tx_hash = v.tx_hash AND t.log_index = v.log_index
 GROUP BY t.wallet_address, t.token_id
"""

# A decision amount of rep_positions less its off-market part (adj in WALLETS).
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
# an event's entry-implied chance of winning (its stake over its shares, clipped)
_Q = "least(0.99, greatest(0.01, we.stake / nullif(we.x, 0)))"

# The per-wallet sums, every one independent of the row order the plan happens to produce (a
# full and an incremental run must agree to the last bit): integers and intervals are summed
# exactly; the float8 sums (the decisions' values, stakes and variances) add their rows in one
# fixed order, the positions sorted by (wallet, event, token) before the events' sums and the
# events by (wallet, event) before the wallet's. That sort also lets both aggregations stream
# (grouped input, no hash tables), and the wallet's span of decisions comes from a window over
# the same sorted events instead of a third aggregation.
# $1 = hedged_leg_window_secs (the complete sets: HEDGED_CTES, set_u), $2 = the legs' cut-off
# (:func:`orderflow.reputation.gate.gated_conditions`: as_of, or NULL for a live run).
WALLETS = f"""
CREATE TEMP TABLE rep_wallets ON COMMIT DROP AS
WITH {HEDGED_CTES}, adj AS (
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
    OFFSET 0  -- each adjusted amount computed once per row
), pos AS (
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
    OFFSET 0  -- close_y and qbar computed once per row, not at each reference below
), dec AS (
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
     ORDER BY 1, 2, p.token_id
), we AS (
    -- one row per (wallet, event); event NULL = unknown token. pnl and cost are micro-USDC here
    -- (their ratio is unit-free). Integer sums leave as int8: the wallet-level sums below then
    -- add in 128-bit integers, not NUMERICs.
    SELECT p.w, p.e,
           sum(p.fills)::int8 AS fills,
           sum(p.volume_u)::int8 AS volume_u,
           min(p.first_at) AS first_at,
           max(p.last_at) AS last_at,
           sum(p.fees_u)::int8 AS fees_u,
           sum(p.realized_u)::int8 AS realized_u,
           count(*) FILTER (WHERE p.open) AS open_positions,
           sum(p.pnl_u)::int8 AS pnl,
           sum(p.cost_u)::int8 AS cost,
           max(p.exited_at) - min(p.resolved_first_at) AS held_for,
           sum(p.vo) AS vo, sum(p.vc) AS vc, sum(p.stake) AS stake, sum(p.x) AS x,
           -- the positions' null variance, and where it widens it the covariance of a neg-risk
           -- event's legs under no edge: exactly one leg wins, so two legs' payouts covary by
           -- -a_i a_j, which the independent positions' sum misses: sum a^2 - (sum a)^2 (YES on
           -- a candidate and NO on its rivals pay together: one bet on several legs). Each
           -- position counts as a leg of its own: a YES and a NO of one leg are counted as
           -- rivals', which only widens it further (their own complete set is HEDGED's)
           sum(p.nvar) + coalesce(greatest(0.0, sum(p.leg_a * p.leg_a)
                                                - sum(p.leg_a) * sum(p.leg_a)), 0.0) AS nvar,
           sum(p.nvar_unclosed) AS nvar_unclosed,
           sum(p.nvar_close) AS nvar_close,
           min(p.decided_at) AS decided_at,
           max(p.decided_at) AS decided_last,
           max(p.judged_at) AS judged_at,  -- when the event's last judged leg resolved
           sum(p.taker_volume_u)::int8 AS taker_volume_u,
           sum(p.penny_u)::int8 AS penny_u,
           sum(p.buy_u)::int8 AS buy_u,
           sum(p.shares_u) AS shares_u,
           abs(sum(p.snet)) AS exposed,  -- a standard market's net exposure (NULL: none)
           -- the fewer of a standard market's YES and NO (0 unless both are held and were
           -- first bought within $1 seconds of each other), at most what its buys paid; 0 for a
           -- neg-risk event (HEDGED_CTES)
           CASE WHEN max(p.kt) - min(p.kt) <= make_interval(secs => $1::int)
                THEN least(sum(p.kb), coalesce(sum(p.k0), 0), coalesce(sum(p.k1), 0))
                ELSE 0 END::int8 AS set_u
      FROM dec p
     GROUP BY p.w, p.e
), ev AS (
    -- the middle of the wallet's span of judged decisions (a window over the wallet's events):
    -- early and late halves; the first of the wallet's judged events to resolve on each UTC day
    -- (a window over its days: no DISTINCT in the sums below, which would have them sorted by
    -- day and added in another order), with the day's sums of the events' values against the
    -- outcome, of their excess over the closing line and of their wins less the entry-implied
    -- wins (the same window, its events added in event order: the outcome's variance clustered
    -- by day, docs/reputation.md "The edge and its posterior"); in (wallet, event) order for
    -- the wallet's sums
    SELECT we.*,
           {_Q} AS q,
           we.decided_at <= min(we.decided_at) OVER s
                            + (max(we.decided_last) OVER s - min(we.decided_at) OVER s) / 2
               AS early,
           row_number() OVER d = 1 AS first_of_day,
           sum(we.vo) OVER d AS day_vo,
           sum(we.vo - we.vc) OVER d AS day_resid,
           sum((we.vo > 0)::int::float8 - {_Q}) OVER d AS day_win
      FROM we
    WINDOW s AS (PARTITION BY we.w),
           d AS (PARTITION BY we.w,
                              CASE WHEN we.stake > 0
                                   THEN floor(extract(epoch FROM we.judged_at) / 86400) END
                 ORDER BY we.e ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
     ORDER BY we.w, we.e
), wallets AS (
SELECT w,
       sum(fills) AS total_trades,
       sum(volume_u) / 1000000 AS volume_usdc,
       count(e) AS markets_traded,
       min(first_at) AS first_at,
       max(last_at) AS last_at,
       sum(fees_u) / 1000000 AS fees,
       sum(realized_u) / 1000000 AS realized_pnl,
       sum(open_positions) AS open_positions,
       count(pnl) AS resolved,
       count(*) FILTER (WHERE pnl > 0) AS pnl_wins,
       count(*) FILTER (WHERE pnl < 0) AS pnl_losses,
       coalesce(sum(pnl) FILTER (WHERE pnl > 0), 0) / 1000000 AS pnl_gross_profit,
       coalesce(-sum(pnl) FILTER (WHERE pnl < 0), 0) / 1000000 AS pnl_gross_loss,
       sum(pnl) / 1000000 AS resolved_pnl,
       sum(cost) / 1000000 AS resolved_cost,
       -- the mean holding time: an exact sum of intervals, one rounding to float8
       extract(epoch FROM sum(held_for) FILTER (WHERE pnl IS NOT NULL))::float8
           / count(held_for) FILTER (WHERE pnl IS NOT NULL) AS holding_secs,
       count(*) FILTER (WHERE stake > 0)::float8 AS events,
       -- the UTC days those events resolved on (events resolving together are one unit of
       -- evidence for the tiers' minimums: a common factor moves them all at once)
       count(*) FILTER (WHERE stake > 0 AND first_of_day)::float8 AS resolution_days,
       -- over those days, the square of each day's sum (null_var, the excess over the closing
       -- line and wins_var clustered by day; docs/reputation.md "The edge and its posterior")
       coalesce(sum(day_vo * day_vo) FILTER (WHERE stake > 0 AND first_of_day), 0) AS day_var,
       coalesce(sum(day_resid * day_resid) FILTER (WHERE stake > 0 AND first_of_day), 0)
           AS resid_day_var,
       coalesce(sum(day_win * day_win) FILTER (WHERE stake > 0 AND first_of_day), 0)
           AS wins_day_var,
       coalesce(sum(vo) FILTER (WHERE stake > 0), 0) AS value,
       coalesce(sum(stake) FILTER (WHERE stake > 0), 0) AS stake,
       coalesce(sum(nvar) FILTER (WHERE stake > 0), 0) AS null_var,
       coalesce(sum(vc) FILTER (WHERE stake > 0), 0) AS clv_value,
       coalesce(sum(vc * vc) FILTER (WHERE stake > 0), 0) AS clv_sq,
       coalesce(sum(vc * stake) FILTER (WHERE stake > 0), 0) AS clv_stake,
       coalesce(sum(stake * stake) FILTER (WHERE stake > 0), 0) AS stake_sq,
       coalesce(sum(nvar_unclosed) FILTER (WHERE stake > 0), 0) AS clv_null_var,
       coalesce(sum(nvar_close) FILTER (WHERE stake > 0), 0) AS close_move_var,
       count(*) FILTER (WHERE stake > 0 AND vo > 0)::float8 AS wins,
       coalesce(sum(q) FILTER (WHERE stake > 0), 0) AS expected_wins,
       coalesce(sum(q * (1 - q)) FILTER (WHERE stake > 0), 0) AS wins_var,
       coalesce(sum(vo) FILTER (WHERE stake > 0 AND vo > 0), 0) AS gross_profit,
       coalesce(-sum(vo) FILTER (WHERE stake > 0 AND vo < 0), 0) AS gross_loss,
       coalesce(sum(x * q * (1 - q)) FILTER (WHERE stake > 0), 0) AS null_loss,
       coalesce(sum(vo) FILTER (WHERE stake > 0 AND early), 0) AS value_early,
       coalesce(sum(nvar) FILTER (WHERE stake > 0 AND early), 0) AS var_early,
       coalesce(sum(vo) FILTER (WHERE stake > 0 AND NOT early), 0) AS value_late,
       coalesce(sum(nvar) FILTER (WHERE stake > 0 AND NOT early), 0) AS var_late,
       sum(volume_u)::float8 / 1000000 AS volume,
       sum(taker_volume_u)::float8 / 1000000 AS taker_volume,
       sum(buy_u)::float8 / 1000000 AS buy_volume,
       sum(penny_u)::float8 / 1000000 AS penny_volume,
       sum(set_u) AS set_u,
       sum(shares_u) AS shares_u,
       coalesce(sum(exposed), 0) AS exposed
  FROM ev
 GROUP BY w
), rt AS (
    -- round trips (WASH's ring rule, orderflow.reputation.flags): per market (a token alone when
    -- its market is unknown), the shares bought less those sold, the first outcome's less the
    -- second's (a YES and a NO held together are a complete set: no exposure), in absolute
    -- value, against the shares traded; a standard market's in the sorted pass above (its
    -- event is itself: we's exposed), the rest here -- neg-risk legs, and tokens of no known
    -- market -- few positions; integer sums, exact in any order
    SELECT x.wallet_address, sum(abs(x.net)) AS exposed
      FROM (SELECT p.wallet_address, coalesce(p.market_id::text, p.token_id::text) AS mk,
                   sum(CASE WHEN p.outcome_index = 1 THEN -p.net_u ELSE p.net_u END) AS net
              FROM rep_positions p
             WHERE NOT coalesce(p.event_id = p.market_id, false)
             GROUP BY 1, 2) x
     GROUP BY x.wallet_address
)
-- the wallet's counterparty figures (rep_wash: at most one row per wallet with token_id NULL),
-- joined to the 1 row per wallet rather than to its events
SELECT (row_number() OVER () - 1)::int AS idx,
       a.w COLLATE "default" AS wallet_address,
       a.total_trades, a.volume_usdc, a.markets_traded, a.first_at, a.last_at, a.fees,
       a.realized_pnl, a.open_positions, a.resolved,
       a.pnl_wins, a.pnl_losses, a.pnl_gross_profit, a.pnl_gross_loss, a.resolved_pnl,
       a.resolved_cost, a.holding_secs, a.events, a.resolution_days, a.day_var,
       a.resid_day_var, a.wins_day_var, a.value, a.stake,
       a.null_var, a.clv_value, a.clv_sq, a.clv_stake, a.stake_sq, a.clv_null_var,
       a.close_move_var, a.wins,
       a.expected_wins, a.wins_var, a.gross_profit, a.gross_loss, a.null_loss, a.value_early,
       a.var_early, a.value_late,
       a.var_late, a.volume, a.taker_volume, a.buy_volume, a.penny_volume,
       coalesce(w.share, 0.0) AS wash_share,
       coalesce(w.counterparty_share, 0.0) AS wash_counterparty_share,
       coalesce(w.deviation, 'NaN') AS wash_deviation,
       coalesce(w.pair_fills, 0)::float8 AS wash_fills,
       coalesce(w.off_share, 0.0) AS wash_off_share,
       coalesce(w.off_fills, 0)::float8 AS wash_off_fills,
       w.counterparty::text AS wash_counterparty,
       w.host::text AS wash_host_address,
       coalesce(w.host_share, 0.0) AS wash_host_share,
       coalesce(w.host_own_share, 0.0) AS wash_host_own_share,
       (a.set_u + coalesce(h.hedged_u, 0))::float8 / 1000000 AS hedged_volume,
       coalesce((a.shares_u - a.exposed - coalesce(r.exposed, 0))::float8
                / nullif(a.shares_u, 0)::float8, 0.0) AS wash_round_trip
  FROM wallets a
  LEFT JOIN rep_wash w ON w.wallet_address = a.w COLLATE "default" AND w.token_id IS NULL
  LEFT JOIN hedged h ON h.wallet_address = a.w COLLATE "default"
  LEFT JOIN rt r ON r.wallet_address = a.w COLLATE "default"
"""
