"""``rep_wash`` assembled from the stored sums of :mod:`orderflow.reputation.wash_state`.

After a build, every row from every stored pair and wallet (``WASH``'s groups and hosts over
them: per pair and wallet, no fill is read). After an update, only the rows of the wallets that
can have changed (*C*), over what those rows read (*U*: :func:`_closure`), the others from the
rows the last run stored (``orderflow_reputation_wash``).
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from orderflow.reputation import wash_partials_sql as sql
from orderflow.reputation import wash_tot
from orderflow.reputation.settings import ReputationSettings
from orderflow.reputation.wash_ring_sql import mark
from orderflow.reputation.wash_sql import wash_settings


async def drop_tables(conn: asyncpg.Connection, *tables: str) -> None:
    """Drop temporary tables a step made (if there)."""
    for table in tables:
        await conn.execute(f"DROP TABLE IF EXISTS {table}")


async def mark_wide(
    conn: asyncpg.Connection, args: tuple[object, ...], wallets: str | None
) -> None:
    """The stored mark of the wallets with a larger ring (``orderflow_wash_wide``:
    :func:`orderflow.reputation.wash_ring_sql.mark`) made again for those ``wallets`` selects
    (None: every wallet's, into the empty table of a build), from the stored sums as they now
    are."""
    if wallets is not None:
        await conn.execute(f"DELETE FROM orderflow_wash_wide WHERE w IN ({wallets})")
    await conn.execute(f"WITH {sql.PARAMS}{mark(wallets)}", *args)


# The closure after an update (:func:`_closure`): G, C and U. ``orderflow_wash_members`` holds a
# wallet's top 20 where it can have a larger ring, else its top wash_top_k
# (wash_partials_sql.top_k): a group is never larger than what is stored, and whether a wallet
# can have one moves with its own pairs only (then it is in G0 and its members were stored again).
_G = """CREATE TEMP TABLE rep_wash_g ON COMMIT DROP AS
           SELECT w FROM rep_wash_g0
           UNION SELECT m.w FROM orderflow_wash_members m JOIN rep_wash_g0 g ON g.w = m.cp
                  JOIN rep_wash_grp r ON r.w = m.w
           UNION SELECT m.w FROM orderflow_wash_members m JOIN rep_wash_g0 g ON g.w = m.cp
                  JOIN orderflow_wash_wide x ON x.w = m.w"""
_C = """CREATE TEMP TABLE rep_wash_c ON COMMIT DROP AS
           SELECT w FROM rep_wash_g
           UNION SELECT w FROM rep_wash_w
           UNION SELECT w FROM rep_wash_tkw
           UNION SELECT m.cp FROM orderflow_wash_members m JOIN rep_wash_g g ON g.w = m.w
           UNION SELECT b.cp FROM rep_wash_mb b JOIN rep_wash_grp r ON r.w = b.w AND r.ring
           UNION SELECT p.cp FROM orderflow_wash_pairs p JOIN rep_wash_w x ON x.w = p.w
                  WHERE p.off_n > 0"""
_K = """CREATE TEMP TABLE rep_wash_hk ON COMMIT DROP AS
           SELECT w FROM rep_wash_c
           UNION SELECT m.w FROM orderflow_wash_members m JOIN rep_wash_c c ON c.w = m.cp
                  JOIN rep_wash_grp r ON r.w = m.w AND r.ring"""
_U = """CREATE TEMP TABLE rep_wash_u ON COMMIT DROP AS
           SELECT w FROM rep_wash_hk
           UNION SELECT m.cp FROM orderflow_wash_members m JOIN rep_wash_hk k ON k.w = m.w
                  WHERE m.w IN (SELECT w FROM rep_wash_g0 UNION ALL SELECT w FROM rep_wash_grp
                                UNION ALL SELECT w FROM orderflow_wash_wide)
           UNION SELECT q.w FROM orderflow_wash_pairs p JOIN rep_wash_c c ON c.w = p.w
                  JOIN orderflow_wash_pairs q ON q.w = p.cp AND q.cp = p.w
                 WHERE q.off_n > 0"""
# The wallets whose closed groups may host in the assembly: K's, whose members are all in U.
# A wallet of U outside K (a top member of K's, or an off-market host) has its group read in
# part (its members outside U have no volume there), which can make it look closed; it hosted
# no ring before and its group did not change (else it would be in K), so it hosts none now.
RINGS = "SELECT w FROM rep_wash_hk"


# What the closure is (a part of what the stored sums mean: wash_state.fingerprint).
_MARKED = "SELECT w FROM rep_wash_g"
CLOSURE = (_G, _C, _K, _U, RINGS, mark(_MARKED))


async def _closure(conn: asyncpg.Connection, args: tuple[object, ...], stored: str) -> None:
    """After an :func:`update`: ``rep_wash_c``, the wallets whose rows can have changed;
    ``rep_wash_u``, what their rows read (see
    :func:`orderflow.reputation.wash_partials_sql.assemble`); from ``stored`` (the rows before),
    which wallets had a group (``counterparty``) and which hosted a ring.

    G0 = the wallets of a changed pair or share volume, and those with a member whose volume
    fell (it can join their larger ring: orderflow.reputation.wash_ring_sql); G = G0 and the
    wallets with a group, or with a larger ring (closed or open: the stored mark
    ``orderflow_wash_wide``), that has a member in G0 (the group's figures read the members'
    pairs and volumes; an open larger ring closes when its partners trade with one another,
    the wallet's own sums unmoved); C = G, the
    wallets re-summed, the off-market taker amounts changed, the members of G's groups and of
    the rings G0's wallets hosted before (their ring host may change), and the off-market
    counterparties of the wallets re-summed (their off-market host's figures moved; a pair that
    is off-market no longer has its wallets in G0). K (``rep_wash_hk``) = C and the rings C's
    wallets are members of: the wallets whose closed groups may host in the assembly (their
    members are in U; another wallet of U has its group read in part: :data:`RINGS`)."""
    await drop_tables(
        conn, "rep_wash_g0", "rep_wash_grp", "rep_wash_g", "rep_wash_c", "rep_wash_hk", "rep_wash_u"
    )
    await conn.execute(
        f"""CREATE TEMP TABLE rep_wash_grp ON COMMIT DROP AS
            WITH {sql.PARAMS}x AS (SELECT 1)
            SELECT wallet_address AS w,
                   pair_fills >= $7::int AND counterparty_share >= $2::float8 AS ring
              FROM {stored} WHERE token_id IS NULL AND counterparty IS NOT NULL""",
        *args,
    )
    await conn.execute("ALTER TABLE rep_wash_grp ADD PRIMARY KEY (w)")
    await conn.execute(
        """CREATE TEMP TABLE rep_wash_g0 ON COMMIT DROP AS
           SELECT w FROM rep_wash_tp UNION SELECT w FROM rep_wash_t
           UNION SELECT m.w FROM orderflow_wash_members m JOIN rep_wash_fell f ON f.w = m.cp"""
    )
    await conn.execute("ANALYZE rep_wash_g0")
    await conn.execute(_G)
    await conn.execute("ANALYZE rep_wash_g")
    await conn.execute(_C)
    await conn.execute("ALTER TABLE rep_wash_c ADD PRIMARY KEY (w)")
    await conn.execute("ANALYZE rep_wash_c")
    # K = C and the rings C's wallets are members of (a ring outside G hosted one before:
    # rep_wash_grp.ring); U = K, the members of K's groups (of the wallets with a group or a
    # larger ring before, or in G0: only a group reads its members), the off-market hosts of
    # C's wallets
    await conn.execute(_K)
    await conn.execute("ALTER TABLE rep_wash_hk ADD PRIMARY KEY (w)")
    await conn.execute("ANALYZE rep_wash_hk")
    await conn.execute(_U)
    await conn.execute("ALTER TABLE rep_wash_u ADD PRIMARY KEY (w)")
    await conn.execute("ANALYZE rep_wash_u")


async def assemble(
    conn: asyncpg.Connection,
    as_of: datetime,
    settings: ReputationSettings,
    stored: str | None = None,
    *,
    others: bool = True,
) -> None:
    """``rep_wash`` from the stored sums (current: after a build or an update of
    :mod:`orderflow.reputation.wash_state`).

    ``stored``: the table of ``rep_wash``'s rows as the last run left them (after an
    update): only the rows of the wallets that can have changed (``rep_wash_c``) are assembled
    (reading what those read), the others are ``stored``'s (``others=False``: left out, so
    ``rep_wash`` holds the rows of ``rep_wash_c`` alone). Without: every row, from every stored
    sum."""
    max_id = await conn.fetchval("SELECT last_id FROM orderflow_wash_state")
    args = (as_of, *wash_settings(settings), max_id)
    if stored is None:
        await conn.execute(sql.ASSEMBLE, *args)
        return
    await _closure(conn, args, stored)
    # the share volumes as stored (brought up to date by the update) of U's wallets: C's rows
    # read no other (not every wallet's, read and sorted whatever the change)
    await conn.execute(
        sql.assemble(
            "w IN (SELECT w FROM rep_wash_u)",
            "w IN (SELECT w FROM rep_wash_c)",
            wash_tot.STORED,
            RINGS,
        ),
        *args,
    )
    # the mark of G's wallets, for the next update's closure: no other wallet's can have moved
    # (its own pairs and volume unchanged, else in G0; a member's volume fallen: in G0; risen:
    # it can only lose its mark, and a marked wallet with a member in G0 is in G)
    await mark_wide(conn, args, _MARKED)
    await conn.execute(
        """DELETE FROM rep_wash r
            WHERE NOT EXISTS (SELECT 1 FROM rep_wash_c c WHERE c.w = r.wallet_address)"""
    )
    if others:
        await conn.execute(
            f"""INSERT INTO rep_wash SELECT s.* FROM {stored} s
                 WHERE NOT EXISTS (SELECT 1 FROM rep_wash_c c WHERE c.w = s.wallet_address)"""
        )
