"""``WASH``'s larger rings: the group a wallet is judged by when its top ``wash_top_k``
counterparties are not a closed ring (a fragment of :data:`orderflow.reputation.wash_sql.WASH`'s
groups and of the incremental assembly's, after the top-k group's ``conc_k`` and ``closed_k``).

In a ring of n each member trades with the n - 1 others about evenly, so its top three hold
3 / (n - 1) of its volume and trade only part of theirs with its group: rings of ten and twenty
were not WASH (docs/reputation.md "A ring of ten at the market's price is not WASH"). The larger
ring is the wallet's partners among its top :data:`RING_MAX` that trade at least
:data:`RING_HEAVY` of their own volume with it over ``wash_min_fills`` fills or more (a ring
member matters to each member; the wallet is one of a market maker's thousand takers, so a maker
is no member of a taker's ring; two small wallets that met once are no ring), more than
``wash_top_k`` of them, holding ``wash_min_share`` of its volume. It is closed when those
partners trade ``wash_min_share`` of their own volume with one another -- the wallet left out,
and each partner's largest counterparty among the others left out too (no centre: a market
maker's takers meet the maker and perhaps one other hub alone, a ring's members meet everyone),
averaged with weights their volume with the wallet, as the top-k group's closed share is.

Only a closed larger ring is reported (an open one leaves the top-k group's figures); every
wallet with a larger ring, closed or open, is marked in the stored state (:func:`mark`), so the
incremental closure regroups it when its partners' trades close it. Only the wallets whose top-k
group is not a closed ring read a larger one, and only those with
more than ``wash_top_k`` such partners holding ``wash_min_share`` of their volume look their
partners' pairs up (up to ``RING_MAX`` x ``RING_MAX`` each), so a taker of market makers costs a
join with the share volumes. ``{c}`` and ``{lookup}``: as in ``wash_sql._GROUPS``.
"""

from __future__ import annotations

# Partners read for a larger ring (a ring of up to RING_MAX + 1 wallets).
RING_MAX = 20
# A partner of the larger ring trades at least this share of its own volume with the wallet (a
# member of a ring of 21 trades 1/20 with each other member).
RING_HEAVY = "0.02"


def _wide(extra: str = "") -> str:
    """The larger ring's partners (``ranked`` with its rank ``r``, ``tot``) and ``extra``."""
    return f"""SELECT r.w, r.cp, r.vol, r.n
      FROM ranked r
      JOIN tot pt ON pt.w = r.cp AND pt.vol > 0
     WHERE r.r <= {RING_MAX} AND r.n >= $7::int AND r.vol >= {RING_HEAVY} * pt.vol{extra}"""


# The wallets with a larger ring (closed or not): more than wash_top_k partners in ``wide``
# holding wash_min_share of their volume.
_WCONC = """SELECT g.w, sum(g.n) AS n, (sum(g.vol) / t.vol)::float8 AS share, t.vol AS tvol
      FROM wide g JOIN tot t ON t.w = g.w AND t.vol > 0
     GROUP BY g.w, t.vol
    HAVING count(*) > $4::int AND sum(g.vol) >= $2::numeric * t.vol"""


def mark(wallets: str | None) -> str:
    """The stored sums' mark (``orderflow_wash_wide``) of the wallets ``wallets`` selects (None:
    every wallet): those
    with a larger ring, closed or not, from their stored top :data:`RING_MAX`
    (``orderflow_wash_members``: stored only for the wallets that can have one,
    :func:`orderflow.reputation.wash_partials_sql.top_k`; the others' top ``wash_top_k`` make
    no larger ring here either) and share volumes. A wallet's open larger ring is not reported
    (it has no group), yet its partners' trades with one another can close it while its own
    sums stay as they were, and it need not stay among their top counterparties: the
    incremental closure regroups the marked wallets with a member whose sums moved
    (:mod:`orderflow.reputation.wash_assemble`). Preceded by ``WITH`` and the parameters."""
    return f"""ranked AS (
    SELECT m.w, m.cp, p.vol, p.n,
           row_number() OVER (PARTITION BY m.w COLLATE "C" ORDER BY p.vol DESC, p.cp COLLATE "C")
               AS r
      FROM orderflow_wash_members m
      JOIN orderflow_wash_pairs p ON p.w = m.w AND p.cp = m.cp
     WHERE {"TRUE" if wallets is None else f"m.w IN ({wallets})"}
), tot AS (
    SELECT w, tot AS vol FROM orderflow_wash_wallets WHERE tot IS NOT NULL
), wide AS (
    {_wide()}
), wconc AS (
    {_WCONC}
)
INSERT INTO orderflow_wash_wide SELECT w FROM wconc"""


RING = f"""), wide AS (
    -- the larger ring's partners of the wallets whose top-k group is not a closed ring
    {_wide(" AND NOT EXISTS (SELECT 1 FROM closed_k k WHERE k.w = r.w AND k.back >= $2::float8)")}
), wconc AS (
    {_WCONC}
), wgp AS MATERIALIZED (
    SELECT g.w, g.cp AS partner, h.cp AS other
      FROM wide g JOIN ranked h ON h.w = g.w AND h.cp <> g.cp AND h.r <= {RING_MAX}
     WHERE g.w IN (SELECT w FROM wconc)
), winside AS (
    -- each partner's volume against the others of the ring (not the wallet), less its largest
    SELECT x.w, x.partner, sum(pp.vol) - max(pp.vol) AS vol
      FROM wgp x
      JOIN {{lookup}}
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
