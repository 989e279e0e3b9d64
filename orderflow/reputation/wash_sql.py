"""Reputation's wash-trading statement: counterparty groups, off-market fills, wash
counterparties and the off-market part of each wallet's taker rows, set-based (``rep_wash``).

Run after ``rep_positions`` (it reads no closing line), inside the same transaction, reading
trades only through the as_of gate (:data:`GATED_TRADES`); read by
:data:`orderflow.reputation.evidence_sql.WALLETS`, and its hosts by the closing lines
(:func:`orderflow.reputation.line_sql.keep_hosts`), which are built after it.
"""

from __future__ import annotations

from orderflow.reputation.settings import ReputationSettings
from orderflow.reputation.wash_keys_sql import (
    F_KEYS,
    FINAL_KEYS,
    OFFTOK_KEYS,
    host_and_rows,
    judged,
    tot_keys,
)
from orderflow.reputation.wash_ring_sql import RING, RING_MAX

# Wash trading, both ways the issue defines it, from the maker rows (each match once, naming both
# parties: the maker in wallet_address, the taker order's owner in taker_address), volume in
# shares (a maker buying the complement of what the taker buys trades as many shares):
#
# * concentration on a few counterparties: the share of a wallet's volume against its top $4
#   counterparties (its group), kept when at least $2, with how closed the group is -- each
#   partner's share of its own volume against the group (the wallet or one another), weighted by
#   its volume with the wallet. A taker against the few makers of a thin market is concentrated,
#   but the makers' volume is not;
# * off-market fills: each fill's price, on the market's outcome-0 scale (1 - price for outcome 1;
#   the token itself when the market is unknown), against the prevailing price set by OTHER
#   wallets -- the volume-weighted mean price of the market's matches in the same $3-second
#   bucket, the one before and the one after, each without the wallet's own matches (bucket sums
#   minus the wallet's sums: set-based, no per-fill look-up). The fill's deviation is the
#   smallest distance to those three prices, so a taker who trades right after a price jump sits
#   on the price that follows and is not off-market; a fill with no other trade around is unknown.
#   The off-market share is over the wallet's judged volume (its fills with a prevailing price),
#   never less than $8 of its whole volume (``judged``): fills that cannot be judged are neither
#   off-market nor evidence that the rest is not.
#
# Two passes: the wallets off-market against everyone (pass 1) are left out of the market that
# pass 2 measures everyone against, so a ring's fills at its own price do not make a genuine
# trader at the real price look off-market where the ring dominates the trading.
#
# Also each such wallet's wash counterparties (WASH_COUNTERPARTY), and the off-market part of
# each wallet's taker rows per token. rep_wash has one row per wallet with figures (token_id
# NULL) and one per (wallet, token) with off-market taker amounts (off_*).
#
# $1 = as_of, $2 = minimum group share, $3 = bucket seconds, $4 = top-k, $5 = off-market distance,
# $6 = off-market share, $7 = minimum fills, $8 = minimum judged share.
#
# Every figure is a function of the data alone, not of the plan: no sum is taken over float8
# values (float addition depends on the order of its terms, which follows the hash tables,
# work_mem, parallel workers and the tables' physical order; a full and an incremental run plan
# the statement differently). Amounts and prices are NUMERIC (exact sums and products: shares
# and USDC have 6 decimals, prices 10); a bucket's prevailing price is the exact sums' quotient
# (NUMERIC division: 16 significant digits or more, rounded the same whatever the order); a
# fill's distance ``d`` to it is exact too, and so is its comparison with the off-market
# distance: a fill exactly that far off (prices sit on a tick grid, so it happens) is off-market,
# as ">=" says, whatever binary fractions the two prices would round to in float8. The
# off-market fraction of a taker's bucket, the deviation (a volume-weighted mean of ``d``) and the
# off-market taker amounts are NUMERIC down to one conversion at the end
# (tests/reputation/test_wash_order.py: the same bits under other plans and row orders). Ties
# are broken by the keys: the top-k ranking by volume then counterparty, a member's host by
# volume then host.
#
# Cost (docs/benchmarks.md "WASH statement (this session)"). The CTEs' row counts are unknown to
# the planner (it sees a few hundred where there are hundreds of thousands), so no join may be
# one a nested loop would make quadratic: the hosts' counterparties get the host's volume from
# a window over the pairs and tot, not a join. WASH keys its fills by bytes, not text
# (orderflow.reputation.wash_keys_sql; docs/benchmarks.md "WASH temporary space": no temporary
# file at 1 M fills where it spilled 1 GB); the incremental statements, which share the
# fragments below over a region's few trades, key them by text and sort wallet and market keys
# in C order where free to choose ({c}: the same order for these lower-case hex / decimal keys;
# equality is byte equality either way). The rows are the previous statement's (kept in
# tests/reputation/wash_reference.py) but for the last bits of the sums it took in float8 and the
# fills exactly at the off-market distance, which it judged by their float8 rounding
# (tests/reputation/test_wash_identity.py).

