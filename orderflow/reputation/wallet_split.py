"""The wallets statement (:data:`orderflow.reputation.evidence_sql.WALLETS`) on both connections
of a full run from the stored sums (issue 14; docs/reputation.md "The second core").

``WALLETS`` is per wallet: each wallet's row reads its own positions (``rep_positions``), its
tokens' closing lines (``rep_close``), its voided fills (``rep_void``) and its counterparty
figures (``rep_wash``), and no other wallet's. So the wallets are cut in two at a
:func:`pivot` address (``COLLATE "C"``): the run's connection scores those before it
(:data:`MINE`: ``rep_positions`` read through the cut), the second connection
(:mod:`orderflow.reputation.beside`, in the run's snapshot) those from it on (:func:`side`):
it builds their positions itself from the stored sums (the same statement, restricted to them),
takes ``rep_close`` and ``rep_void`` from the run's connection once they are made (small: one
row per token, per voided position) and sends its ``rep_wallets`` rows back, which
:func:`append` copies into the run's. The run's ``rep_positions`` still holds every position
(the closing lines, the issues, the unrealized P&L and the history read them).

``idx`` (0..n-1) is the row's place in the statement's output, which comes in wallet order
(``COLLATE "C"``, the sorted pass; the stored inputs keep it): the side numbers its rows after
the run's connection's (it waits for their count, the status of :data:`MINE`), the serial run's
numbers (tests/reputation/test_wallet_split.py).
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

import asyncpg

from orderflow.reputation import evidence_sql as ev
from orderflow.reputation import positions_sql
from orderflow.reputation.settings import ReputationSettings

if TYPE_CHECKING:
    from orderflow.reputation.beside import Beside

# The table the side's rows arrive in (beside.Beside.take), then appended to rep_wallets.
SIDE = "rep_wallets_side"
# What the side takes from the run's connection, once made (beside.Beside.give).
GIVEN = ("rep_close", "rep_void")

# About this many stored sums rows (positions) are sampled for the cut.
_SAMPLE_ROWS = 200_000

# The address that halves the positions (the stored sums rows with fills), from a sample of
# the sums' pages: balanced by the positions the wallets statement reads, whatever the
# addresses look like. $1 = the sample's percentage of the table's pages.
PIVOT = """
SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY wallet_address COLLATE "C")
  FROM orderflow_position_sums TABLESAMPLE SYSTEM ($1)
 WHERE fills > 0
"""
_NAMES = """
SELECT attname FROM pg_attribute
 WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum"""
_ROWS = "SELECT reltuples::float8 FROM pg_class WHERE oid = 'orderflow_position_sums'::regclass"

_MINE = 'SELECT * FROM rep_positions WHERE wallet_address COLLATE "C" < $3'
_FROM = "FROM rep_positions p"
# WALLETS over the wallets before the cut ($3): its reads of rep_positions through it.
MINE = ev.WALLETS.replace(_FROM, f"FROM ({_MINE}) p")
# (every read: the statement names rep_positions nowhere else but in its comments)
assert re.sub(r"--[^\n]*", "", MINE).count("rep_positions") == MINE.count(_MINE) > 0


async def pivot(conn: asyncpg.Connection) -> str | None:
    """The cut (:data:`PIVOT`; None: no positions to cut). Any address gives the same rows; the
    sample only balances the two connections' work."""
    rows = await conn.fetchval(_ROWS)
    share = 100.0 if rows is None or rows < 2 * _SAMPLE_ROWS else 100.0 * _SAMPLE_ROWS / rows
    cut = await conn.fetchval(PIVOT, share)
    if cut is None and share < 100.0:  # an unlucky sample of empty pages
        cut = await conn.fetchval(PIVOT, 100.0)
    return None if cut is None else str(cut)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


async def side(
    conn: asyncpg.Connection, as_of: object, settings: ReputationSettings, beside: Beside
) -> str:
    """On the second connection: the positions of the wallets from the cut on, then (once the
    run's connection has made them) its ``rep_close`` and ``rep_void``, then their
    ``rep_wallets`` rows as :data:`SIDE`; the query that sends them numbered after the run's
    own rows (once it has counted them)."""
    assert beside.pivot is not None
    started = time.perf_counter()
    only = f'a.wallet_address COLLATE "C" >= {_literal(beside.pivot)}'
    # WASH's one row per wallet (beside._counterparties) made way for the positions
    await conn.execute("DROP TABLE IF EXISTS rep_positions")
    await conn.execute(positions_sql.positions(stored=True, only=only), as_of)
    await conn.execute(positions_sql.ANALYZE)
    beside.stages["positions"] = round(time.perf_counter() - started, 3)
    await beside.received(conn)  # rep_close, rep_void
    await conn.execute("ANALYZE rep_close")
    started = time.perf_counter()
    await conn.execute(ev.WALLETS, settings.hedged_leg_window_secs, None)  # a live run's legs
    await conn.execute(f"ALTER TABLE rep_wallets RENAME TO {SIDE}")
    beside.stages["wallets"] = round(time.perf_counter() - started, 3)
    return await _numbered(conn, await beside.first())


async def _numbered(conn: asyncpg.Connection, first: int) -> str:
    """The query of :data:`SIDE`'s rows with ``idx`` from ``first`` on."""
    columns = await conn.fetch(_NAMES, f"pg_temp.{SIDE}")
    select = ", ".join(
        f"(idx + {int(first)})::int4" if r["attname"] == "idx" else f'"{r["attname"]}"'
        for r in columns
    )
    return f"SELECT {select} FROM {SIDE}"


async def wallets(
    conn: asyncpg.Connection, settings: ReputationSettings, legs: object, beside: Beside | None
) -> None:
    """``rep_wallets`` of the run's connection: every wallet's, or (the side scores the others)
    those before the cut, once the side has what it reads."""
    if beside is None or not beside.has(SIDE):
        await conn.execute(ev.WALLETS, settings.hedged_leg_window_secs, legs)
        return
    await beside.give(conn, GIVEN)
    status = await conn.execute(MINE, settings.hedged_leg_window_secs, legs, beside.pivot)
    beside.counted(int(status.split()[-1]))  # "SELECT <rows>": the side's rows come next


async def append(conn: asyncpg.Connection, beside: Beside | None) -> bool:
    """The side's rows (:data:`SIDE`, numbered after the run's own) appended to
    ``rep_wallets``; whether the side made any (the wallets were split)."""
    if beside is None or not beside.has(SIDE):
        return False
    await beside.append(conn, SIDE, "rep_wallets")
    return True
