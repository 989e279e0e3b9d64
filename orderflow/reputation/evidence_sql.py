"""Reputation's evidence statements: closing lines (:data:`CLOSES`), the fills that are no
decision (:data:`VOID`), the per-wallet evidence sums (:data:`WALLETS`). The run calls
:data:`orderflow.reputation.wash_sql.WASH` first, then the closing lines, which leave out the
matches inside the wash groups it found, then VOID, then the sums.

:data:`WALLETS` is put together here from its parts: the complete sets (the HEDGED flag,
:mod:`orderflow.reputation.hedged_sql`), the per-position decisions
(:mod:`orderflow.reputation.decisions_sql`) and the per-event and per-wallet sums
(:mod:`orderflow.reputation.wallet_sums_sql`).

Run after ``rep_positions`` (:data:`orderflow.reputation.positions_sql.POSITIONS`), inside the same
transaction, reading trades only through the as_of gate (:data:`GATED_TRADES`).
"""

from __future__ import annotations

from orderflow.reputation import line_sql
from orderflow.reputation.decisions_sql import ADJ, DEC, POS
from orderflow.reputation.gate import GATED_TRADES
from orderflow.reputation.hedged_sql import HEDGED_CTES
from orderflow.reputation.wallet_sums_sql import EV, ROW, RT, SUMS, WE

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
# A fill in both counts once (the larger share), each carried by the trades' primary key
# (chain, block, log index) and read back by it whole: by transaction, the read went by the key's
# prefix (the block bounded by the gate alone), ≈ 15,600 rows a fill on the complete-set
# arbitrageurs' world (docs/benchmarks.md "VOID's read of the voided fills"). Sums NUMERIC,
# one conversion at the end (no order to depend on). A function of the wallet's own fills and
# its markets' resolutions: a change to either rescores the wallet (and the post amounts' close:
# a token whose line moved rescores its holders), so an incremental run (rep_positions: the
# rescored wallets') makes the same rows as a full one (tests/reputation/test_void_decisions.py).
# $1 = as_of. Reads rep_close.
VOID = f"""
CREATE TEMP TABLE rep_void ON COMMIT DROP AS
WITH late AS (
    SELECT t.chain_id, t.block_number, t.log_index, 1::numeric AS frac
      FROM rep_positions p
     CROSS JOIN LATERAL (
           SELECT g.chain_id, g.block_number, g.log_index FROM ({GATED_TRADES}) g
            WHERE g.wallet_address = p.wallet_address AND g.timestamp >= p.resolved_at
              AND g.token_id = p.token_id
           OFFSET 0) t
     WHERE p.resolved AND p.last_at >= p.resolved_at
), own_maker AS MATERIALIZED (
    SELECT s.wallet_address, s.chain_id, s.tx_hash, s.block_number, s.log_index, s.size
      FROM ({GATED_TRADES}) s
     WHERE s.taker_address = s.wallet_address AND NOT s.is_taker_aggregate
       AND s.wallet_address IN (SELECT wallet_address FROM rep_positions)
), own AS (
    SELECT wallet_address, chain_id, tx_hash, sum(size) AS shares
      FROM own_maker
     GROUP BY wallet_address, chain_id, tx_hash
), own_taker AS (
    SELECT t.chain_id, t.block_number, t.log_index,
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
    SELECT t.chain_id, t.block_number, t.log_index
      FROM (SELECT wallet_address, min(close_at) AS since FROM span GROUP BY wallet_address) w
     CROSS JOIN LATERAL (
           SELECT g.chain_id, g.block_number, g.log_index, g.token_id, g.timestamp
             FROM ({GATED_TRADES}) g
            WHERE g.wallet_address = w.wallet_address AND g.timestamp > w.since
              AND g.is_taker_aggregate
           OFFSET 0) t
      JOIN span s ON s.wallet_address = w.wallet_address AND s.token_id = t.token_id
     WHERE t.timestamp > s.close_at
), v AS (
    SELECT chain_id, block_number, log_index, max(frac) AS frac, bool_or(post) AS post
      FROM (SELECT *, FALSE AS post FROM late
            UNION ALL SELECT *, FALSE FROM own_taker
            UNION ALL SELECT chain_id, block_number, log_index, 1::numeric, FALSE FROM own_maker
            UNION ALL SELECT chain_id, block_number, log_index, 0::numeric, TRUE FROM post) u
     GROUP BY chain_id, block_number, log_index
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
    ON t.chain_id = v.chain_id AND t.block_number = v.block_number
   AND t.log_index = v.log_index
 GROUP BY t.wallet_address, t.token_id
"""


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
WITH {HEDGED_CTES}, adj AS ({ADJ}
), pos AS ({POS}
), dec AS ({DEC}
), we AS ({WE}
), ev AS ({EV}
), wallets AS ({SUMS}
), rt AS ({RT}
){ROW}"""