# The others' prevailing price around each (wallet, market, bucket) of ``wb`` (pass 1's: every
# bucket the wallet traded in): the market's sums in the bucket before, the same bucket and the
# one after ({bk}), less the wallet's own sums there, exact, and their quotient. The wallet's own
# sums ({own}: one row per row of wb, its sums in the pass, NULL where it has none) in the
# buckets next to its own are its neighbouring rows (one sort and a window, not a join of the
# wallet sums with themselves: a bucket of the wallet's own in the pass is a bucket of wb).
_REF = """
    SELECT x.w{c} AS w, x.mk{c} AS mk, x.b,
           min((bk.sp - coalesce(y.sp, 0)) / (bk.s - coalesce(y.s, 0)))
               FILTER (WHERE y.d = -1) AS r_before,
           min((bk.sp - coalesce(y.sp, 0)) / (bk.s - coalesce(y.s, 0)))
               FILTER (WHERE y.d = 0) AS r_same,
           min((bk.sp - coalesce(y.sp, 0)) / (bk.s - coalesce(y.s, 0)))
               FILTER (WHERE y.d = 1) AS r_after
      FROM (SELECT o.w, o.mk, o.b, o.s, o.sp, o.n,
                   CASE WHEN lag(o.b) OVER n = o.b - 1 THEN lag(o.s) OVER n END AS s1,
                   CASE WHEN lag(o.b) OVER n = o.b - 1 THEN lag(o.sp) OVER n END AS sp1,
                   CASE WHEN lag(o.b) OVER n = o.b - 1 THEN lag(o.n) OVER n END AS n1,
                   CASE WHEN lead(o.b) OVER n = o.b + 1 THEN lead(o.s) OVER n END AS s2,
                   CASE WHEN lead(o.b) OVER n = o.b + 1 THEN lead(o.sp) OVER n END AS sp2,
                   CASE WHEN lead(o.b) OVER n = o.b + 1 THEN lead(o.n) OVER n END AS n2
              FROM {own} o
            WINDOW n AS (PARTITION BY o.w{c}, o.mk{c} ORDER BY o.b)) x
     CROSS JOIN LATERAL (VALUES (-1, x.s1, x.sp1, x.n1), (0, x.s, x.sp, x.n),
                                (1, x.s2, x.sp2, x.n2)) y(d, s, sp, n)
      JOIN {bk} bk ON bk.mk = x.mk AND bk.b = x.b + y.d
     WHERE bk.n > coalesce(y.n, 0) AND bk.s - coalesce(y.s, 0) >= 0.000001
     GROUP BY x.w{c}, x.mk{c}, x.b"""
# Pass 2's own sums for each row of wb (NULL: none of the wallet's matches there is in pass 2).
_OWN2 = """(SELECT x.w, x.mk, x.b, y.s, y.sp, y.n
               FROM wb x LEFT JOIN wb2 y ON y.w = x.w AND y.mk = x.mk AND y.b = x.b)"""
# Over text keys, pass 1 sorts and groups the wallets and markets in C order ({c}: the same
# order for these ASCII keys, cheaper comparisons; equality is byte equality either way); pass 2
# keeps the default (the C order there measured no cheaper, docs/benchmarks.md "WASH sums
# exact"). Over WASH's byte keys {c} is empty.
_C = ' COLLATE "C"'
# The off-market distance as an exact decimal (float8 -> numeric keeps 15 digits: 0.1 is 0.1),
# computed once per execution (an InitPlan), whatever the plan cache does with $5.
DIST = "(SELECT $5::float8::numeric)"


LEAST = "least(abs(i.pn - r.r_before), abs(i.pn - r.r_same), abs(i.pn - r.r_after))"

