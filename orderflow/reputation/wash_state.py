"""The stored counterparty evidence (migration 023): ``rep_wash`` from exact partial sums kept per
(wallet, counterparty, market, bucket), recomputed only around changed fills.

* :func:`build` -- from scratch, over every gated trade (after ``WASH``, by an incremental run
  that found the tables stale: the first one after a live full run, which leaves them so);
* :func:`update` -- an incremental run: the buckets with changed fills (*D*: trades with an id
  above the last one counted; rows deleted or updated since, logged by migration 023's triggers)
  and the wallets whose share volume moved (*T*); then

  1. pass 1 in D and the buckets next to it (a fill's prevailing price is its bucket's and its
     neighbours' trades): the verdicts of the wallets there and of T, from their stored cells
     elsewhere and the new ones; *F* = the wallets whose verdict flipped;
  2. pass 2 (every column of the cells) in D, every bucket of a wallet of F (its fills leave or
     join pass 2's market) and the buckets next to those, against the new verdicts; the cells of
     those buckets are replaced;
  3. the sums of the pairs and wallets with a changed cell (compared by text: value and scale),
     of T and of F are recomputed from their cells; a wallet's verdict from its new sums must be
     step 1's, else the tables are left stale (:func:`update` returns False); the top
     counterparties of the wallets with a changed pair are replaced (before: ``rep_wash_mb``).

``rep_wash`` is then assembled from the stored sums (:mod:`orderflow.reputation.wash_assemble`).
A large change (:data:`REBUILD_SHARE`), or a partition of the trades gone or attached with old
fills (:mod:`orderflow.reputation.wash_parts`: a new one with new fills only is updated), makes
:func:`update` return False: the caller computes ``WASH`` and rebuilds.

Equal to ``WASH`` row for row and bit for bit (``tests/reputation/test_wash_state.py``). All run in
the caller's transaction and need ``rep_positions`` (the share volumes).
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import asyncpg

from orderflow.reputation import wash_partials_sql as sql
from orderflow.reputation import wash_parts, wash_tot
from orderflow.reputation import wash_region as region
from orderflow.reputation.probe import among
from orderflow.reputation.settings import ReputationSettings
from orderflow.reputation.wash_assemble import CLOSURE, drop_tables, mark_wide
from orderflow.reputation.wash_sql import WASH, wash_settings

_TABLES = (
    "orderflow_wash_cells",
    "orderflow_wash_taker",
    "orderflow_wash_pairs",
    "orderflow_wash_wallets",
    "orderflow_wash_members",
    "orderflow_wash_tokens",
    "orderflow_wash_wide",
)

# Each market key's tokens, for reading a region's trades by the token index (REGION_ROWS keeps
# only the rows of the region's keys, so more tokens than a key has cost reads, not figures).
# A trade's key is its market id, or its token when it has none (wash_partials_sql.MK): every
# token with fills under its own id, and under the market its fills name -- the market id the
# store sets is the registry's condition for the token (orderflow_tokens), and the
# per-(wallet, token) sums keep the least market id of each key's fills, so a market id on any
# fill is among them. From the sums and the registry rather than DISTINCT over every fill (27 s
# at 20 M fills). An update adds the keys of the rows it reads (rep_wash_keys).
_TOKENS = """
INSERT INTO orderflow_wash_tokens
WITH k AS (SELECT DISTINCT token_id, trade_market_id FROM orderflow_position_sums)
SELECT token_id::text, token_id FROM k
UNION SELECT trade_market_id, token_id FROM k WHERE trade_market_id IS NOT NULL
UNION SELECT condition_id::text, token_id FROM orderflow_tokens
"""

# The cells' columns a wallet's sums read: stored cells outside rep_wash_s and the new pass-1
# sums (phase 1, before pass 2 is recomputed).
_PHASE1_CELLS = """
SELECT c.w, c.ref1, c.p1n, c.p1v, CASE WHEN c.ref1 THEN c.vol END AS p1s, FALSE AS ref2,
       NULL::numeric AS s2, NULL::numeric AS sd2, NULL::numeric AS p2n, NULL::numeric AS p2v
  FROM orderflow_wash_cells c
 WHERE NOT EXISTS (SELECT 1 FROM rep_wash_s s WHERE s.mk = c.mk AND s.b = c.b)
