"""The incremental run: rescore only the wallets whose statistics can have changed.

A live full run (positions from the stored sums, migration 011) keeps what the next run needs:

* ``orderflow_reputation_inputs`` -- every wallet's row of ``rep_wallets`` (the per-wallet
  statistics and evidence sums the population step reads);
* ``orderflow_reputation_wash`` -- ``rep_wash`` (the counterparty evidence);
* ``orderflow_reputation_state`` -- a fingerprint of the SQL and settings that made them;
* the counterparty evidence's exact partial sums (migration 023,
  :mod:`orderflow.reputation.wash_state`, with their own fingerprint).

Both tables are created by the run from the temporary tables (``CREATE TABLE ... AS``), so they
always have the columns the current SQL produces; the fingerprint says whether they are usable.
An incremental run then, in the caller's transaction:

1. takes the changes: sums rows marked dirty by the triggers (new, deleted, updated fills) and
   the markets / tokens whose resolution, condition or registry row changed;
2. brings the counterparty evidence's partial sums up to date around the changed fills and
   assembles ``rep_wash`` from them (``WASH``'s rows to the bit; ``WASH`` itself over the trades
   when they are stale), against every wallet's share volume from the sums, and adds the wallets
   whose evidence changed;
3. dirty wallets = wallets of dirty rows + every holder of a dirty token whose resolution,
   closing line or problem moved + wallets whose wash evidence changed; the holders of a token
   whose mark alone moved are not rescored: their stored unrealized P&L (the one figure the mark
   feeds) moves by the exact micro-unit difference;
4. loads every position in the changed tokens (a closing line is the token's, over all its
   holders; only the columns the closing lines, problems and marks read), builds the closing
   lines, then loads the dirty wallets' positions and computes their ``rep_wallets`` rows;
5. replaces their stored inputs, and scores the whole population from the stored inputs (the
   empirical-Bayes prior and the false-discovery control are population-wide).

The caller persists ``rep_final`` as after a full run (the upsert writes only changed rows).
Equality with a full recompute is tested in ``tests/reputation/test_incremental_run.py``.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import time
from datetime import datetime
from pathlib import Path

import asyncpg
import numpy as np

from orderflow.reputation import evidence_sql as ev
from orderflow.reputation import (
    factors,
    flags,
    persist_sql,
    population_step,
    positions_sql,
    scores_sql,
    wash_assemble,
    wash_state,
    wash_tot,
)
from orderflow.reputation.settings import ReputationSettings
from orderflow.reputation.wash_sql import wash_settings

INPUTS = "orderflow_reputation_inputs"
WASH = "orderflow_reputation_wash"
CLOSES = "orderflow_reputation_closes"


# The code that turns a wallet's inputs into the figures its row stores. An incremental run
# writes only the rows whose inputs changed or whose score, tier or flags moved (the
# population step, orderflow.reputation.population_step), trusting every other row to hold
# what this code makes of its unchanged inputs: a change of this code (or of numpy, whose
# loops compute the figures) must make the next run a full one.
_SCORING_CODE = (factors, flags, population_step, scores_sql)


def fingerprint(settings: ReputationSettings) -> str:
    """What the stored inputs and the rows an incremental run leaves alone depend on besides
    the data: the SQL, the scoring code, numpy's version and the settings."""
    digest = hashlib.sha256()
    for text in (
        positions_sql.positions(stored=True),
        ev.CLOSES,
        ev.WASH,
        ev.WALLETS,
        persist_sql.UPSERT_STATS,
        settings.model_dump_json(),
        np.__version__,
    ):
        digest.update(text.encode() + b"\0")
    for module in _SCORING_CODE:
        digest.update(Path(inspect.getfile(module)).read_bytes() + b"\0")
    return digest.hexdigest()


async def ready(conn: asyncpg.Connection, settings: ReputationSettings) -> bool:
    """Whether the stored inputs were made by a live full run with this SQL and settings."""
    stored = await conn.fetchval(
        "SELECT fingerprint FROM orderflow_reputation_state WHERE id AND valid"
    )
    return bool(stored == fingerprint(settings))


async def invalidate(conn: asyncpg.Connection) -> None:
    """A run that did not leave the stored inputs current (a scan, an as_of run)."""
    await wash_state.invalidate(conn)
    await conn.execute(
        "INSERT INTO orderflow_reputation_state (id, valid, fingerprint, updated_at)"
        " VALUES (TRUE, FALSE, NULL, now())"
        " ON CONFLICT (id) DO UPDATE SET valid = FALSE, updated_at = now()"
    )


