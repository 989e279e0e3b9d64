"""The share volumes :mod:`orderflow.reputation.wash_state` reads (``rep_wash_tot``: ``WASH``'s
tot, from ``rep_positions``) and *T* (``rep_wash_t``), the wallets whose share volume moved since
the cells were last brought up to date.

Every wallet's volume and its comparison with the stored one cost ≈ 4 s at 1 M wallets. An
incremental run knows the wallets whose position sums changed: the keys it claimed (the log of
changed keys, emptied by its claim) and the keys logged since (a writer that committed after the
claim: the thin ``rep_positions``, read later, may hold its change), together *K*
(``rep_wash_k``). A wallet's share volume is a sum over its position sums (each change of one
logs it), so outside K it is the stored one (``orderflow_wash_wallets.tot``: a build stores
every wallet's, an update the moved ones'; every run that claims the marks updates or rebuilds
the cells, or leaves them stale).
T is then K's wallets whose volume differs from the stored one, and ``rep_wash_tot`` holds K's
volumes (read from K's position sums) and, before each step that reads them (:func:`add_stored`),
the stored volumes of the other wallets that step sums (``rep_wash_w``). After an update the
stored volumes are every wallet's; the assembly reads those of its closure (:data:`STORED`).
"""

from __future__ import annotations

import asyncpg

from orderflow.reputation.probe import among
from orderflow.reputation.sums_sql import CHANGES
from orderflow.reputation.wash_sql import TOT

# Every wallet's share volume, as WASH's tot.
ALL = "CREATE TEMP TABLE rep_wash_tot ON COMMIT DROP AS" + TOT.removeprefix("), tot AS (")

# The thin ``rep_positions`` TOT reads (one row per wallet: its shares bought and sold, in
# micro-units), from the position sums; ``{only}``: a filter on the sums' rows.
THIN = """SELECT wallet_address, sum(bought_gross_u + sold_gross_u)::numeric AS shares_u
  FROM orderflow_position_sums WHERE fills > 0{only} GROUP BY wallet_address"""

# K's volumes, read from the sums of K's wallets alone (not from a thin rep_positions of every
# wallet: 4 s at 1 M wallets) by the sums' primary key (orderflow.reputation.probe: a join with
# rep_wash_k read every position's sums, 3.7 s at 1 M wallets): the same statement over the same
# rows of THIN.
_GROUPED = "FROM rep_positions GROUP BY"
_OF_K = ALL.replace(
    _GROUPED,
    "FROM ("
    + THIN.format(only=" AND " + among("wallet_address", "SELECT w FROM rep_wash_k"))
    + ") AS rep_positions GROUP BY",
)
assert _GROUPED in ALL

# K: the wallets of the claimed keys and of the keys marked since.
_K = f"""
CREATE TEMP TABLE rep_wash_k ON COMMIT DROP AS
SELECT c.w FROM ({{claimed}}) c(w)
UNION SELECT wallet_address FROM {CHANGES}
"""

_MOVED = """
CREATE TEMP TABLE rep_wash_t ON COMMIT DROP AS
SELECT coalesce(n.w, o.w) AS w
  FROM rep_wash_tot n FULL JOIN ({stored}) o ON o.w = n.w
 WHERE n.vol IS DISTINCT FROM o.tot
"""

# The wallets of T whose share volume fell (trades deleted or shrunk: a reorg): a partner whose
# volume falls can join the larger ring of a wallet with no group before
# (orderflow.reputation.wash_ring_sql), so the assembly regroups the wallets it is a member of.
_FELL = f"""
CREATE TEMP TABLE rep_wash_fell ON COMMIT DROP AS
SELECT t.w FROM rep_wash_t t
  JOIN (SELECT o.w, o.tot FROM orderflow_wash_wallets o
         WHERE {among("o.w", "SELECT w FROM rep_wash_t")}) o ON o.w = t.w
  LEFT JOIN rep_wash_tot n ON n.w = t.w
 WHERE o.tot IS NOT NULL AND (n.vol IS NULL OR n.vol < o.tot)
"""

# The share volumes once the cells are up to date (the stored ones: ``ALL``'s rows) of the
# wallets an update's rows read (``rep_wash_u``, :mod:`orderflow.reputation.wash_assemble`):
# those rows read no other wallet's volume (a group's members and a host are in U: their pairs
# are read too), so every wallet's (read and sorted for the hosts' window, ≈ 0.15 s at 100,000
# wallets whatever the change) gave the same rows. Read by the key (orderflow.reputation.probe).
STORED = f"""), tot AS (
    SELECT o.w, o.tot AS vol
      FROM orderflow_wash_wallets o
     WHERE {among("o.w", "SELECT w FROM rep_wash_u")} AND o.tot IS NOT NULL
"""


async def moved(conn: asyncpg.Connection, claimed: str | None) -> bool:
    """``rep_wash_tot``, ``rep_wash_t`` and ``rep_wash_fell``; ``claimed``: a query of the
    wallets whose position sums this run claimed (None: every wallet's volume is read and
    compared). Whether ``rep_wash_tot`` holds K's volumes only (then :func:`add_stored` before
    each read)."""
    if claimed is None:
        await conn.execute(ALL)
        await conn.execute(_MOVED.format(stored="SELECT w, tot FROM orderflow_wash_wallets"))
        await conn.execute(_FELL)
        return False
    await conn.execute(_K.format(claimed=claimed))
    await conn.execute("ALTER TABLE rep_wash_k ADD PRIMARY KEY (w)")
    await conn.execute("ANALYZE rep_wash_k")
    await conn.execute(_OF_K)
    await conn.execute(
        _MOVED.format(
            stored="SELECT o.w, o.tot FROM orderflow_wash_wallets o"
            f" WHERE {among('o.w', 'SELECT w FROM rep_wash_k')}"
        )
    )
    await conn.execute(_FELL)
    return True


async def add_stored(conn: asyncpg.Connection) -> None:
    """The stored share volumes of the wallets of ``rep_wash_w`` outside K not yet in
    ``rep_wash_tot`` (their volume did not move)."""
    await conn.execute(
        f"""INSERT INTO rep_wash_tot
           SELECT o.w, o.tot FROM orderflow_wash_wallets o
            WHERE {among("o.w", "SELECT w FROM rep_wash_w")} AND o.tot IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM rep_wash_k k WHERE k.w = o.w)
              AND NOT EXISTS (SELECT 1 FROM rep_wash_tot t WHERE t.w = o.w)"""
    )