UNION ALL
SELECT w, TRUE, p1n, p1v, p1s, FALSE, NULL, NULL, NULL, NULL FROM rep_wash_p1
"""
# (a cell's pass-1 judged volume, p1s: all its volume when its wallet's bucket had a prevailing
# price in pass 1 (ref1), none otherwise -- pass 1 judges a wallet's fills per bucket)
_STORED_CELLS = """SELECT c.*, CASE WHEN c.ref1 THEN c.vol END AS p1s
  FROM orderflow_wash_cells c"""
# A build's phase 1: no stored cells yet.
_PHASE1_EMPTY = """
SELECT w, TRUE AS ref1, p1n, p1v, p1s, FALSE AS ref2, NULL::numeric AS s2,
       NULL::numeric AS sd2, NULL::numeric AS p2n, NULL::numeric AS p2v
  FROM rep_wash_p1
"""

# Pass 2's buckets: D and every bucket of a wallet whose verdict flipped (stored or new cells).
_PASS2_BUCKETS = """SELECT mk, b FROM rep_wash_d
UNION SELECT c.mk, c.b FROM orderflow_wash_cells c JOIN rep_wash_f f ON f.w = c.w
UNION SELECT p.mk, p.b FROM rep_wash_p1 p JOIN rep_wash_f f ON f.w = p.w"""

_PAIRS_OF = """
INSERT INTO orderflow_wash_pairs
SELECT c.w, c.cp, sum(c.vol), sum(c.n)::int8, sum(c.p2v), coalesce(sum(c.p2n), 0)::int8
  FROM orderflow_wash_cells c {only}
 GROUP BY c.w, c.cp
"""

_KEEP_WALLETS = """
INSERT INTO orderflow_wash_wallets
SELECT w, tot, ref1, p1n, p1v, off1, ref2, s2, sd2, p2n, p2v FROM rep_wash_ws
 WHERE tot IS NOT NULL OR ref1 OR ref2
"""


# Above this share of changed trades (:func:`changed_share`) an incremental run computes WASH and
# rebuilds the cells instead of updating them: the update grows with the change (CPU against
# WASH's on the benchmark's data: an hour of new trading x0.26, a day x1.1, a week x2.5, two
# weeks -- 46 % of the fills -- x3.9) while a rebuild costs WASH and a build, x3.7-4.2 WASH,
# whatever changed (docs/benchmarks.md "The switch to a rebuild"). Rebuilding now, not leaving
# the cells stale: the next run would pay the same build. Read at each call (tests set it).
REBUILD_SHARE = 0.45


def fingerprint(settings: ReputationSettings) -> str:
    """What the stored cells depend on besides the data: the SQL and WASH's settings."""
    text = "\n".join(
        (
            WASH,
            sql.REGION_ROWS,
            sql.pass1(sql.REGION_TRADES, sql.IN_REGION),
            sql.ref2_table(sql.REGION_TRADES),
            sql.cells(sql.REGION_TRADES, sql.IN_REGION),
            sql.taker(sql.REGION_TRADES, sql.IN_REGION),
            sql.wallet_sums(_STORED_CELLS),
            sql.top_k("TRUE"),
            sql.ASSEMBLE,
            *CLOSURE,
            repr(wash_settings(settings)),
        )
    )
    return hashlib.sha256(text.encode()).hexdigest()


async def invalidate(conn: asyncpg.Connection) -> None:
    """The stored cells are no longer current (the next run that needs them rebuilds them)."""
    await conn.execute(
        "INSERT INTO orderflow_wash_state (id, valid, fingerprint, last_id, updated_at)"
        " VALUES (TRUE, FALSE, NULL, NULL, now())"
        " ON CONFLICT (id) DO UPDATE SET valid = FALSE, updated_at = now()"
    )


async def _keep_future(
    conn: asyncpg.Connection, as_of: datetime, where: str, *args: object
) -> None:
    """Rows past the cut-off (a block stamped ahead of the clock) stay logged for the next run."""
    await conn.execute(
        "INSERT INTO orderflow_wash_dirty (token_id, mk, ts)"
        f" SELECT t.token_id, {sql.MK}, t.timestamp FROM orderflow_trades t"
        f" WHERE t.timestamp > $1::timestamptz AND {where}",
        as_of,
        *args,
    )