async def _claim(conn: asyncpg.Connection, as_of: datetime) -> None:
    """Take the changes since the last run into temp tables; marks are cleared in this
    transaction (a change committed after this statement stays marked for the next run).
    A resolution stamped between the last run's cut-off and this one's counts as a change
    (stored before it was due, it becomes visible with time alone)."""
    await conn.execute(
        """CREATE TEMP TABLE rep_dirty_keys ON COMMIT DROP AS
           WITH d AS (UPDATE orderflow_position_sums SET dirty = FALSE WHERE dirty
                      RETURNING wallet_address, token_id)
           SELECT * FROM d"""
    )
    await conn.execute(
        """CREATE TEMP TABLE rep_dirty_markets ON COMMIT DROP AS
           WITH d AS (DELETE FROM orderflow_reputation_dirty_markets RETURNING market_id)
           SELECT market_id FROM d
           UNION SELECT o.market_id FROM orderflow_market_outcomes o
            WHERE o.resolved_at <= $1::timestamptz
              AND o.resolved_at > (SELECT s.as_of FROM orderflow_reputation_state s)""",
        as_of,
    )
    # tokens whose market, resolution or registry row changed: every holder is rescored
    await conn.execute(
        """CREATE TEMP TABLE rep_marked_tokens ON COMMIT DROP AS
           WITH d AS (DELETE FROM orderflow_reputation_dirty_tokens RETURNING token_id)
           SELECT token_id FROM d
           UNION SELECT s.token_id FROM orderflow_position_sums s
                  JOIN rep_dirty_markets m ON m.market_id = s.trade_market_id
           UNION SELECT k.token_id FROM orderflow_tokens k
                  JOIN rep_dirty_markets m ON m.market_id = k.condition_id"""
    )
    # wallets whose stored score, tier or flags something else wrote (migration 027): their
    # rows are given to the upsert, which mends them
    await conn.execute(
        """CREATE TEMP TABLE rep_touched ON COMMIT DROP AS
           WITH d AS (DELETE FROM orderflow_reputation_touched RETURNING wallet_address)
           SELECT wallet_address FROM d"""
    )
    # ... and those with changed fills: their closing line and mark are recomputed
    await conn.execute(
        """CREATE TEMP TABLE rep_dirty_tokens ON COMMIT DROP AS
           SELECT token_id FROM rep_marked_tokens UNION SELECT token_id FROM rep_dirty_keys"""
    )
    # their sizes for the planner (a temp table has no statistics: taken for 200 rows, the
    # changed tokens' positions were read by an index probe per token even when every token had
    # changed -- 590 k random heap reads instead of one scan: 100 k wallets, 80 k new trades)
    await conn.execute("ANALYZE rep_dirty_tokens")


async def clear(conn: asyncpg.Connection) -> None:
    """Before a live full run reads: every change so far is taken; keys whose fills all went
    are dropped."""
    await conn.execute("UPDATE orderflow_position_sums SET dirty = FALSE WHERE dirty")
    await conn.execute("DELETE FROM orderflow_reputation_dirty_markets")
    await conn.execute("DELETE FROM orderflow_reputation_dirty_tokens")
    await conn.execute("DELETE FROM orderflow_reputation_touched")  # every row is compared
    await conn.execute("DELETE FROM orderflow_position_sums WHERE fills = 0")
    await wash_state.begin(conn)


async def save(conn: asyncpg.Connection, settings: ReputationSettings, as_of: datetime) -> None:
    """After a live full run (which called :func:`clear` before reading) has written its rows:
    keep ``rep_wallets`` (with each wallet's stored score, tier and flags: :func:`mirror`),
    ``rep_wash`` and ``rep_close`` for the next runs."""
    for table in (INPUTS, WASH, CLOSES):
        await conn.execute(f"DROP TABLE IF EXISTS {table}")
    await conn.execute(
        f"""CREATE TABLE {INPUTS} AS
            SELECT w.*, {scores_sql.MIRROR}
              FROM rep_wallets w
              LEFT JOIN orderflow_wallet_stats ws ON ws.wallet_address = w.wallet_address"""
    )
    await conn.execute(f"CREATE TABLE {WASH} AS SELECT * FROM rep_wash")
    await conn.execute(f"CREATE TABLE {CLOSES} AS SELECT * FROM rep_close")
    # idx: a wallet keeps its place; an incremental run scores this table as it stands
    await conn.execute(f"ALTER TABLE {INPUTS} ADD PRIMARY KEY (wallet_address)")
    await conn.execute(f"CREATE UNIQUE INDEX ON {INPUTS} (idx)")
    await conn.execute(f"ANALYZE {INPUTS}")
    # one row per wallet with figures (token_id NULL) and per (wallet, token) off-market amounts
    await conn.execute(f"CREATE INDEX ON {WASH} (wallet_address)")
    await conn.execute(f"ALTER TABLE {CLOSES} ADD PRIMARY KEY (token_id)")
    await conn.execute(
        "INSERT INTO orderflow_reputation_state (id, valid, fingerprint, as_of, updated_at)"
        " VALUES (TRUE, TRUE, $1, $2, now())"
        " ON CONFLICT (id) DO UPDATE SET valid = TRUE, fingerprint = $1, as_of = $2,"
        " updated_at = now()",
        fingerprint(settings),
        as_of,
    )
    # The counterparty evidence's partial sums are not built here: the first incremental run
    # finds them stale and builds them after its WASH (≈ 3 x WASH on real-like data, ≈ 60 s at
    # 1 M benchmark wallets: a full recompute does not pay for what only incremental runs read).


