"""A full run's stages that read no table the run has written, on a second connection in the
run's snapshot: the machine's second core (issue 14; docs/reputation.md "The second core").

The run is one transaction on one backend; PostgreSQL runs a backend's statements one after the
other, so one core did all of a full run's work. Two of its stages read nothing the run's
transaction writes before them:

* the counterparty evidence (``WASH``, ``rep_wash``): the gated trades and each wallet's share
  volume, a sum over its position sums (``TOT``), which :data:`orderflow.reputation.wash_tot.THIN`
  reads from the stored sums as the incremental run does (one row per wallet; the same numeric
  sums): only when the positions come from those sums (``stored``);
* the COPIER evidence without keeping its cells (:func:`orderflow.reputation.copy_state.build`,
  ``rep_copy``): the gated trades only.

:func:`start` exports the run's snapshot (``pg_export_snapshot``, right after the run took the
change log: a change committed later is logged for the next run, as for the run's own later
statements) and starts a task on a second connection of the pool that imports it (``REPEATABLE
READ``, ``SET TRANSACTION SNAPSHOT``: the same committed rows; the run's own uncommitted writes
-- the change log taken, empty keys dropped -- are not seen there, and neither statement reads
them: the sums are read ``WHERE fills > 0``). The side builds its tables in its own temporary
space, in the order the run needs them, each sent to the run's connection by binary COPY when
the run asks for it (:meth:`Beside.take`) into a temporary table of the same column types and
collations. The side's transaction is always rolled back: it writes nothing but temporary
tables, so a run killed anywhere, on either connection, leaves nothing behind, and a side that
fails fails the run (its transaction rolls back: the stored rows stay as they were).

Then, in a run from the stored sums, the side scores the wallets from a cut address on
(:mod:`orderflow.reputation.wallet_split`): it builds their positions, takes the run's
``rep_close`` and ``rep_void`` once made (:meth:`Beside.give`, binary COPY the other way), runs
the wallets statement and, once the run's connection has counted its own rows
(:meth:`Beside.counted`), sends its rows numbered after them (:meth:`Beside.append`).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from orderflow.reputation import copy_state, wallet_split, wash_tot
from orderflow.reputation.settings import ReputationSettings
from orderflow.reputation.wash_sql import WASH, wash_settings

COUNTERPARTIES = "rep_wash"
COPIERS = "rep_copy"

# A temporary table's columns as DDL: name, type (with its modifier) and a collation other than
# its type's (rep_wash's addresses are COLLATE "C" where the statement made them so).
_COLUMNS = """
SELECT string_agg(format('%I %s%s', a.attname, format_type(a.atttypid, a.atttypmod),
                         CASE WHEN a.attcollation <> t.typcollation
                              THEN ' COLLATE ' || quote_ident(c.collname) ELSE '' END),
                  ', ' ORDER BY a.attnum)
  FROM pg_attribute a
  JOIN pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_collation c ON c.oid = a.attcollation
 WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