async def begin(conn: asyncpg.Connection) -> None:
    """Before ``WASH`` is computed over the trades for a :func:`build`: the changes logged so far
    are in what it reads; the build counts the trades up to the newest id now. A change committed
    later has a newer id or is logged, so the next update takes it, whichever of the two saw it.
    The cells are stale until the build. The attached partitions are taken after the id
    (:mod:`orderflow.reputation.wash_parts`)."""
    await conn.execute("DELETE FROM orderflow_wash_dirty")
    await conn.execute(
        "INSERT INTO orderflow_wash_state (id, valid, fingerprint, last_id, updated_at)"
        " VALUES (TRUE, FALSE, NULL, (SELECT coalesce(max(id), 0) FROM orderflow_trades), now())"
        " ON CONFLICT (id) DO UPDATE SET valid = FALSE, last_id = excluded.last_id,"
        " updated_at = now()"
    )
    await conn.execute(
        "UPDATE orderflow_wash_state SET partitions = $1", await wash_parts.attached(conn)
    )


async def build(conn: asyncpg.Connection, as_of: datetime, settings: ReputationSettings) -> None:
    """The stored cells from scratch, over every gated trade up to the id :func:`begin` took."""
    max_id = int(await conn.fetchval("SELECT last_id FROM orderflow_wash_state"))
    args = (as_of, *wash_settings(settings), max_id)
    await conn.execute(f"TRUNCATE {', '.join(_TABLES)}")
    await conn.execute(_TOKENS)
    await _keep_future(conn, as_of, "t.id <= $2", max_id)
    await drop_tables(conn, "rep_wash_tot", "rep_wash_p1", "rep_wash_w", "rep_wash_ws")
    await conn.execute(wash_tot.ALL)
    await conn.execute(sql.pass1(sql.BUILD_TRADES, "TRUE"), *args)
    await conn.execute(
        """CREATE TEMP TABLE rep_wash_w ON COMMIT DROP AS
           SELECT w FROM rep_wash_tot UNION SELECT w FROM rep_wash_p1"""
    )
    await conn.execute(sql.wallet_sums(_PHASE1_EMPTY), *args)
    await conn.execute(
        "INSERT INTO orderflow_wash_wallets (w, ref1, off1, ref2)"
        " SELECT w, FALSE, TRUE, FALSE FROM rep_wash_ws WHERE off1"
    )
    await region.cells(conn, sql.BUILD_TRADES, "TRUE", args)
    await conn.execute("INSERT INTO orderflow_wash_cells SELECT * FROM rep_wash_cells")
    await conn.execute("INSERT INTO orderflow_wash_taker SELECT * FROM rep_wash_tk")
    await conn.execute(_PAIRS_OF.format(only=""))
    await conn.execute(
        f"INSERT INTO orderflow_wash_members {sql.top_k('TRUE')}",
        settings.wash_top_k,
        settings.wash_min_fills,
    )
    ok = await _wallets(conn, args, keyed=False)
    await mark_wide(conn, args, None)
    for table in _TABLES:  # the statistics of the tables as filled (an update reads them)
        await conn.execute(f"ANALYZE {table}")
    await drop_tables(
        conn, "rep_wash_cells", "rep_wash_tk", "rep_wash_p1", "rep_wash_tot", "rep_wash_c"
    )
    if not ok:  # the cells' verdicts are not pass 1's: never the case (a bug), never used
        raise RuntimeError("wash state: verdicts from the cells differ from pass 1")
    await conn.execute(
        "UPDATE orderflow_wash_state SET valid = TRUE, fingerprint = $1, updated_at = now()",
        fingerprint(settings),
    )


# rep_wash_ws's wallets whose verdict is not the stored one; {only}: the stored rows read.
_FLIPPED = """SELECT n.w, n.off1 FROM rep_wash_ws n
  LEFT JOIN (SELECT o.w, o.off1 FROM orderflow_wash_wallets o WHERE {only}) o ON o.w = n.w
 WHERE n.off1 <> coalesce(o.off1, FALSE)"""