async def mirror(conn: asyncpg.Connection) -> None:
    """After an incremental run's upsert: the stored score, tier and flags kept beside the
    inputs of the wallets it gave the upsert (``rep_scores``' rows; any other wallet's row was
    not written). Every stored row then has them as written, which is what the next run's
    population step compares its scores with (:data:`scores_sql.MIRROR`). Only a live run
    writes a score, tier or flags, and an ``--as-of`` run makes the next one full
    (:func:`invalidate`), which keeps them afresh (:func:`save`)."""
    columns = ", ".join(scores_sql.MIRROR_COLUMNS)
    await conn.execute(
        f"""UPDATE {INPUTS} i
               SET ({columns}) = (SELECT {columns} FROM (SELECT {scores_sql.MIRROR}) m)
              FROM rep_scores s, orderflow_wallet_stats ws
             WHERE s.idx = i.idx AND ws.wallet_address = i.wallet_address"""
    )


async def _wash(conn: asyncpg.Connection, as_of: datetime, settings: ReputationSettings) -> None:
    """The stored counterparty evidence (:data:`WASH`) brought up to date: from the stored
    partial sums updated around the changed fills (:mod:`orderflow.reputation.wash_state`; the
    share volumes of the claimed wallets from their position sums, the others' as stored), only
    the rows of the wallets that can have changed (``rep_wash_c``) assembled; or, when those
    sums are missing or stale or the change is large (``wash_state.REBUILD_SHARE``), ``WASH``
    over the trades, reading only the share volume of ``rep_positions`` (a thin stand-in from
    the sums: every wallet's), then the sums are rebuilt for the next run.
    ``rep_wash_changed``: wallets whose row differs from the stored one; the stored rows are
    replaced. ``rep_wash`` is then made again for the rescored wallets alone (:func:`_rows_of`)."""
    claimed = "SELECT wallet_address FROM rep_dirty_keys"  # only their share volumes can move
    if await wash_state.update(conn, as_of, settings, claimed):
        await wash_assemble.assemble(conn, as_of, settings, stored=WASH, others=False)
        old = f"SELECT s.* FROM {WASH} s JOIN rep_wash_c c ON c.w = s.wallet_address"
    else:
        await conn.execute(
            "CREATE TEMP TABLE rep_positions ON COMMIT DROP AS " + wash_tot.THIN.format(only="")
        )
        await wash_state.begin(conn)
        await conn.execute(ev.WASH, as_of, *wash_settings(settings))
        await wash_state.build(conn, as_of, settings)
        await conn.execute("DROP TABLE rep_positions")
        old = f"SELECT * FROM {WASH}"
    await conn.execute(
        f"""CREATE TEMP TABLE rep_wash_changed ON COMMIT DROP AS
            SELECT DISTINCT wallet_address
              FROM ((SELECT * FROM rep_wash EXCEPT ALL {old})
                    UNION ALL
                    ({old} EXCEPT ALL SELECT * FROM rep_wash)) AS d"""
    )
    await conn.execute(
        f"DELETE FROM {WASH} o USING rep_wash_changed c WHERE c.wallet_address = o.wallet_address"
    )
    await conn.execute(
        f"""INSERT INTO {WASH} SELECT n.* FROM rep_wash n
             WHERE n.wallet_address IN (SELECT wallet_address FROM rep_wash_changed)"""
    )
    await conn.execute("DROP TABLE rep_wash")


async def _rows_of(conn: asyncpg.Connection) -> None:
    """``rep_wash`` for the wallets statement: the stored rows (current since :func:`_wash`) of
    the wallets it rescores (``rep_dirty_wallets``; it reads only their own rows)."""
    await conn.execute(
        f"""CREATE TEMP TABLE rep_wash ON COMMIT DROP AS
            SELECT s.* FROM {WASH} s
              JOIN rep_dirty_wallets d ON d.wallet_address = s.wallet_address"""
    )