"""


async def set_local(conn: asyncpg.Connection, settings: ReputationSettings) -> None:
    """The run's statement settings, inside the caller's transaction (both connections)."""
    await conn.execute(f"SET LOCAL work_mem = '{settings.work_mem}'")
    await conn.execute(f"SET LOCAL max_parallel_workers_per_gather = {settings.parallel_workers}")


async def _counterparties(
    conn: asyncpg.Connection, as_of: object, settings: ReputationSettings, _: Beside
) -> None:
    """``rep_wash`` over a one-row-per-wallet ``rep_positions`` (what ``TOT`` reads)."""
    thin = wash_tot.THIN.format(only="")
    await conn.execute(f"CREATE TEMP TABLE rep_positions ON COMMIT DROP AS {thin}")
    await conn.execute("ANALYZE rep_positions")
    await conn.execute(WASH, as_of, *wash_settings(settings))


async def _copiers(
    conn: asyncpg.Connection, as_of: object, settings: ReputationSettings, _: Beside
) -> None:
    await copy_state.build(conn, as_of, settings, keep=False)


# A table's maker: on the side's connection, ``table`` made (or the query of its rows to send).
_MAKERS: dict[
    str,
    Callable[[asyncpg.Connection, object, ReputationSettings, Beside], Awaitable[str | None]],
] = {
    COUNTERPARTIES: _counterparties,
    COPIERS: _copiers,
    wallet_split.SIDE: wallet_split.side,
}


@dataclass(frozen=True)
class _Table:
    columns: str  # DDL of its columns (_COLUMNS)
    rows: bytes  # binary COPY


# A streamed table's binary COPY on its way: chunks, then None (the end) or the side's error.
_Chunks = asyncio.Queue[bytes | BaseException | None]
# Chunks in flight at most (asyncpg's are ≈ 64 kB): the side's rows never held whole in memory
# (≈ 370 MB for the wallets statement's half at 1 M wallets).
_IN_FLIGHT = 32


@dataclass
class Beside:
    """The side connection's tables, each handed over once (:meth:`take`); ``stages``: seconds
    the side spent making and sending each. ``pivot``: the side scores the wallets from this
    address on (:mod:`orderflow.reputation.wallet_split`), with the tables the run's connection
    gives it (:meth:`give`)."""

    tables: tuple[str, ...]
    _ready: dict[str, asyncio.Future[_Table]]
    _given: asyncio.Future[tuple[tuple[str, _Table], ...]]
    _first: asyncio.Future[int]  # the number of rep_wallets rows the run's connection made
    _streams: dict[str, _Chunks] = field(default_factory=dict)  # sent as made (:meth:`append`)
    _task: asyncio.Task[None] | None = None
    stages: dict[str, float] = field(default_factory=dict)
    pivot: str | None = None

    def has(self, table: str) -> bool:
        return table in self._ready or table in self._streams

    async def take(self, conn: asyncpg.Connection, table: str) -> None:
        """``table`` in ``conn``'s transaction (``ON COMMIT DROP``), as the side made it; the
        side's error, if it failed."""
        await _load(conn, table, await self._ready[table])

    async def append(self, conn: asyncpg.Connection, table: str, into: str) -> None:
        """``table``'s rows (streamed: copied in as the side sends them) appended to ``into``
        (the same columns); the side's error, if it failed."""
        chunks = self._streams[table]

        async def rows() -> AsyncIterator[bytes]:
            while (chunk := await chunks.get()) is not None:
                if isinstance(chunk, BaseException):
                    raise chunk
                yield chunk

        await conn.copy_to_table(into, source=rows(), format="binary")

    def counted(self, rows: int) -> None:
        """The run's connection made its ``rep_wallets``: ``rows`` rows (:meth:`first`)."""
        if not self._first.done():
            self._first.set_result(rows)

    async def first(self) -> int:
        """On the side: the number of :meth:`counted`, once counted."""
        return await self._first

    async def give(self, conn: asyncpg.Connection, tables: tuple[str, ...]) -> None:
        """``tables`` of ``conn``'s transaction sent to the side (:meth:`received`)."""
        made = tuple([(t, await _dump(conn, t)) for t in tables])
        if not self._given.done():  # (done: the side was stopped)
            self._given.set_result(made)

    async def received(self, side: asyncpg.Connection) -> None:
        """On the side: the tables of :meth:`give`, once given."""
        started = time.perf_counter()
        for table, made in await self._given:
            await _load(side, table, made)
        self.stages["given"] = round(time.perf_counter() - started, 3)

    async def close(self) -> None:
        """Stop the side if it still runs (the run failed or did not ask for everything); its
        connection goes back to the pool with its transaction rolled back."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        for f in self._ready.values():  # an error nobody asked for is not an unretrieved one
            if f.done() and not f.cancelled():
                f.exception()
            elif not f.done():
                f.cancel()
        for wanted in (self._given, self._first):
            if not wanted.done():
                wanted.cancel()


async def _load(conn: asyncpg.Connection, table: str, made: _Table) -> None:
    await conn.execute(f"CREATE TEMP TABLE {table} ({made.columns}) ON COMMIT DROP")
    await conn.copy_to_table(table, source=io.BytesIO(made.rows), format="binary")


async def _send(conn: asyncpg.Connection, query: str | None, chunks: _Chunks) -> None:
    """``query``'s rows as binary COPY chunks into ``chunks`` (waiting while it is full)."""
    assert query is not None  # a streamed table's maker says what to send
    await conn.copy_from_query(query, output=chunks.put, format="binary")
    await chunks.put(None)


def _fail(chunks: _Chunks, exc: BaseException) -> None:
    """The side failed: what was on its way dropped, the error next for the reader."""
    while not chunks.empty():
        chunks.get_nowait()
    chunks.put_nowait(exc)


