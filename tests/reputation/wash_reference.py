"""The WASH statement as it was before it was made cheaper (wash_sql.py at eccb9b5), frozen:
``tests/reputation/test_wash_identity.py`` runs it and the current one on the same data and
compares their rows. Do not edit (it is the reference, not code the run uses) but for a change of
WASH's definition: the off-market share over the judged volume, never less than $8 of the whole
(docs/reputation.md "Only judged fills make the off-market share"); the larger rings (``_RING``:
docs/reputation.md "A ring of ten at the market's price is not WASH").
"""

from __future__ import annotations

from orderflow.reputation.gate import GATED_TRADES
from tests.reputation.wash_ring_reference import ring

# The larger rings (tests/reputation/wash_ring_reference.py).
_RING = ring("pairs pp ON pp.w = x.partner AND pp.cp = x.other")

# The others' prevailing price around each (wallet, market, bucket): the market's sums in the
# bucket before, the same bucket and the one after, less the wallet's own sums ({bk}, {wb}).
_REF = """
    SELECT x.w, x.mk, x.b,
           min((bk.sp - coalesce(y.sp, 0)) / (bk.s - coalesce(y.s, 0)))
               FILTER (WHERE d.d = -1) AS r_before,
           min((bk.sp - coalesce(y.sp, 0)) / (bk.s - coalesce(y.s, 0)))
               FILTER (WHERE d.d = 0) AS r_same,
           min((bk.sp - coalesce(y.sp, 0)) / (bk.s - coalesce(y.s, 0)))
               FILTER (WHERE d.d = 1) AS r_after
      FROM wb x
     CROSS JOIN (VALUES (-1), (0), (1)) d(d)
      JOIN {bk} bk ON bk.mk = x.mk AND bk.b = x.b + d.d
      LEFT JOIN {wb} y ON y.w = x.w AND y.mk = x.mk AND y.b = x.b + d.d
     WHERE bk.n > coalesce(y.n, 0) AND bk.s - coalesce(y.s, 0) >= 0.000001
     GROUP BY x.w, x.mk, x.b"""
_LEAST = "least(abs(i.p0 - r.r_before), abs(i.p0 - r.r_same), abs(i.p0 - r.r_after))"

