"""The incremental run: rescore only the wallets whose statistics can have changed.

A live full run (positions from the stored sums, migration 011) keeps what the next run needs
(:mod:`orderflow.reputation.stored_inputs`: every wallet's inputs, the counterparty evidence and
the closing lines, with a fingerprint), and the counterparty evidence's exact partial sums are
kept beside them (migration 023, :mod:`orderflow.reputation.wash_state`, with their own
fingerprint). An incremental run then, in the caller's transaction:

1. takes the changes: the keys whose sums the triggers changed (new, deleted, updated fills;
   the log of migration 030, taken without locking anything a writer needs), the
   markets / tokens whose resolution, condition or registry row changed, and the wallets whose
   stored score, tier or flags something else wrote (migration 027); the keys of fills stamped
   after the cut-off (stored since the run checked for them) stay logged for the next run
   (:func:`keep_later`);
2. brings the counterparty evidence's partial sums up to date around the changed fills and
   assembles the rows of the wallets whose evidence can have changed (``WASH``'s rows to the
   bit; ``WASH`` itself over the trades when the sums are stale), and adds the wallets whose
   evidence changed; the COPIER evidence's cells are updated around the same changed trades
   (``rep_copy``, :mod:`orderflow.reputation.copy_state`; rebuilt with the counterparty sums);
3. dirty wallets = wallets of dirty rows + every holder of a dirty token whose resolution,
   closing line or problem moved + wallets whose wash evidence changed; the holders of a token
   whose mark alone moved are not rescored: their stored unrealized P&L (the one figure the mark
   feeds) moves by the exact micro-unit difference;
4. loads every position in the changed tokens (a closing line is the token's, over all its
   holders; only the columns the closing lines, problems and marks read), builds the closing
   lines, then loads the dirty wallets' positions and computes their ``rep_wallets`` rows;
5. replaces their stored inputs; the caller scores the whole population from the stored inputs
   as they stand (the empirical-Bayes prior and the false-discovery control are
   population-wide) and gives the upsert only the rows that may change.

Equality with a full recompute is tested in ``tests/reputation/test_incremental_run.py``.
"""

from __future__ import annotations

import math
import time
from datetime import datetime

import asyncpg

from orderflow.reputation import (
    copy_state,
    detached_lines,
    detached_void,
    persist_sql,
    positions_sql,
    stored_inputs,
    wash_assemble,
    wash_parts,
    wash_state,
    wash_tot,
)
from orderflow.reputation import evidence_sql as ev
from orderflow.reputation.settings import ReputationSettings
from orderflow.reputation.stored_inputs import CLOSES, INPUTS, WASH
from orderflow.reputation.sums_sql import CHANGES, KEEP_LATER, TAKE_CHANGES
from orderflow.reputation.wash_sql import wash_settings