# A dirty token's stored closing line and mark (NULLs: none) against the new ones.
_LINES = f"""
SELECT t.token_id, n.mark_price AS new_mark, o.mark_price AS old_mark,
       (n.close_price, n.close_at, n.prev_price) IS DISTINCT FROM
       (o.close_price, o.close_at, o.prev_price) AS line_moved
  FROM rep_dirty_tokens t
  LEFT JOIN rep_close n ON n.token_id = t.token_id
  LEFT JOIN {CLOSES} o ON o.token_id = t.token_id
"""

# Holders of a token whose mark alone moved: the mark is read by one thing in ``WALLETS``, the
# unrealized P&L (``held x mark`` in micro-units per open position, an exact integer sum per
# wallet), so their stored row moves by the integer difference, computed with WALLETS' own
# expression from the positions of the dirty tokens (all loaded). Wallets rescored anyway are
# left to the rescoring.
_MARK_DELTA = """
CREATE TEMP TABLE rep_mark_delta ON COMMIT DROP AS
SELECT p.wallet_address,
       sum((p.held_u * coalesce(m.new_mark, 0))::int8
           - (p.held_u * coalesce(m.old_mark, 0))::int8) AS delta
  FROM rep_positions p
  JOIN rep_token_moves m ON m.token_id = p.token_id AND NOT m.line_moved
 WHERE NOT p.resolved AND p.held_u > 0
 GROUP BY p.wallet_address
"""

_APPLY_MARKS = f"""
UPDATE {INPUTS} i
   SET unrealized_u = i.unrealized_u + d.delta,
       unrealized_pnl = (i.unrealized_u + d.delta) / 1000000
  FROM rep_mark_delta d
 WHERE d.wallet_address = i.wallet_address AND d.delta <> 0
   AND NOT EXISTS (SELECT 1 FROM rep_dirty_wallets w WHERE w.wallet_address = d.wallet_address)
"""


async def _moves(conn: asyncpg.Connection) -> None:
    """Before the dirty tokens' stored lines are replaced: ``rep_moved_tokens`` (closing line
    moved: every holder is rescored) and ``rep_mark_delta`` (mark alone moved: see above)."""
    await conn.execute(f"CREATE TEMP TABLE rep_token_moves ON COMMIT DROP AS {_LINES}")
    await conn.execute(
        """CREATE TEMP TABLE rep_moved_tokens ON COMMIT DROP AS
           SELECT token_id FROM rep_token_moves WHERE line_moved"""
    )
    await conn.execute(_MARK_DELTA)


async def _replace_inputs(conn: asyncpg.Connection) -> None:
    """The dirty wallets' stored inputs replaced by their new ``rep_wallets`` rows (then
    dropped). A wallet keeps its ``idx`` and its stored row's score, tier and flags; a new one
    gets the next free ``idx`` (after every one ever handed out: none is reused in a run) and
    none (NaN, -1, 0: no stored row)."""
    inputs = await conn.fetch(
        "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0"
        " AND NOT attisdropped ORDER BY attnum",
        INPUTS,
    )
    kept = ("idx", *scores_sql.MIRROR_COLUMNS)
    names = ", ".join(json.dumps(r["attname"]) for r in inputs if r["attname"] not in kept)
    first_new = await conn.fetchval(f"SELECT coalesce(max(idx), -1) + 1 FROM {INPUTS}")
    await conn.execute(
        f"""CREATE TEMP TABLE rep_kept ON COMMIT DROP AS
            WITH d AS (DELETE FROM {INPUTS} i USING rep_dirty_wallets d
                        WHERE d.wallet_address = i.wallet_address
                    RETURNING i.wallet_address, i.idx, {", ".join(f"i.{c}" for c in kept[1:])})
            SELECT * FROM d"""
    )
    await conn.execute(
        f"""INSERT INTO {INPUTS} ({names}, {", ".join(kept)})
            SELECT {
            ", ".join(f"n.{json.dumps(r['attname'])}" for r in inputs if r["attname"] not in kept)
        },
                   coalesce(k.idx, $1 + (row_number() OVER (PARTITION BY k.idx IS NULL
                                                            ORDER BY n.wallet_address))::int - 1),
                   coalesce(k.stored_score, 'NaN'), coalesce(k.stored_tier, -1),
                   coalesce(k.stored_flags, 0)
              FROM rep_wallets n LEFT JOIN rep_kept k ON k.wallet_address = n.wallet_address""",
        first_new,
    )
    await conn.execute("DROP TABLE rep_wallets")