# Both sides of each fill (``inv``).
INV = """), inv AS NOT MATERIALIZED (
    -- (read three times; made again from f each time rather than stored)
    SELECT m AS w, k AS cp, size, mk, pn, b, false AS taker FROM f
    UNION ALL
    SELECT k, m, size, mk, pn, b, true FROM f
"""
# The fills ``f`` (the maker rows naming a counterparty, one per match) of ``{trades}``, by
# address and market key (the incremental statements'; WASH's own are numbered:
# orderflow.reputation.wash_keys_sql), and ``inv``.
F_INV = (
    """f AS (
    SELECT t.wallet_address AS m, t.taker_address AS k, t.size,
           coalesce(t.market_id::text, t.token_id::text) AS mk,
           CASE WHEN t.market_id IS NOT NULL AND t.outcome_index = 1 THEN 1 - t.price
                ELSE t.price END AS pn,
           floor(extract(epoch FROM t.timestamp) / $3::float8)::int8 AS b
      FROM ({trades}) t
     WHERE NOT t.is_taker_aggregate AND t.taker_address <> t.exchange
       AND t.taker_address <> t.wallet_address
"""
    + INV
)

_PAIRS = """), pair AS (
    -- each pair of wallets once: their volume together is the same seen from either side
    -- (numbered in the C order of the addresses: lo's address sorts first)
    SELECT least(m, k) AS lo, greatest(m, k) AS hi, sum(size) AS vol, count(*) AS n
      FROM f GROUP BY 1, 2
), pairs AS NOT MATERIALIZED (
    SELECT lo AS w, hi AS cp, vol, n FROM pair
    UNION ALL
    SELECT hi, lo, vol, n FROM pair
"""

TOT = """), tot AS (
    -- a wallet's whole volume in shares, from its own rows (a counterparty with no rows of its
    -- own has no known volume, so cannot close a group)
    SELECT wallet_address AS w, sum(shares_u)::numeric / 1000000 AS vol
      FROM rep_positions GROUP BY wallet_address
"""

# The groups ({c}: the wallets' collation, as in _REF). ranked keeps each wallet's top k and
# the larger ring's RING_MAX partners only (what every reader takes: a few rows per wallet rather
# than every pair); the top-k group (conc_k, closed_k), then the larger ring and the group each
# wallet is judged by (orderflow.reputation.wash_ring_sql).
_GROUPS = (
    """), ranked AS (
    SELECT x.* FROM (
        SELECT p.w, p.cp, p.vol, p.n,
               row_number() OVER (PARTITION BY p.w{c} ORDER BY p.vol DESC, p.cp{c}) AS r
          FROM pairs p) x
     WHERE x.r <= greatest($4::int, """
    + str(RING_MAX)
    + """)
), grp AS (
    SELECT r.w, sum(r.vol) AS vol, sum(r.n) AS n,
           (array_agg(r.cp ORDER BY r.r))[1] AS top_cp, count(*) AS k
      FROM ranked r
     WHERE r.r <= $4::int
     GROUP BY r.w
), conc_k AS (
    SELECT g.w, g.top_cp, g.n, (g.vol / t.vol)::float8 AS share, t.vol AS tvol
      FROM grp g JOIN tot t ON t.w = g.w
     WHERE t.vol > 0 AND g.vol >= $2::numeric * t.vol
), members AS (
    -- the group: the wallet and its top-k partners (with their volume against it)
    SELECT c.w, r.cp AS member, r.vol FROM conc_k c JOIN ranked r ON r.w = c.w AND r.r <= $4::int
    UNION ALL
    SELECT c.w, c.w, NULL FROM conc_k c
), gp AS MATERIALIZED (
    -- each partner with the rest of the group (the wallet or another partner): a few rows per
    -- group, then looked up in pairs (rather than all pairs against the members first)
    SELECT g.w, g.member AS partner, h.member AS other
      FROM members g JOIN members h ON h.w = g.w AND h.member <> g.member
     WHERE g.member <> g.w
), inside AS (
    -- each partner's volume against the rest of the group
    SELECT x.w, x.partner, sum(pp.vol) AS vol
      FROM gp x
      JOIN {lookup}
     GROUP BY x.w, x.partner
), closed_k AS (
    -- each partner's volume against the group / its whole volume, averaged with weights the
    -- partner's volume against the wallet (a large outsider that fills the k-th place of a
    -- smaller ring must not open it: weighting by its own volume would let it dominate)
    SELECT g.w, (sum(g.vol * coalesce(i.vol, 0) / pt.vol) / nullif(sum(g.vol), 0))::float8 AS back
      FROM members g
      JOIN tot pt ON pt.w = g.member AND pt.vol > 0
      LEFT JOIN inside i ON i.w = g.w AND i.partner = g.member
     WHERE g.member <> g.w
     GROUP BY g.w
"""
    + RING
)
GROUPS = _GROUPS.replace("{c}", _C).replace(
    "{lookup}", 'pairs pp ON pp.w = x.partner COLLATE "C" AND pp.cp = x.other COLLATE "C"'
)
# WASH looks each (partner, other) up in pair (each pair once, lo < hi: half the rows).
_GROUPS_KEYS = _GROUPS.replace("{c}", "").replace(
    "{lookup}",
    "pair pp ON pp.lo = least(x.partner, x.other) AND pp.hi = greatest(x.partner, x.other)",
)