async def claim_changes(conn: asyncpg.Connection, as_of: datetime) -> None:
    """Take the changes since the last run into temp tables: the marks' rows are deleted in
    this transaction (one logged after this statement stays for the next run; a run that fails
    gives them back). No mark has a unique key (migration 030), so a writer marking a key, a
    market or a wallet meanwhile waits for nothing.
    A resolution stamped between the last run's cut-off and this one's counts as a change
    (stored before it was due, it becomes visible with time alone)."""
    await conn.execute(
        f"""CREATE TEMP TABLE rep_dirty_keys ON COMMIT DROP AS
            WITH d AS (DELETE FROM {CHANGES} RETURNING wallet_address, token_id)
            SELECT DISTINCT wallet_address, token_id FROM d"""
    )
    await keep_later(conn, as_of)
    # ... with every leg of a neg-risk event one of whose legs changed: a leg added to an event
    # changes what a complete set of it is (hedged_sql.HEDGED_CTES); a leg deleted no longer
    # joins here: its delete marked the legs still stored (migration 064)
    await conn.execute(
        """CREATE TEMP TABLE rep_dirty_markets ON COMMIT DROP AS
           WITH d AS (DELETE FROM orderflow_reputation_dirty_markets RETURNING market_id),
           m AS (SELECT market_id FROM d
                 UNION SELECT o.market_id FROM orderflow_market_outcomes o
                  WHERE o.resolved_at <= $1::timestamptz
                    AND o.resolved_at > (SELECT s.as_of FROM orderflow_reputation_state s))
           SELECT market_id FROM m
           UNION SELECT l.condition_id FROM m
                  JOIN orderflow_conditions c ON c.condition_id = m.market_id AND c.neg_risk
                  JOIN orderflow_conditions l
                    ON l.neg_risk AND left(l.question_id, 64) = left(c.question_id, 64)""",
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
           SELECT DISTINCT wallet_address FROM d"""
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


async def keep_later(conn: asyncpg.Connection, as_of: datetime) -> None:
    """After the changes are taken: the keys of fills stamped after the cut-off, stored since
    the run checked for them, stay logged for the next run (``sums_sql.KEEP_LATER``; the cells
    keep their buckets in ``orderflow_wash_dirty``). Recomputing a key again gives the same rows."""
    await conn.execute(KEEP_LATER, as_of)


async def changed_share(conn: asyncpg.Connection, max_share: float) -> float:
    """The share of the wallets scored last time (the stored inputs' rows) whose position sums
    changed since (fills new, deleted or updated), from the changed keys' partial index and
    counted only up to the first wallet past ``max_share`` (a bulk import's millions of changed
    keys are not all counted to learn that they are many). A lower bound of what the run would
    rescore: holders of a token whose resolution or closing line moved, and wallets whose
    counterparty evidence moved, come on top."""
    scored = await conn.fetchval(
        "SELECT reltuples::int8 FROM pg_class WHERE oid = $1::regclass", INPUTS
    )
    if scored is None or scored < 0:  # never analyzed
        scored = await conn.fetchval(f"SELECT count(*) FROM {INPUTS}")
    changed = await conn.fetchval(
        f"SELECT count(*) FROM (SELECT DISTINCT wallet_address FROM {CHANGES} LIMIT $1) AS d",
        math.floor(max_share * scored) + 1,
    )
    return float(changed / max(scored, 1))


# Whether the change logs passed their bound and were dropped since the last live full run
# (migration 057): the next live run is a full one, switched as for a large change.
OVERFLOWED = "SELECT coalesce((SELECT overflowed FROM orderflow_reputation_state), FALSE)"

# Every key left without fills (a reorg took them all), by a scan of the sums: after an overflow,
# when no log names them.
DROP_EMPTY_KEYS = "DELETE FROM orderflow_position_sums WHERE fills = 0"

# Whether a trades partition was attached again since the last live full run (migration 076, set
# by orderflow.chain.partitions.attach; by hand: wash_parts.came_back): the next live run is a
# full one. What the runs computed while it was detached from the attached fills alone -- the
# closing lines and marks of the tokens they touched, the voided fills of the wallets they
# rescored (detached_lines, detached_void keep only what a run computed before the detach) --
# is read from every fill again by a full run; an incremental run kept it for every token and
# wallet it did not touch (tests/reputation/test_incremental_property.py, seeds 4, 6, 9, 18).
REATTACHED = "SELECT coalesce((SELECT reattached FROM orderflow_reputation_state), FALSE)"
_TAKE_REATTACHED = "UPDATE orderflow_reputation_state SET reattached = FALSE WHERE reattached"


async def reattached(conn: asyncpg.Connection) -> bool:
    """Whether a partition came back since the last live full run (see ``REATTACHED``)."""
    return bool(await conn.fetchval(REATTACHED)) or await wash_parts.came_back(conn)


# The overflow taken (a full run is under way), TRUE if there was one.
_TAKE_OVERFLOW = """UPDATE orderflow_reputation_state SET overflowed = FALSE
                     WHERE overflowed RETURNING TRUE"""


async def clear(conn: asyncpg.Connection, as_of: datetime) -> None:
    """Before a live full run reads: every change so far is taken (the log's rows, deleted:
    no sums row is written, and a writer appending meanwhile waits for nothing); keys whose
    fills all went are dropped (every statement that takes a fill off a key logs it, and a run
    drops its claimed keys left empty: an empty key is a logged one, found from the log, not by
    a scan of every key; migration 053's function). After the logs were dropped past their
    bound (migration 057) no log names them: every empty key is dropped, by a scan of the sums
    (a full run reads them all anyway). The keys of fills stamped after ``as_of``, the run's
    cut-off, are logged again (:func:`keep_later`)."""
    await conn.execute(TAKE_CHANGES)
    await keep_later(conn, as_of)  # fills stamped after the cut-off: for the next run
    await conn.execute(_TAKE_REATTACHED)  # this run reads every fill attached now
    if await conn.fetchval(_TAKE_OVERFLOW):
        await conn.execute(DROP_EMPTY_KEYS)
    await conn.execute("DELETE FROM orderflow_reputation_dirty_markets")
    await conn.execute("DELETE FROM orderflow_reputation_dirty_tokens")
    await conn.execute("DELETE FROM orderflow_reputation_touched")  # every row is compared
    await wash_state.begin(conn)


async def _wash(conn: asyncpg.Connection, as_of: datetime, settings: ReputationSettings) -> bool:
    """The stored counterparty evidence (:data:`WASH`) brought up to date: from the stored
    partial sums updated around the changed fills (:mod:`orderflow.reputation.wash_state`; the
    share volumes of the claimed wallets from their position sums, the others' as stored), only
    the rows of the wallets that can have changed (``rep_wash_c``) assembled; or, when those
    sums are missing or stale or the change is large (``wash_state.REBUILD_SHARE``), ``WASH``
    over the trades, reading only the share volume of ``rep_positions`` (a thin stand-in from
    the sums: every wallet's), then the sums are rebuilt for the next run.
    ``rep_wash_changed``: wallets whose row differs from the stored one; the stored rows are
    replaced. ``rep_wash`` is then made again for the rescored wallets alone (:func:`_rows_of`).
    Whether the stored sums were updated (``rep_wash_keys``: the changed trades since)."""
    claimed = "SELECT wallet_address FROM rep_dirty_keys"  # only their share volumes can move
    updated = await wash_state.update(conn, as_of, settings, claimed)
    if updated:
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
    return updated


async def _copiers(
    conn: asyncpg.Connection,
    as_of: datetime,
    settings: ReputationSettings,
    since: int | None,
    updated: bool,
) -> str:
    """``rep_copy``: the stored COPIER cells updated around the trades the counterparty update
    took (``updated``; ``since``: the id its cells counted up to before), when they count up to
    the same id; else rebuilt over every taker buy (:mod:`orderflow.reputation.copy_state`)."""
    if updated and await copy_state.can_update(conn, settings, since):
        await copy_state.update(conn, as_of, settings)
        return "updated"
    await copy_state.build(conn, as_of, settings, keep=True)
    return "rebuilt"


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


async def build(
    conn: asyncpg.Connection, as_of: datetime, settings: ReputationSettings
) -> tuple[int, dict[str, float], str]:
    """``rep_positions`` (dirty wallets), ``rep_close``, ``rep_wash``, ``rep_copy``, the stored
    inputs of every wallet brought up to date; returns the number of wallets rescored, stage
    times and what became of the COPIER cells (``"updated"``, ``"rebuilt"``).
    The caller then scores the stored inputs (:data:`INPUTS`) as after a full build."""
    stages: dict[str, float] = {}
    last = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal last
        now = time.perf_counter()
        stages[name] = round(now - last, 3)
        last = now

    await claim_changes(conn, as_of)
    lap("changes")
    since = await copy_state.counted(conn)  # before the counterparty update moves it
    updated = await _wash(conn, as_of, settings)
    lap("counterparties")
    copiers = await _copiers(conn, as_of, settings, since, updated)
    lap("copiers")
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
    await detached_lines.keep(conn, as_of)  # a line whose fills were detached: the stored one
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
    await conn.execute(ev.VOID, as_of)  # the rescored wallets' fills that are no decision
    if await detached_void.keep(conn, as_of):  # ... those of detached fills, as stored
        await detached_void.replace(conn)
    lap("positions")
    await conn.execute(ev.WALLETS, settings.hedged_leg_window_secs, None)  # at the present
    rescored = await conn.fetchval("SELECT count(*) FROM rep_wallets")
    await stored_inputs.replace(conn)
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
        f"""DELETE FROM orderflow_position_sums s USING rep_dirty_keys k
             WHERE s.wallet_address = k.wallet_address AND s.token_id = k.token_id
               AND s.fills = 0
               AND NOT EXISTS (SELECT 1 FROM {CHANGES} c
                                WHERE c.wallet_address = k.wallet_address
                                  AND c.token_id = k.token_id)"""
    )
    await conn.execute(
        "UPDATE orderflow_reputation_state SET as_of = $1, updated_at = now()", as_of
    )
    lap("wallets")
    return int(rescored), stages, copiers