async def build(
    conn: asyncpg.Connection, as_of: datetime, settings: ReputationSettings
) -> tuple[int, dict[str, float]]:
    """``rep_positions`` (dirty wallets), ``rep_close``, ``rep_wash``, the stored inputs of
    every wallet brought up to date; returns the number of wallets rescored and stage times.
    The caller then scores the stored inputs (:data:`INPUTS`) as after a full build."""
    stages: dict[str, float] = {}
    last = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal last
        now = time.perf_counter()
        stages[name] = round(now - last, 3)
        last = now

    await _claim(conn, as_of)
    lap("changes")
    await _wash(conn, as_of, settings)
    lap("counterparties")
    # the closing lines and marks of the changed tokens, over all their positions (the columns
    # those statements read)
    await conn.execute(
        positions_sql.positions(
            stored=True, only="a.token_id IN (SELECT token_id FROM rep_dirty_tokens)", light=True
        ),
        as_of,
    )
    await conn.execute(positions_sql.ANALYZE_LIGHT)
    await conn.execute(ev.CLOSES, as_of, settings.clv_horizon)
    # their problems: rep_positions holds exactly the changed tokens' positions, so the run's
    # own ISSUES statement rewrites theirs and no other token's
    await conn.execute(
        "DELETE FROM orderflow_reputation_issues i USING rep_dirty_tokens t"
        " WHERE i.token_id = t.token_id"
    )
    await conn.execute(persist_sql.ISSUES, as_of, as_of)
    await _moves(conn)
    await conn.execute(
        f"DELETE FROM {CLOSES} c USING rep_dirty_tokens t WHERE t.token_id = c.token_id"
    )
    await conn.execute(f"INSERT INTO {CLOSES} SELECT * FROM rep_close")
    await conn.execute("DROP TABLE rep_close")
    lap("closes")
    await conn.execute(
        """CREATE TEMP TABLE rep_dirty_wallets ON COMMIT DROP AS
           SELECT wallet_address FROM rep_dirty_keys
           UNION SELECT s.wallet_address FROM orderflow_position_sums s
                  JOIN (SELECT token_id FROM rep_moved_tokens
                        UNION SELECT token_id FROM rep_marked_tokens) t
                    ON t.token_id = s.token_id
           UNION SELECT wallet_address FROM rep_wash_changed"""
    )
    await conn.execute("ALTER TABLE rep_dirty_wallets ADD PRIMARY KEY (wallet_address)")
    await conn.execute("ANALYZE rep_dirty_wallets")
    await conn.execute(_APPLY_MARKS)
    await _rows_of(conn)
    # the dirty wallets' positions, every column
    await conn.execute("DROP TABLE rep_positions")
    await conn.execute(
        positions_sql.positions(
            stored=True, only="a.wallet_address IN (SELECT wallet_address FROM rep_dirty_wallets)"
        ),
        as_of,
    )
    await conn.execute(positions_sql.ANALYZE)
    await conn.execute(
        f"""CREATE TEMP TABLE rep_close ON COMMIT DROP AS
            SELECT c.* FROM {CLOSES} c
             WHERE c.token_id IN (SELECT token_id FROM rep_positions)"""
    )
    await conn.execute("ANALYZE rep_close")
    lap("positions")
    await conn.execute(ev.WALLETS)
    rescored = await conn.fetchval("SELECT count(*) FROM rep_wallets")
    await _replace_inputs(conn)
    # the wallets whose inputs changed (rescored, or a mark moved their unrealized P&L) and
    # those whose stored row something else wrote: the population step sends them back
    # whatever their score (population_step._may_change)
    await conn.execute(
        """CREATE TEMP TABLE rep_changed ON COMMIT DROP AS
           SELECT wallet_address FROM rep_dirty_wallets
           UNION SELECT wallet_address FROM rep_mark_delta WHERE delta <> 0
           UNION SELECT wallet_address FROM rep_touched"""
    )
    await conn.execute("ANALYZE rep_changed")
    # keys left without fills (a reorg took them all): only a change makes one, so it is among
    # the keys this run claimed (one still marked changed again since, and waits for the next)
    await conn.execute(
        """DELETE FROM orderflow_position_sums s USING rep_dirty_keys k
            WHERE s.wallet_address = k.wallet_address AND s.token_id = k.token_id
              AND s.fills = 0 AND NOT s.dirty"""
    )
    await conn.execute(
        "UPDATE orderflow_reputation_state SET as_of = $1, updated_at = now()", as_of
    )
    lap("wallets")
    return int(rescored), stages