async def _dump(conn: asyncpg.Connection, table: str, query: str | None = None) -> _Table:
    """``table``'s columns and rows (``query``'s rows: the same columns)."""
    columns = await conn.fetchval(_COLUMNS, f"pg_temp.{table}")
    buf = io.BytesIO()
    if query is None:
        await conn.copy_from_table(table, output=buf, format="binary")
    else:
        await conn.copy_from_query(query, output=buf, format="binary")
    return _Table(columns=str(columns), rows=buf.getvalue())


async def _work(
    pool: asyncpg.Pool,
    side: asyncpg.Connection,
    snapshot: str,
    as_of: object,
    settings: ReputationSettings,
    beside: Beside,
) -> None:
    try:
        tx = side.transaction(isolation="repeatable_read")
        await tx.start()
        try:
            await side.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            await set_local(side, settings)
            for table in beside.tables:
                started = time.perf_counter()
                query = await _MAKERS[table](side, as_of, settings, beside)
                if table in beside._streams:
                    await _send(side, query, beside._streams[table])
                else:
                    made = await _dump(side, table, query)
                    beside._ready[table].set_result(made)
                beside.stages[table] = round(time.perf_counter() - started, 3)
        finally:
            with contextlib.suppress(Exception):  # a cancelled statement: the pool resets it
                await tx.rollback()
    except BaseException as exc:
        for table, chunks in beside._streams.items():
            if table not in beside.stages:  # (a stage's time: all of it sent)
                _fail(chunks, exc)
        for f in beside._ready.values():
            if f.done():
                continue
            if isinstance(exc, asyncio.CancelledError):
                f.cancel()
            else:
                f.set_exception(exc)
        raise
    finally:
        await pool.release(side)


def _free(pool: asyncpg.Pool) -> bool:
    """Whether the pool gives a connection without waiting for one to come back (the run holds
    one: a pool of one, or one whose others are all taken, runs the stages serially)."""
    return bool(pool.get_idle_size() > 0 or pool.get_size() < pool.get_max_size())


async def start(
    pool: asyncpg.Pool,
    conn: asyncpg.Connection,
    as_of: object,
    settings: ReputationSettings,
    *,
    counterparties: bool,
    copiers: bool,
    pivot: str | None = None,
) -> Beside | None:
    """The side's task started in ``conn``'s snapshot (see the module), making ``rep_wash`` if
    ``counterparties``, then ``rep_copy`` if ``copiers``, then the ``rep_wallets`` rows of the
    wallets from ``pivot`` on if given (:mod:`orderflow.reputation.wallet_split`); None when
    there is nothing to make or no connection free in ``pool`` (the caller then makes them
    itself)."""
    tables = tuple(
        t
        for t, wanted in (
            (COUNTERPARTIES, counterparties),
            (COPIERS, copiers),
            (wallet_split.SIDE, pivot is not None),
        )
        if wanted
    )
    if not tables or not _free(pool):
        return None
    side = await pool.acquire()
    try:
        snapshot = str(await conn.fetchval("SELECT pg_export_snapshot()"))
    except BaseException:
        await pool.release(side)
        raise
    loop = asyncio.get_running_loop()
    # the side's wallets: last (it waits for the run's count, and the run reads it last)
    streamed = {wallet_split.SIDE} & set(tables)
    beside = Beside(
        tables=tables,
        _ready={t: loop.create_future() for t in tables if t not in streamed},
        _given=loop.create_future(),
        _first=loop.create_future(),
        _streams={t: asyncio.Queue(_IN_FLIGHT) for t in streamed},
        pivot=pivot,
    )
    beside._task = asyncio.create_task(_work(pool, side, snapshot, as_of, settings, beside))
    return beside


async def for_run(
    db: asyncpg.Pool | asyncpg.Connection,
    conn: asyncpg.Connection,
    cutoff: datetime,
    settings: ReputationSettings,
    *,
    stored: bool,
    switched: bool,
) -> Beside | None:
    """A full run's side (:func:`start`): ``rep_wash`` when the positions come from the stored
    sums (the share volumes are read from them), ``rep_copy`` unless the run keeps the COPIER
    cells (written by the run's own transaction), and the wallets after the cut
    (:mod:`orderflow.reputation.wallet_split`) when the positions come from the stored sums.
    None: serial (turned off: ``settings.second_connection``, a connection given rather than a
    pool, or no connection of the pool free)."""
    if not settings.second_connection or not isinstance(db, asyncpg.Pool) or not _free(db):
        return None
    pivot = await wallet_split.pivot(conn) if stored else None
    return await start(
        db, conn, cutoff, settings, counterparties=stored, copiers=not switched, pivot=pivot
    )
