"""The COPIER flag's evidence kept between runs (migration 077): ``rep_copy`` from per (follower,
leader, token, bucket) cells, recomputed only around changed fills.

* :func:`build` -- every run but an incremental one that can update: ``rep_buys`` over every
  gated taker buy, the cells, ``rep_copy`` from their sums; ``keep``: the cells and sums stored
  for the next runs (a live full run that also builds the counterparty cells, or an incremental
  one that rebuilt them or cannot update the copy cells);
* :func:`update` -- an incremental run, after the counterparty update
  (:func:`orderflow.reputation.wash_state.update`) took the changed trades: those with an id
  above the last one counted and the rows deleted or updated since (``rep_wash_keys``; no second
  change log). A changed buy changes the cells of its bucket and the ones next to it
  (:mod:`orderflow.reputation.copy_sql`): those cells are recomputed from the taker buys of
  their buckets and the ones next to them (read by the token index), the stored ones replaced,
  the sums of the pairs with a cell there recomputed from their cells.

The stored cells count the trades up to ``orderflow_copy_state.last_id``, the counterparty
cells' last id when they were made or updated. :func:`update` runs only when the counterparty
update of the same run started from that id (its changes are then exactly the ones since) and
the cells were made by this SQL, window, look-back and token minimum (:func:`fingerprint`);
otherwise the caller rebuilds. Only the pairs past ``copy_min_markets`` tokens are kept
(:data:`orderflow.reputation.copy_sql.PAIRS_OF`): nothing reads the others.
Whatever makes the counterparty cells rebuild -- a partition detached or attached with old fills,
the change logs dropped past their bound, a TRUNCATE, a settings or SQL change, a large change --
so rebuilds these; so does another ``copy_min_markets`` (the pairs kept). ``copy_min_share``
and ``copy_alpha`` are applied to the stored sums at each run (no rebuild). Equal to the full
statement's rows (``tests/reputation/test_copy_state.py``).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import asyncpg

from orderflow.reputation import copy_sql as sql
from orderflow.reputation.settings import ReputationSettings
from orderflow.reputation.wash_assemble import drop_tables

CELLS = "orderflow_copy_cells"
PAIRS = "orderflow_copy_pairs"

# The buckets of rep_copy_s (token, hashes, bucket) whose cells an update recomputes.
_IN_REGION = "(tok, tok2, b) IN (SELECT tok, tok2, b FROM rep_copy_s)"


def fingerprint(settings: ReputationSettings) -> str:
    """What the stored cells depend on besides the data: the SQL, the window, the look-back and
    the token minimum (the pairs kept)."""
    text = "\n".join(
        (
            sql.BUYS,
            sql.REGION_BUYS,
            sql.cells("TRUE"),
            sql.cells(_IN_REGION),
            sql.PAIRS_OF,
            repr(settings.copy_window_secs),
            repr(settings.copy_look_back),
            repr(settings.copy_min_markets),
        )
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _window(settings: ReputationSettings) -> tuple[timedelta, float]:
    secs = settings.copy_window_secs
    return timedelta(seconds=secs), float(secs)


async def _rows(conn: asyncpg.Connection, pairs: str, as_of: object, s: ReputationSettings) -> None:
    """``rep_copy`` from ``pairs`` (their sums), with the followers' buys."""
    await conn.execute(sql.COPY_ROWS.format(pairs=pairs), s.copy_min_markets)
    await conn.execute(sql.BUYS_OF_FOLLOWERS, as_of)


async def build(
    conn: asyncpg.Connection, as_of: object, settings: ReputationSettings, *, keep: bool = False
) -> None:
    """``rep_copy`` over every gated taker buy, inside the caller's transaction; ``keep``: the
    cells and sums stored, counting up to the counterparty cells' last id (taken before: every
    trade up to it is read here; a later one is read again by the next update, which finds it
    by its id)."""
    window, secs = _window(settings)
    await conn.execute(sql.BUYS, as_of, window, secs)
    await conn.execute("ANALYZE rep_buys")
    await conn.execute(sql.cells("TRUE"), secs, settings.copy_look_back)
    await conn.execute("DROP TABLE rep_buys")
    if not keep:
        await _rows(conn, f"({sql.PAIRS_OF.format(cells='rep_copy_cells', only='TRUE')})", as_of,
                    settings)  # fmt: skip
        await conn.execute("DROP TABLE rep_copy_cells")
        return
    await conn.execute(f"TRUNCATE {CELLS}, {PAIRS}")
    await conn.execute(f"INSERT INTO {CELLS} SELECT * FROM rep_copy_cells")
    await conn.execute("DROP TABLE rep_copy_cells")
    await conn.execute(
        f"INSERT INTO {PAIRS} {sql.PAIRS_OF.format(cells=CELLS, only='TRUE')}",
        settings.copy_min_markets,
    )
    await conn.execute(f"ANALYZE {CELLS}")
    await conn.execute(f"ANALYZE {PAIRS}")
    await conn.execute(
        "INSERT INTO orderflow_copy_state (id, valid, fingerprint, last_id, updated_at)"
        " VALUES (TRUE, TRUE, $1, (SELECT last_id FROM orderflow_wash_state), now())"
        " ON CONFLICT (id) DO UPDATE SET valid = TRUE, fingerprint = excluded.fingerprint,"
        " last_id = excluded.last_id, updated_at = now()",
        fingerprint(settings),
    )
    await _rows(conn, PAIRS, as_of, settings)


