"""The changes an incremental reputation run takes, and what a live full run clears.

Writers log what they change (:mod:`orderflow.reputation.sums_sql`: the keys whose position sums
changed, migration 030; the markets, tokens and wallets marked by migrations 027 and 064); an
incremental run takes them into temp tables (:func:`claim_changes`), a live full run takes and
drops them before it reads (:func:`clear`). Both leave the keys of fills stamped after the run's
cut-off logged for the next run (:func:`keep_later`). Whether the next run must be a full one
(the logs overflowed, a partition came back, a large change) is read here too. The run that
uses them: :mod:`orderflow.reputation.incremental`.
"""

from __future__ import annotations

import math
from datetime import datetime

import asyncpg

from orderflow.reputation import wash_parts, wash_state
from orderflow.reputation.stored_inputs import INPUTS
from orderflow.reputation.sums_sql import CHANGES, KEEP_LATER, TAKE_CHANGES

# The tokens with a position whose fills name a dirty market. The counterparty state's map of
# market keys to tokens (orderflow_wash_tokens, by its key: a probe per market) has every token
# with a fill up to its last id, under each market its fills name, when it is current (valid:
# the last run was an incremental one, which updated or rebuilt it; a full or --as-of run
# leaves it invalid); a key with a newer fill is among this run's claimed keys, whose tokens'
# lines are recomputed and whose wallets are rescored; otherwise every key's market in the sums
# is read (a scan: 2.4-3.2 s of an hourly run at 1 M wallets, docs/benchmarks.md).
_MAP_CURRENT = "SELECT coalesce((SELECT valid FROM orderflow_wash_state), FALSE)"
_BY_MARKET_MAP = """SELECT w.token_id FROM orderflow_wash_tokens w
                     JOIN rep_dirty_markets m ON m.market_id = w.mk"""
_BY_MARKET_SCAN = """SELECT s.token_id FROM orderflow_position_sums s
                      JOIN rep_dirty_markets m ON m.market_id = s.trade_market_id"""


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
    by_market = _BY_MARKET_MAP if await conn.fetchval(_MAP_CURRENT) else _BY_MARKET_SCAN
    await conn.execute(
        f"""CREATE TEMP TABLE rep_marked_tokens ON COMMIT DROP AS
            WITH d AS (DELETE FROM orderflow_reputation_dirty_tokens RETURNING token_id)
            SELECT token_id FROM d
            UNION {by_market}
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
