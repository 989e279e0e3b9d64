"""The WASH statement as it was before it keyed its fills by bytes (wash_sql.py at 20484aa, its
fragments inlined), frozen: ``tests/reputation/test_wash_keys.py`` runs it and the current one on
the same data and requires the same rows to the bit. Do not edit (it is the reference, not code
the run uses) but for a change of WASH's definition: the off-market share over the judged volume,
never less than $8 of the whole (docs/reputation.md "Only judged fills make the off-market
share"); what sales received above every prevailing price around them (``xs``, ``x_gr``,
``x_tr``: docs/reputation.md "Wallets that game the exits and the line"); the larger rings
(``RING``: docs/reputation.md "A ring of ten at the market's price is not WASH").
"""

from __future__ import annotations

from orderflow.reputation.gate import GATED_TRADES
from tests.reputation.wash_ring_reference import ring

# The others' prevailing price around each (wallet, market, bucket): the market's sums in the
# bucket before, the same bucket and the one after, less the wallet's own sums ({bk}, {wb}),
# exact, and their quotient.
_REF = """
    SELECT x.w{c} AS w, x.mk{c} AS mk, x.b,
           min((bk.sp - coalesce(y.sp, 0)) / (bk.s - coalesce(y.s, 0)))
               FILTER (WHERE d.d = -1) AS r_before,
           min((bk.sp - coalesce(y.sp, 0)) / (bk.s - coalesce(y.s, 0)))
               FILTER (WHERE d.d = 0) AS r_same,
           min((bk.sp - coalesce(y.sp, 0)) / (bk.s - coalesce(y.s, 0)))
               FILTER (WHERE d.d = 1) AS r_after
      FROM wb x
     CROSS JOIN (VALUES (-1), (0), (1)) d(d)
      JOIN {bk} bk ON bk.mk = x.mk AND bk.b = x.b + d.d
      LEFT JOIN {wb} y ON y.w = x.w{c} AND y.mk = x.mk{c} AND y.b = x.b + d.d
     WHERE bk.n > coalesce(y.n, 0) AND bk.s - coalesce(y.s, 0) >= 0.000001
     GROUP BY x.w{c}, x.mk{c}, x.b"""
# Pass 1 sorts and groups the wallets and markets in C order ({c}: the same order for these
# ASCII keys, cheaper comparisons; equality is byte equality either way); pass 2 keeps the
# default (the C order there measured no cheaper, docs/benchmarks.md "WASH sums exact").
_C = ' COLLATE "C"'
# The off-market distance as an exact decimal (float8 -> numeric keeps 15 digits: 0.1 is 0.1),
# computed once per execution (an InitPlan), whatever the plan cache does with $5.
DIST = "(SELECT $5::float8::numeric)"
LEAST = "least(abs(i.pn - r.r_before), abs(i.pn - r.r_same), abs(i.pn - r.r_after))"

# The fills ``f`` (the maker rows naming a counterparty, one per match) of ``{trades}`` and
# both sides of each (``inv``).
F_INV = """f AS (
    SELECT t.wallet_address AS m, t.taker_address AS k, t.size,
           coalesce(t.market_id::text, t.token_id::text) AS mk,
           CASE WHEN t.market_id IS NOT NULL AND t.outcome_index = 1 THEN 1 - t.price
                ELSE t.price END AS pn,
           floor(extract(epoch FROM t.timestamp) / $3::float8)::int8 AS b
      FROM ({trades}) t
     WHERE NOT t.is_taker_aggregate AND t.taker_address <> t.exchange
       AND t.taker_address <> t.wallet_address
), inv AS (
    SELECT m AS w, k AS cp, size, mk, pn, b, false AS taker FROM f
    UNION ALL
    SELECT k, m, size, mk, pn, b, true FROM f
"""