async def counted(conn: asyncpg.Connection) -> int | None:
    """The counterparty cells' last id, before their update (None: none), to learn whether the
    copy cells count the same trades (:func:`can_update`)."""
    last = await conn.fetchval("SELECT last_id FROM orderflow_wash_state WHERE valid")
    return None if last is None else int(last)


async def can_update(
    conn: asyncpg.Connection, settings: ReputationSettings, since: int | None
) -> bool:
    """Whether the stored cells count the trades up to ``since`` (the counterparty cells' last id
    before their update, which then succeeded: ``rep_wash_keys`` holds every change since) and
    were made by this SQL, window, look-back and token minimum."""
    if since is None:
        return False
    state = await conn.fetchrow("SELECT fingerprint, last_id FROM orderflow_copy_state WHERE valid")
    return (
        state is not None
        and state["last_id"] == since
        and state["fingerprint"] == fingerprint(settings)
    )


async def update(conn: asyncpg.Connection, as_of: datetime, settings: ReputationSettings) -> None:
    """``rep_copy`` from the stored cells brought up to the trades the counterparty update
    counted (``rep_wash_keys``: the changed trades' token and time; ``orderflow_wash_state``'s
    last id, now the one it counted up to). See :func:`can_update`."""
    window, secs = _window(settings)
    max_id = int(await conn.fetchval("SELECT last_id FROM orderflow_wash_state"))
    await drop_tables(conn, "rep_copy_s", "rep_copy_touched")
    # the changed buckets and the ones next to them: the cells to recompute
    changed = f"""(SELECT DISTINCT token_id, {sql.TOK} AS tok, {sql.TOK2} AS tok2,
                          {sql.BUCKET.format(ts="t.ts")} AS b
                     FROM rep_wash_keys t)"""
    await conn.execute(
        "CREATE TEMP TABLE rep_copy_s ON COMMIT DROP AS"
        f" WITH _params AS (SELECT $1::timestamptz, $2::interval, $3::float8)"
        f" {sql.NEXT_TO.format(buckets=changed)}",
        as_of,
        window,
        secs,
    )
    await conn.execute("ANALYZE rep_copy_s")
    await conn.execute(sql.REGION_BUYS, as_of, window, secs, max_id)
    await conn.execute("ANALYZE rep_buys")
    # a region's few rows: planned without nested loops over the CTEs (wash_region.hash_joined)
    await conn.execute("SET LOCAL enable_nestloop = off")
    await conn.execute(sql.cells(_IN_REGION), secs, settings.copy_look_back)
    await conn.execute("SET LOCAL enable_nestloop = on")
    await conn.execute("DROP TABLE rep_buys")
    # the region's cells replaced; the pairs with a cell there, old or new
    await conn.execute(
        f"""CREATE TEMP TABLE rep_copy_touched ON COMMIT DROP AS
            WITH d AS (DELETE FROM {CELLS} x USING rep_copy_s s
                        WHERE x.tok = s.tok AND x.tok2 = s.tok2 AND x.b = s.b
                    RETURNING x.f, x.l)
            SELECT f, l FROM d UNION SELECT f, l FROM rep_copy_cells"""
    )
    await conn.execute(f"INSERT INTO {CELLS} SELECT * FROM rep_copy_cells")
    await conn.execute("DROP TABLE rep_copy_cells")
    await conn.execute("ANALYZE rep_copy_touched")
    await conn.execute(
        f"DELETE FROM {PAIRS} p USING rep_copy_touched t WHERE t.f = p.f AND t.l = p.l"
    )
    touched = "(c.f, c.l) IN (SELECT f, l FROM rep_copy_touched)"
    await conn.execute(
        f"INSERT INTO {PAIRS} {sql.PAIRS_OF.format(cells=CELLS, only=touched)}",
        settings.copy_min_markets,
    )
    await conn.execute("UPDATE orderflow_copy_state SET last_id = $1, updated_at = now()", max_id)
    await _rows(conn, PAIRS, as_of, settings)