async def _wallets(
    conn: asyncpg.Connection, args: tuple[object, ...], some_tot: bool = False, keyed: bool = True
) -> bool:
    """Replace the sums of the wallets of ``rep_wash_w`` from their cells; whether their
    verdicts are the stored ones (those pass 2 was computed against). ``some_tot``:
    ``rep_wash_tot`` holds the moved volumes only (:mod:`orderflow.reputation.wash_tot`);
    ``keyed``: the stored rows read by their key (an update's few wallets), else whole (a build)."""
    await drop_tables(conn, "rep_wash_ws")
    if some_tot:
        await wash_tot.add_stored(conn)
    await conn.execute(sql.wallet_sums(_STORED_CELLS), *args)
    only = among("o.w", "SELECT w FROM rep_wash_ws") if keyed else "TRUE"
    differ = await conn.fetchval(f"SELECT count(*) FROM ({_FLIPPED.format(only=only)}) f")
    keys = "SELECT w FROM rep_wash_w"
    gone = among("o.w", keys) if keyed else f"o.w IN ({keys})"
    await conn.execute(f"DELETE FROM orderflow_wash_wallets o WHERE {gone}")
    await conn.execute(_KEEP_WALLETS)
    return not differ


async def changed_share(conn: asyncpg.Connection, last: int, max_id: int) -> float:
    """The trades an update would take (ids above ``last`` up to ``max_id``: the id index, and
    the rows logged as deleted or updated) per trade id handed out (``max_id``: the trades
    stored so far, and rolled back or detached ones): how much of the history changed."""
    taken = await conn.fetchval(
        "SELECT (SELECT count(*) FROM orderflow_trades WHERE id > $1 AND id <= $2)"
        " + (SELECT count(*) FROM orderflow_wash_dirty)",
        last,
        max_id,
    )
    return int(taken) / max(max_id, 1)


