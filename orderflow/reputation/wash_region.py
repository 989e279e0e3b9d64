"""A region for :mod:`orderflow.reputation.wash_state`: some buckets and the ones next to them
(``rep_wash_s``) with their trades (``rep_wash_rows``), the cells and off-market taker amounts of
those buckets computed from them, and the stored rows of those buckets replaced by them, with the
keys of the rows that changed."""

from __future__ import annotations

import asyncpg

from orderflow.reputation import wash_partials_sql as sql
from orderflow.reputation.wash_assemble import drop_tables

# The keys ({key}) of the rows of {new} and {old} (joined on {on}) that differ, by their text.
_CHANGED = """
CREATE TEMP TABLE {out} ON COMMIT DROP AS
SELECT DISTINCT {key} FROM {new} nw FULL JOIN {old} od USING {on}
 WHERE nw IS NULL OR od IS NULL OR nw::text <> od::text
"""


async def cells(conn: asyncpg.Connection, trades: str, only: str, args: tuple[object, ...]) -> None:
    """``rep_wash_cells`` and ``rep_wash_tk``: the cells and taker amounts of ``only``'s
    buckets from ``trades`` (a region's statements planned without nested loops); pass 2's
    prices computed once, by the cells statement, and kept for the taker statement's sales
    (``rep_wash_ref2``)."""
    await drop_tables(conn, "rep_wash_cells", "rep_wash_tk", sql.REF2)
    region = trades == sql.REGION_TRADES
    await conn.execute(sql.ref2_table(trades), *args)
    await hash_joined(conn, sql.cells(trades, only), args, region)
    await conn.execute(f"ANALYZE {sql.REF2}")
    await hash_joined(conn, sql.taker(trades, only), args, region)
    await drop_tables(conn, sql.REF2)


async def hash_joined(
    conn: asyncpg.Connection, statement: str, args: tuple[object, ...], region: bool = True
) -> None:
    """A region's statement over WASH's CTEs, planned without nested loops: the planner cannot
    know the CTEs' row counts (from a region's few trades it guesses few), and a nested loop over
    a CTE scan is quadratic (a day of new trading at 300 k fills: the cells statement 27.7 s,
    0.75 s without; no index is probed). A build's statements keep their plans (its cells
    statement took 5.2 and 6.1 s in two runs with them, 8.2 s in one without)."""
    if not region:
        await conn.execute(statement, *args)
        return
    await conn.execute("SET LOCAL enable_nestloop = off")
    await conn.execute(statement, *args)
    await conn.execute("SET LOCAL enable_nestloop = on")


async def replace_region(
    conn: asyncpg.Connection, table: str, new: str, old: str, *, changed: str, key: str, on: str
) -> None:
    """Replace ``table``'s rows in the region's buckets (``rep_wash_s``) by ``new``'s, the rows
    replaced kept in ``old``; ``changed``: the ``key`` of every row that differs (by text: value
    and scale), joined on ``on``."""
    await conn.execute(
        f"""CREATE TEMP TABLE {old} ON COMMIT DROP AS
            WITH d AS (DELETE FROM {table} x USING rep_wash_s s
                        WHERE x.mk = s.mk AND x.b = s.b RETURNING x.*)
            SELECT * FROM d"""
    )
    await conn.execute(f"INSERT INTO {table} SELECT * FROM {new}")
    await conn.execute(_CHANGED.format(out=changed, key=key, new=new, old=old, on=on))


async def read_region(
    conn: asyncpg.Connection, buckets: str, args: tuple[object, ...], *, again: bool = False
) -> None:
    """``rep_wash_s``: ``buckets`` and the ones next to them; ``rep_wash_rows``: the trades of
    those and the ones next to them. ``again``: the update's second region (pass 2's, which
    holds pass 1's buckets): the trades the first one read are kept and only the buckets it
    lacks are read (the same rows: ``wash_partials_sql.REGION_ROWS_KEPT``)."""
    if again:
        await drop_tables(conn, "rep_wash_s1", "rep_wash_rows1")
        await conn.execute("ALTER TABLE rep_wash_s RENAME TO rep_wash_s1")
        await conn.execute("ALTER TABLE rep_wash_rows RENAME TO rep_wash_rows1")
    else:
        await drop_tables(conn, "rep_wash_s", "rep_wash_rows")
    # a region: the buckets and the ones next to them (a fill's prevailing price reads its
    # bucket's trades and its neighbours')
    await conn.execute(
        "CREATE TEMP TABLE rep_wash_s ON COMMIT DROP AS "
        + sql.NEXT_TO.format(buckets=f"({buckets})")
    )
    await conn.execute("ANALYZE rep_wash_s")
    if again:
        await conn.execute(sql.REGION_ROWS_KEPT, *args)
        await conn.execute(sql.REGION_ROWS_MORE, *args)
        await drop_tables(conn, "rep_wash_s1", "rep_wash_rows1")
    else:
        await conn.execute(sql.REGION_ROWS, *args)
    await conn.execute("ANALYZE rep_wash_rows")
