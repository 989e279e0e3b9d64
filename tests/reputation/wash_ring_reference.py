"""The larger rings as WASH's frozen references read them (``wash_reference``,
``wash_text_reference``): one change of WASH's definition made to both (docs/reputation.md "A
ring of ten at the market's price is not WASH"; orderflow.reputation.wash_ring_sql at the time,
frozen). Do not edit but for a change of WASH's definition.
"""

from __future__ import annotations

# The group each wallet is judged by (conc, closed) and its members (gm), after the top-k
# group's conc_k and closed_k; @LOOKUP@: the pairs' join for a partner's volume against the
# others of the ring (its keys' collation is the reference's).
_RING = """), wide AS (
    -- the larger ring's partners of the wallets whose top-k group is not a closed ring
    SELECT r.w, r.cp, r.vol, r.n
      FROM ranked r
      JOIN tot pt ON pt.w = r.cp AND pt.vol > 0
     WHERE r.r <= 20 AND r.n >= $7::int AND r.vol >= 0.02 * pt.vol
       AND NOT EXISTS (SELECT 1 FROM closed_k k WHERE k.w = r.w AND k.back >= $2::float8)
), wconc AS (
    SELECT g.w, sum(g.n) AS n, (sum(g.vol) / t.vol)::float8 AS share, t.vol AS tvol
      FROM wide g JOIN tot t ON t.w = g.w AND t.vol > 0
     GROUP BY g.w, t.vol
    HAVING count(*) > $4::int AND sum(g.vol) >= $2::numeric * t.vol
), wgp AS MATERIALIZED (
    SELECT g.w, g.cp AS partner, h.cp AS other
      FROM wide g JOIN ranked h ON h.w = g.w AND h.cp <> g.cp AND h.r <= 20
     WHERE g.w IN (SELECT w FROM wconc)
), winside AS (
    -- each partner's volume against the others of the ring (not the wallet), less its largest
    SELECT x.w, x.partner, sum(pp.vol) - max(pp.vol) AS vol
      FROM wgp x
      JOIN @LOOKUP@
     GROUP BY x.w, x.partner
), wclosed AS (
    SELECT c.w, c.n, c.share, c.tvol, cl.back
      FROM wconc c
      JOIN (SELECT g.w,
                   (sum(g.vol * coalesce(i.vol, 0) / pt.vol) / nullif(sum(g.vol), 0))::float8
                       AS back
              FROM wide g
              JOIN wconc c ON c.w = g.w
              JOIN tot pt ON pt.w = g.cp AND pt.vol > 0
              LEFT JOIN winside i ON i.w = g.w AND i.partner = g.cp
             GROUP BY g.w) cl ON cl.w = c.w
), wpick AS (
    -- the wallets judged by their larger ring: a closed one
    SELECT x.* FROM wclosed x
     WHERE x.back >= $2::float8
), conc AS (
    -- the group each wallet is judged by: its closed larger ring, else its top-k group
    SELECT k.w, k.top_cp, k.n, k.share, k.tvol FROM conc_k k
     WHERE NOT EXISTS (SELECT 1 FROM wpick x WHERE x.w = k.w)
    UNION ALL
    SELECT x.w, r.cp, x.n, x.share, x.tvol FROM wpick x JOIN ranked r ON r.w = x.w AND r.r = 1
), closed AS (
    SELECT k.w, k.back FROM closed_k k WHERE NOT EXISTS (SELECT 1 FROM wpick x WHERE x.w = k.w)
    UNION ALL
    SELECT w, back FROM wpick
), gm AS (
    -- that group's members (with their volume and fills against the wallet)
    SELECT r.w, r.cp, r.vol, r.n
      FROM ranked r JOIN conc_k k ON k.w = r.w
     WHERE r.r <= $4::int AND NOT EXISTS (SELECT 1 FROM wpick x WHERE x.w = r.w)
    UNION ALL
    SELECT g.w, g.cp, g.vol, g.n FROM wide g JOIN wpick x ON x.w = g.w
"""


def ring(lookup: str) -> str:
    """The larger rings' CTEs, the pairs joined by ``lookup``."""
    return _RING.replace("@LOOKUP@", lookup)