def pass1_ref(c: str) -> str:
    """Pass 1's prevailing prices (``ref``; ``c``: the keys' collation, as in _REF)."""
    return f"""), bk AS (
    SELECT mk, b, sum(size) AS s, sum(size * pn) AS sp, count(*) AS n
      FROM f GROUP BY mk, b
), wb AS (
    SELECT w, mk, b, sum(size) AS s, sum(size * pn) AS sp, count(*) AS n
      FROM inv GROUP BY w, mk, b
), ref AS ({_REF.format(bk="bk", own="wb", c=c)}
"""


PASS1_REF = pass1_ref(_C)

# Pass 1's verdicts (WASH's: by number).
_DEV_OFF1 = f"""), dev AS (
    SELECT i.w, i.size, {LEAST} AS d
      FROM inv i JOIN ref r ON r.w = i.w AND r.mk = i.mk AND r.b = i.b
), off1 AS (
    -- pass 1: off-market by its figures against everyone else (summed per wallet, then its
    -- volume: one row per wallet to join, not one per fill)
    SELECT d.w
      FROM (SELECT w, count(*) FILTER (WHERE d >= {DIST}) AS n,
                   coalesce(sum(size) FILTER (WHERE d >= {DIST}), 0) AS vol,
                   sum(size) AS judged
              FROM dev GROUP BY w) d
      JOIN tot t ON t.w = d.w
     WHERE d.n >= $7::int AND d.vol >= $6::float8 * {judged("d.judged", "t.vol")}
"""


def pass2_ref(c: str) -> str:
    """Pass 2's market and prevailing prices (``ref2``; ``c``: off1's collation)."""
    return f"""), clean AS (
    -- pass 2's market: the matches of two wallets neither of which pass 1 found off-market (a
    -- ring's own fills at its price must not make the prevailing price a genuine trader is
    -- measured against)
    SELECT f.* FROM f
     WHERE NOT EXISTS (SELECT 1 FROM off1 o WHERE o.w = f.m{c})
       AND NOT EXISTS (SELECT 1 FROM off1 o WHERE o.w = f.k{c})
), bk2 AS (
    SELECT mk, b, sum(size) AS s, sum(size * pn) AS sp, count(*) AS n
      FROM clean GROUP BY mk, b
), wb2 AS (
    SELECT w, mk, b, sum(size) AS s, sum(size * pn) AS sp, count(*) AS n
      FROM (SELECT m AS w, mk, b, size, pn FROM clean
            UNION ALL
            SELECT k, mk, b, size, pn FROM clean) c
     GROUP BY w, mk, b
), ref2 AS ({_REF.format(bk="bk2", own=_OWN2, c="")}
"""


PASS2_REF = pass2_ref(_C)

DEV2 = f"""), dev2 AS (
    SELECT i.w, i.cp, i.size, i.mk, i.b, i.taker, {LEAST} AS d
      FROM inv i JOIN ref2 r ON r.w = i.w AND r.mk = i.mk AND r.b = i.b
"""

TAKER_OFF = f"""), taker_off AS (
    -- the off-market share of each wallet's matches as the taker, per (market, bucket)
    SELECT d.w, d.mk, d.b,
           sum(d.size) FILTER (WHERE d.d >= {DIST}) / nullif(sum(d.size), 0) AS frac
      FROM dev2 d
     WHERE d.taker
     GROUP BY d.w, d.mk, d.b
    HAVING count(*) FILTER (WHERE d.d >= {DIST}) > 0
"""