async def update(
    conn: asyncpg.Connection,
    as_of: datetime,
    settings: ReputationSettings,
    claimed: str | None = None,
) -> bool:
    """Bring the stored cells to the trades now; False when they are missing or stale (or, a bug,
    inconsistent), or when more than :data:`REBUILD_SHARE` of the trades changed: the caller
    then computes ``WASH`` and rebuilds them (the same rows either way). ``claimed``: a query of
    the wallets whose position sums this run claimed (only those and the ones marked since are
    compared: :mod:`orderflow.reputation.wash_tot`); None: every wallet's share volume."""
    state = await conn.fetchrow(
        "SELECT valid, fingerprint, last_id, partitions FROM orderflow_wash_state"
    )
    if state is None or not state["valid"] or state["fingerprint"] != fingerprint(settings):
        return False
    last = int(state["last_id"])
    max_id = int(await conn.fetchval("SELECT coalesce(max(id), 0) FROM orderflow_trades"))
    attached = await wash_parts.still_counted(conn, state["partitions"], last)
    if attached is None:
        return False
    if await changed_share(conn, last, max_id) > REBUILD_SHARE:
        return False
    args = (as_of, *wash_settings(settings), max_id)
    window = settings.wash_window_secs
    await drop_tables(
        conn,
        "rep_wash_old",
        "rep_wash_tko",
        "rep_wash_tp",
        "rep_wash_tkw",
        "rep_wash_keys",
        "rep_wash_d",
        "rep_wash_tot",
        "rep_wash_k",
        "rep_wash_t",
        "rep_wash_fell",
        "rep_wash_s",
        "rep_wash_rows",
        "rep_wash_p1",
        "rep_wash_w",
        "rep_wash_ws",
        "rep_wash_f",
    )
    # D: the buckets of new rows and of logged (deleted, updated) ones
    await conn.execute(
        f"""CREATE TEMP TABLE rep_wash_keys ON COMMIT DROP AS
            WITH d AS (DELETE FROM orderflow_wash_dirty RETURNING token_id, mk, ts)
            SELECT token_id, mk, floor(extract(epoch FROM ts) / $3::float8)::int8 AS b, ts FROM d
            UNION
            SELECT t.token_id, {sql.MK}, {sql.BUCKET}, t.timestamp
              FROM orderflow_trades t WHERE t.id > $1 AND t.id <= $2""",
        last,
        max_id,
        window,
    )
    await conn.execute(
        "INSERT INTO orderflow_wash_dirty (token_id, mk, ts)"
        " SELECT token_id, mk, ts FROM rep_wash_keys WHERE ts > $1::timestamptz",
        as_of,
    )
    await conn.execute(
        "INSERT INTO orderflow_wash_tokens SELECT DISTINCT mk, token_id FROM rep_wash_keys"
        " ON CONFLICT DO NOTHING"
    )
    await conn.execute(
        "CREATE TEMP TABLE rep_wash_d ON COMMIT DROP AS SELECT DISTINCT mk, b FROM rep_wash_keys"
    )
    # T: the wallets whose share volume moved
    some_tot = await wash_tot.moved(conn, claimed)
    # 1. pass 1 in D and next to it: the verdicts there and of T, F = the flipped ones
    await region.read_region(conn, "SELECT mk, b FROM rep_wash_d", args)
    await region.hash_joined(conn, sql.pass1(sql.REGION_TRADES, sql.IN_REGION), args)
    await conn.execute(
        """CREATE TEMP TABLE rep_wash_w ON COMMIT DROP AS
           SELECT w FROM rep_wash_p1
           UNION SELECT c.w FROM orderflow_wash_cells c JOIN rep_wash_s s
                               ON s.mk = c.mk AND s.b = c.b
           UNION SELECT w FROM rep_wash_t"""
    )
    await conn.execute("ANALYZE rep_wash_w")
    if some_tot:
        await wash_tot.add_stored(conn)
    await conn.execute(sql.wallet_sums(_PHASE1_CELLS), *args)
    await conn.execute(
        "CREATE TEMP TABLE rep_wash_f ON COMMIT DROP AS "
        + _FLIPPED.format(only=among("o.w", "SELECT w FROM rep_wash_ws"))
    )
    await conn.execute(
        """INSERT INTO orderflow_wash_wallets (w, ref1, off1, ref2)
           SELECT w, FALSE, off1, FALSE FROM rep_wash_f
           ON CONFLICT (w) DO UPDATE SET off1 = excluded.off1"""
    )
    # 2. pass 2 in D, every bucket of F and next to those: the cells there, replaced
    await region.read_region(conn, _PASS2_BUCKETS, args, again=True)
    await region.cells(conn, sql.REGION_TRADES, sql.IN_REGION, args)
    # the pairs with a cell that changed (by its text: value and scale), the wallets with an
    # off-market taker amount that did
    replace = region.replace_region
    await replace(conn, "orderflow_wash_cells", "rep_wash_cells", "rep_wash_old",
                  changed="rep_wash_tp", key="w, cp", on="(w, cp, mk, b)")  # fmt: skip
    await replace(conn, "orderflow_wash_taker", "rep_wash_tk", "rep_wash_tko",
                  changed="rep_wash_tkw", key="w", on="(w, token_id, mk, b)")  # fmt: skip
    # 3. the sums of the changed pairs and of their wallets, T and F; the top counterparties of
    # the wallets with a changed pair (their members before: rep_wash_mb)
    await conn.execute("ANALYZE rep_wash_tp")
    await conn.execute(
        "DELETE FROM orderflow_wash_pairs p USING rep_wash_tp t WHERE t.w = p.w AND t.cp = p.cp"
    )
    await conn.execute(
        _PAIRS_OF.format(only="WHERE (c.w, c.cp) IN (SELECT w, cp FROM rep_wash_tp)")
    )
    await drop_tables(conn, "rep_wash_w", "rep_wash_mb")
    await conn.execute(
        """CREATE TEMP TABLE rep_wash_w ON COMMIT DROP AS
           SELECT w FROM rep_wash_tp UNION SELECT w FROM rep_wash_t
           UNION SELECT w FROM rep_wash_f"""
    )
    await conn.execute("ANALYZE rep_wash_w")
    ok = await _wallets(conn, args, some_tot)
    await conn.execute(
        """CREATE TEMP TABLE rep_wash_mb ON COMMIT DROP AS
           WITH d AS (DELETE FROM orderflow_wash_members m
                       WHERE m.w IN (SELECT w FROM rep_wash_tp) RETURNING m.w, m.cp)
           SELECT * FROM d"""
    )
    await conn.execute(
        "INSERT INTO orderflow_wash_members" + sql.top_k("p.w IN (SELECT w FROM rep_wash_tp)"),
        settings.wash_top_k,
        settings.wash_min_fills,
    )
    await conn.execute(
        "UPDATE orderflow_wash_state SET last_id = $1, partitions = $2, updated_at = now()",
        max_id,
        attached,
    )
    await drop_tables(conn, "rep_wash_cells", "rep_wash_tk", "rep_wash_rows", "rep_wash_p1")
    if not ok:  # never the case (a bug): not used again until rebuilt
        await invalidate(conn)
    return ok