OLD_WASH = f"""
CREATE TEMP TABLE rep_wash ON COMMIT DROP AS
WITH f AS (
    SELECT t.wallet_address AS m, t.taker_address AS k, t.size,
           coalesce(t.market_id::text, t.token_id::text) AS mk,
           (CASE WHEN t.market_id IS NOT NULL AND t.outcome_index = 1 THEN 1 - t.price
                 ELSE t.price END)::float8 AS p0,
           floor(extract(epoch FROM t.timestamp) / $3::float8)::int8 AS b
      FROM ({GATED_TRADES}) t
     WHERE NOT t.is_taker_aggregate AND t.taker_address <> t.exchange
       AND t.taker_address <> t.wallet_address
), inv AS (
    SELECT m AS w, k AS cp, size, mk, p0, b, false AS taker FROM f
    UNION ALL
    SELECT k, m, size, mk, p0, b, true FROM f
), pairs AS (
    SELECT w, cp, sum(size) AS vol, count(*) AS n FROM inv GROUP BY w, cp
), tot AS (
    -- a wallet's whole volume in shares, from its own rows (a counterparty with no rows of its
    -- own has no known volume, so cannot close a group)
    SELECT wallet_address AS w, sum(shares_u)::numeric / 1000000 AS vol
      FROM rep_positions GROUP BY wallet_address
), ranked AS (
    SELECT p.w, p.cp, p.vol, p.n,
           row_number() OVER (PARTITION BY p.w ORDER BY p.vol DESC, p.cp) AS r
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
), inside AS (
    -- each partner's volume against the rest of the group (the wallet or another partner)
    SELECT g.w, g.member AS partner, sum(pp.vol) AS vol
      FROM members g
      JOIN members h ON h.w = g.w AND h.member <> g.member
      JOIN pairs pp ON pp.w = g.member AND pp.cp = h.member
     WHERE g.member <> g.w
     GROUP BY g.w, g.member
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
{_RING}), bk AS (
    SELECT mk, b, sum(size::float8) AS s, sum(size::float8 * p0) AS sp, count(*) AS n
      FROM f GROUP BY mk, b
), wb AS (
    SELECT w, mk, b, sum(size::float8) AS s, sum(size::float8 * p0) AS sp, count(*) AS n
      FROM inv GROUP BY w, mk, b
), ref AS ({_REF.format(bk="bk", wb="wb")}
), dev AS (
    SELECT i.w, i.size, {_LEAST} AS d
      FROM inv i JOIN ref r ON r.w = i.w AND r.mk = i.mk AND r.b = i.b
), off1 AS (
    -- pass 1: off-market by its figures against everyone else
    SELECT d.w
      FROM dev d JOIN tot t ON t.w = d.w
     GROUP BY d.w, t.vol
    HAVING count(*) FILTER (WHERE d.d >= $5::float8) >= $7::int
       AND coalesce(sum(d.size) FILTER (WHERE d.d >= $5::float8), 0)
           >= $6::float8 * greatest(sum(d.size)::float8, $8::float8 * t.vol::float8)
), clean AS (
    -- pass 2's market: the matches of two wallets neither of which pass 1 found off-market (a
    -- ring's own fills at its price must not make the prevailing price a genuine trader is
    -- measured against)
    SELECT f.* FROM f
     WHERE NOT EXISTS (SELECT 1 FROM off1 o WHERE o.w = f.m)
       AND NOT EXISTS (SELECT 1 FROM off1 o WHERE o.w = f.k)
), bk2 AS (
    SELECT mk, b, sum(size::float8) AS s, sum(size::float8 * p0) AS sp, count(*) AS n
      FROM clean GROUP BY mk, b
), wb2 AS (
    SELECT w, mk, b, sum(size::float8) AS s, sum(size::float8 * p0) AS sp, count(*) AS n
      FROM (SELECT m AS w, mk, b, size, p0 FROM clean
            UNION ALL
            SELECT k, mk, b, size, p0 FROM clean) c
     GROUP BY w, mk, b
), ref2 AS ({_REF.format(bk="bk2", wb="wb2")}
), dev2 AS (
    SELECT i.w, i.cp, i.size, i.mk, i.b, i.taker, {_LEAST} AS d
      FROM inv i JOIN ref2 r ON r.w = i.w AND r.mk = i.mk AND r.b = i.b
), taker_off AS (
    -- the off-market share of each wallet's matches as the taker, per (market, bucket)
    SELECT d.w, d.mk, d.b,
           (sum(d.size) FILTER (WHERE d.d >= $5::float8))::float8
               / nullif(sum(d.size)::float8, 0) AS frac
      FROM dev2 d
     WHERE d.taker
     GROUP BY d.w, d.mk, d.b
    HAVING count(*) FILTER (WHERE d.d >= $5::float8) > 0
), offtok AS (
    -- ... carried to the wallet's own taker rows there: the decisions the edge must not count
    -- (orderflow.reputation.evidence_sql.WALLETS subtracts them), in the units of rep_positions
    SELECT t.wallet_address AS w, t.token_id,
           coalesce(sum(t.size::float8 * x.frac) FILTER (WHERE t.side = 'BUY'), 0) AS tb,
           coalesce(sum(t.usdc_size::float8 * x.frac) FILTER (WHERE t.side = 'BUY'), 0) AS tcb,
           coalesce(sum(t.size::float8 * x.frac) FILTER (WHERE t.side <> 'BUY'), 0) AS ts,
           coalesce(sum(t.usdc_size::float8 * x.frac) FILTER (WHERE t.side <> 'BUY'), 0) AS tr,
           coalesce(sum(x.frac * (CASE WHEN t.fee_asset = 'SHARES' THEN t.fee * t.price
                                       ELSE t.fee END)::float8) FILTER (WHERE t.fee > 0), 0)
               AS tfee
      FROM ({GATED_TRADES}) t
      JOIN taker_off x
        ON x.w = t.wallet_address AND x.mk = coalesce(t.market_id::text, t.token_id::text)
       AND x.b = floor(extract(epoch FROM t.timestamp) / $3::float8)::int8
     WHERE t.is_taker_aggregate
     GROUP BY t.wallet_address, t.token_id
), off AS (
    SELECT d.w, sum(d.size::float8 * d.d) / nullif(sum(d.size::float8), 0) AS deviation,
           sum(d.size) AS judged, sum(d.size) FILTER (WHERE d.d >= $5::float8) AS off_vol,
           count(*) FILTER (WHERE d.d >= $5::float8) AS off_n
      FROM dev2 d GROUP BY d.w
), hosts AS (
    -- wallets that meet WASH's figures (orderflow.reputation.flags; only its minimum USDC
    -- volume is checked later, in numpy): a closed group, or enough off-market volume
    SELECT c.w, 'ring' AS how FROM conc c JOIN closed cl ON cl.w = c.w
     WHERE c.n >= $7::int AND cl.back >= $2::float8
    UNION ALL
    SELECT o.w, 'off' FROM off o JOIN tot t ON t.w = o.w
     WHERE o.off_n >= $7::int
       AND o.off_vol::float8 >= $6::float8 * greatest(o.judged::float8, $8::float8 * t.vol::float8)
), offpair AS (
    SELECT d.w, d.cp, sum(d.size) AS vol, count(*) AS n
      FROM dev2 d WHERE d.d >= $5::float8 GROUP BY d.w, d.cp
), hosted AS (
    -- the wash counterparties of each such host, with their share of the host's volume: its
    -- top-k group members (a ring), the other side of its off-market fills (off-market)
    SELECT r.cp AS member, r.w AS host, r.vol, r.vol / nullif(t.vol, 0) AS share
      FROM hosts h JOIN gm r ON r.w = h.w JOIN tot t ON t.w = h.w
     WHERE h.how = 'ring' AND r.n >= $7::int
    UNION ALL
    SELECT p.cp, p.w, p.vol, p.vol / nullif(t.vol, 0)
      FROM hosts h JOIN offpair p ON p.w = h.w JOIN tot t ON t.w = h.w
     WHERE h.how = 'off' AND p.n >= $7::int
), host AS (
    -- each member's largest host (most volume with it), with that volume's share of the
    -- member's own volume too (a market maker trades a little with everyone)
    SELECT DISTINCT ON (x.member) x.member, x.host, x.share::float8 AS share,
           (x.vol / t.vol)::float8 AS own_share
      FROM hosted x JOIN tot t ON t.w = x.member AND t.vol > 0
     ORDER BY x.member, x.vol DESC, x.host
)
SELECT t.w AS wallet_address, NULL::numeric AS token_id,
       c.top_cp AS counterparty, coalesce(c.share, 0.0) AS share,
       coalesce(c.n, 0) AS pair_fills, coalesce(cl.back, 0.0)::float8 AS counterparty_share,
       o.deviation::float8 AS deviation,
       coalesce(o.off_vol::float8 / greatest(o.judged::float8, $8::float8 * t.vol::float8),
                0.0) AS off_share,
       coalesce(o.off_n, 0) AS off_fills,
       h.host, coalesce(h.share, 0.0) AS host_share, coalesce(h.own_share, 0.0) AS host_own_share,
       NULL::float8 AS off_tb, NULL::float8 AS off_tcb, NULL::float8 AS off_ts,
       NULL::float8 AS off_tr, NULL::float8 AS off_tfee
  FROM tot t
  LEFT JOIN conc c ON c.w = t.w
  LEFT JOIN closed cl ON cl.w = t.w
  LEFT JOIN off o ON o.w = t.w
  LEFT JOIN host h ON h.member = t.w
 WHERE c.w IS NOT NULL OR o.off_n > 0 OR h.member IS NOT NULL
UNION ALL
SELECT w, token_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, tb, tcb, ts, tr,
       tfee
  FROM offtok
"""