_OFF = f"""), off AS MATERIALIZED (
    -- materialized as when `hosts` read it too (inlined: no cheaper, measured)
    SELECT d.w, (sum(d.size * d.d) / nullif(sum(d.size), 0))::float8 AS deviation,
           sum(d.size) AS judged,
           sum(d.size) FILTER (WHERE d.d >= {DIST}) AS off_vol,
           count(*) FILTER (WHERE d.d >= {DIST}) AS off_n
      FROM dev2 d GROUP BY d.w
), offpair AS (
    SELECT d.w, d.cp, sum(d.size) AS vol, count(*) AS n
      FROM dev2 d WHERE d.d >= {DIST} GROUP BY d.w, d.cp
"""

# The hosts' counterparties ({c}: the wallets' collation, as in _REF).
_HOSTED = (
    """), hosted AS (
    -- the wash counterparties of each host -- a wallet that meets WASH's figures
    -- (orderflow.reputation.flags; only its minimum USDC volume is checked later, in numpy) --
    -- with their share of the host's volume: a closed group's top-k members (a ring) ...
    SELECT r.cp AS member, r.w AS host, r.vol, r.vol / nullif(c.tvol, 0) AS share
      FROM conc c
      JOIN closed cl ON cl.w = c.w
      JOIN gm r ON r.w = c.w
     WHERE {rings}c.n >= $7::int AND cl.back >= $2::float8 AND r.n >= $7::int
    UNION ALL
    -- ... and the other side of the off-market fills of a wallet with enough off-market volume
    -- (its figures of `off`, from its off-market pairs; its volume from tot and its judged
    -- volume from off, attached by a window over the three rather than a join: the pairs' row
    -- count is unknown to the planner, and a nested loop over tot was quadratic)
    SELECT y.cp, y.w, y.vol, y.vol / nullif(y.tvol, 0)
      FROM (SELECT x.w, x.cp, x.vol, x.n, max(x.tvol) OVER w AS tvol,
                   sum(x.n) OVER w AS off_n, sum(x.vol) OVER w AS off_vol,
                   max(x.judged) OVER w AS judged
              FROM (SELECT w, cp, vol, n, NULL::numeric AS tvol, NULL::numeric AS judged
                      FROM offpair
                    UNION ALL
                    SELECT w, NULL, NULL, NULL, vol, NULL FROM tot
                    UNION ALL
                    SELECT w, NULL, NULL, NULL, NULL, judged FROM off) x
            WINDOW w AS (PARTITION BY x.w{c})) y
     WHERE y.cp IS NOT NULL AND y.n >= $7::int
       AND y.off_n >= $7::int
       AND y.off_vol::float8 >= $6::float8 * """
    + judged("y.judged", "y.tvol")
    + """
"""
)


def hosts(rings: str = "TRUE") -> str:
    """The hosts' counterparties, each member's host and the rows, by address (the incremental
    statements'); ``rings``: the wallets whose closed groups may host (``c.w``), those whose
    group figures are read whole (:mod:`orderflow.reputation.wash_assemble`)."""
    where = "" if rings == "TRUE" else f"c.w IN ({rings}) AND "
    return _HOSTED.replace("{c}", _C).replace("{rings}", where) + host_and_rows(
        "x.host", "t.w", "c.top_cp"
    )


WASH = (
    "\nCREATE TEMP TABLE rep_wash ON COMMIT DROP AS\n"
    + "WITH "
    + F_KEYS
    + INV
    + _PAIRS
    + tot_keys(TOT)
    + _GROUPS_KEYS
    + pass1_ref("")
    + _DEV_OFF1
    + pass2_ref("")
    + DEV2
    + TAKER_OFF
    + OFFTOK_KEYS
    + _OFF
    + _HOSTED.replace("{c}", "").replace("{rings}", "")
    + FINAL_KEYS
)


def wash_settings(
    settings: ReputationSettings,
) -> tuple[float, float, int, float, float, int, float]:
    """``WASH``'s parameters after the cut-off ($2..$8), in its order."""
    return (
        settings.wash_min_share,
        settings.wash_window_secs,
        settings.wash_top_k,
        settings.wash_deviation,
        settings.wash_off_share,
        settings.wash_min_fills,
        settings.wash_min_judged_share,
    )