_PAIRS = """), pair AS (
    -- each pair of wallets once: their volume together is the same seen from either side
    SELECT CASE WHEN m COLLATE "C" < k THEN m ELSE k END AS lo,
           CASE WHEN m COLLATE "C" < k THEN k ELSE m END AS hi, sum(size) AS vol, count(*) AS n
      FROM f GROUP BY 1, 2
), pairs AS (
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

# The larger rings (tests/reputation/wash_ring_reference.py), its pairs' text keys compared in C.
RING = ring('pairs pp ON pp.w = x.partner COLLATE "C" AND pp.cp = x.other COLLATE "C"')

GROUPS = (
    """), ranked AS (
    SELECT p.w, p.cp, p.vol, p.n,
           row_number() OVER (PARTITION BY p.w COLLATE "C" ORDER BY p.vol DESC, p.cp COLLATE "C")
               AS r
      FROM pairs p
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
      JOIN pairs pp ON pp.w = x.partner COLLATE "C" AND pp.cp = x.other COLLATE "C"
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

PASS1_REF = f"""), bk AS (
    SELECT mk, b, sum(size) AS s, sum(size * pn) AS sp, count(*) AS n
      FROM f GROUP BY mk, b
), wb AS (
    SELECT w, mk, b, sum(size) AS s, sum(size * pn) AS sp, count(*) AS n
      FROM inv GROUP BY w, mk, b
), ref AS ({_REF.format(bk="bk", wb="wb", c=_C)}
"""

_DEV_OFF1 = f"""), dev AS (
    SELECT i.w, i.size, {LEAST} AS d
      FROM inv i JOIN ref r ON r.w = i.w COLLATE "C" AND r.mk = i.mk COLLATE "C" AND r.b = i.b
), off1 AS (
    -- pass 1: off-market by its figures against everyone else
    SELECT d.w COLLATE "C" AS w
      FROM dev d JOIN tot t ON t.w = d.w
     GROUP BY d.w COLLATE "C", t.vol
    HAVING count(*) FILTER (WHERE d.d >= {DIST}) >= $7::int
       AND coalesce(sum(d.size) FILTER (WHERE d.d >= {DIST}), 0)
           >= $6::float8 * greatest(sum(d.size)::float8, $8::float8 * t.vol::float8)
"""

PASS2_REF = f"""), clean AS (
    -- pass 2's market: the matches of two wallets neither of which pass 1 found off-market (a
    -- ring's own fills at its price must not make the prevailing price a genuine trader is
    -- measured against)
    SELECT f.* FROM f
     WHERE NOT EXISTS (SELECT 1 FROM off1 o WHERE o.w = f.m COLLATE "C")
       AND NOT EXISTS (SELECT 1 FROM off1 o WHERE o.w = f.k COLLATE "C")
), bk2 AS (
    SELECT mk, b, sum(size) AS s, sum(size * pn) AS sp, count(*) AS n
      FROM clean GROUP BY mk, b
), wb2 AS (
    SELECT w, mk, b, sum(size) AS s, sum(size * pn) AS sp, count(*) AS n
      FROM (SELECT m AS w, mk, b, size, pn FROM clean
            UNION ALL
            SELECT k, mk, b, size, pn FROM clean) c
     GROUP BY w, mk, b
), ref2 AS ({_REF.format(bk="bk2", wb="wb2", c="")}
"""

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

# what a sale row received above the highest prevailing price around it, on its token's scale
_OVER = (
    "coalesce(greatest(t.usdc_size - t.size * (CASE WHEN t.market_id IS NOT NULL"
    " AND t.outcome_index = 1 THEN 1 - least(r.r_before, r.r_same, r.r_after)"
    " ELSE greatest(r.r_before, r.r_same, r.r_after) END), 0), 0)"
)

_OFFTOK = f"""), offtake AS (
    -- ... carried to the wallet's own taker rows there: the decisions the edge must not count
    -- (orderflow.reputation.evidence_sql.WALLETS subtracts them), in the units of rep_positions
    SELECT t.wallet_address AS w, t.token_id,
           coalesce(sum(t.size * x.frac) FILTER (WHERE t.side = 'BUY'), 0)::float8 AS tb,
           coalesce(sum(t.usdc_size * x.frac) FILTER (WHERE t.side = 'BUY'), 0)::float8 AS tcb,
           coalesce(sum(t.size * x.frac) FILTER (WHERE t.side <> 'BUY'), 0)::float8 AS ts,
           coalesce(sum(t.usdc_size * x.frac) FILTER (WHERE t.side <> 'BUY'), 0)::float8 AS tr,
           coalesce(sum(x.frac * CASE WHEN t.fee_asset = 'SHARES' THEN t.fee * t.price
                                      ELSE t.fee END) FILTER (WHERE t.fee > 0), 0)::float8
               AS tfee
      FROM ({GATED_TRADES}) t
      JOIN taker_off x
        ON x.w = t.wallet_address AND x.mk = coalesce(t.market_id::text, t.token_id::text)
       AND x.b = floor(extract(epoch FROM t.timestamp) / $3::float8)::int8
     WHERE t.is_taker_aggregate
     GROUP BY t.wallet_address, t.token_id
), xs AS (
    SELECT t.wallet_address AS w, t.token_id,
           sum({_OVER}) AS xg,
           coalesce(sum({_OVER}) FILTER (WHERE t.is_taker_aggregate), 0) AS xt
      FROM ({GATED_TRADES}) t
      JOIN ref2 r
        ON r.w = t.wallet_address AND r.mk = coalesce(t.market_id::text, t.token_id::text)
       AND r.b = floor(extract(epoch FROM t.timestamp) / $3::float8)::int8
     WHERE t.side <> 'BUY'
     GROUP BY 1, 2
    HAVING sum({_OVER}) > 0
), offtok AS (
    SELECT coalesce(o.w, x.w) AS w, coalesce(o.token_id, x.token_id) AS token_id,
           coalesce(o.tb, 0.0) AS tb, coalesce(o.tcb, 0.0) AS tcb, coalesce(o.ts, 0.0) AS ts,
           coalesce(o.tr, 0.0) AS tr, coalesce(o.tfee, 0.0) AS tfee,
           coalesce(x.xg, 0)::float8 AS xg, coalesce(x.xt, 0)::float8 AS xt
      FROM offtake o FULL JOIN xs x ON x.w = o.w AND x.token_id = o.token_id
"""

_OFF = f"""), off AS MATERIALIZED (
    -- materialized as when `hosts` read it too (inlined: no cheaper, measured)
    SELECT d.w, (sum(d.size * d.d) / nullif(sum(d.size), 0))::float8 AS deviation,
           sum(d.size) AS judged, sum(d.size) FILTER (WHERE d.d >= {DIST}) AS off_vol,
           count(*) FILTER (WHERE d.d >= {DIST}) AS off_n
      FROM dev2 d GROUP BY d.w
), offpair AS (
    SELECT d.w, d.cp, sum(d.size) AS vol, count(*) AS n
      FROM dev2 d WHERE d.d >= {DIST} GROUP BY d.w, d.cp
"""

HOSTS = """), hosted AS (
    -- the wash counterparties of each host -- a wallet that meets WASH's figures
    -- (orderflow.reputation.flags; only its minimum USDC volume is checked later, in numpy) --
    -- with their share of the host's volume: a closed group's top-k members (a ring) ...
    SELECT r.cp AS member, r.w AS host, r.vol, r.vol / nullif(c.tvol, 0) AS share
      FROM conc c
      JOIN closed cl ON cl.w = c.w
      JOIN gm r ON r.w = c.w
     WHERE c.n >= $7::int AND cl.back >= $2::float8 AND r.n >= $7::int
    UNION ALL
    -- ... and the other side of the off-market fills of a wallet with enough off-market volume
    -- (its figures of `off`, from its off-market pairs; its volume from tot, attached by a
    -- window over both rather than a join: the pairs' row count is unknown to the planner, and
    -- a nested loop over tot was quadratic)
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
            WINDOW w AS (PARTITION BY x.w COLLATE "C")) y
     WHERE y.cp IS NOT NULL AND y.n >= $7::int
       AND y.off_n >= $7::int
       AND y.off_vol::float8 >= $6::float8 * greatest(y.judged::float8, $8::float8 * y.tvol::float8)
), host AS (
    -- each member's largest host (most volume with it); the final join keeps the members with
    -- a volume of their own and adds that volume's share of it (a market maker trades a little
    -- with everyone)
    SELECT DISTINCT ON (x.member) x.member, x.host, x.share::float8 AS share, x.vol
      FROM hosted x
     ORDER BY x.member, x.vol DESC, x.host
)
SELECT t.w AS wallet_address, NULL::numeric AS token_id,
       c.top_cp AS counterparty, coalesce(c.share, 0.0) AS share,
       coalesce(c.n, 0) AS pair_fills, coalesce(cl.back, 0.0)::float8 AS counterparty_share,
       o.deviation::float8 AS deviation,
       coalesce(o.off_vol::float8 / greatest(o.judged::float8, $8::float8 * t.vol::float8),
                0.0) AS off_share,
       coalesce(o.off_n, 0) AS off_fills,
       h.host, coalesce(h.share, 0.0) AS host_share,
       coalesce((h.vol / t.vol)::float8, 0.0) AS host_own_share,
       NULL::float8 AS off_tb, NULL::float8 AS off_tcb, NULL::float8 AS off_ts,
       NULL::float8 AS off_tr, NULL::float8 AS off_tfee, NULL::float8 AS x_gr,
       NULL::float8 AS x_tr
  FROM tot t
  LEFT JOIN conc c ON c.w = t.w
  LEFT JOIN closed cl ON cl.w = t.w
  LEFT JOIN off o ON o.w = t.w
  LEFT JOIN host h ON h.member = t.w AND t.vol > 0
 WHERE c.w IS NOT NULL OR o.off_n > 0 OR h.member IS NOT NULL
UNION ALL
SELECT w, token_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, tb, tcb, ts, tr,
       tfee, xg, xt
  FROM offtok
"""

TEXT_WASH = (
    "\nCREATE TEMP TABLE rep_wash ON COMMIT DROP AS\n"
    + "WITH "
    + F_INV.format(trades=GATED_TRADES)
    + _PAIRS
    + TOT
    + GROUPS
    + PASS1_REF
    + _DEV_OFF1
    + PASS2_REF
    + DEV2
    + TAKER_OFF
    + _OFFTOK
    + _OFF
    + HOSTS
)
