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
   (:mod:`orderflow.reputation.changes`);
2. brings the counterparty evidence's partial sums up to date around the changed fills and
   assembles the rows of the wallets whose evidence can have changed (``WASH``'s rows to the
   bit; ``WASH`` itself over the trades when the sums are stale), and adds the wallets whose
   evidence changed; the COPIER evidence's cells are updated around the same changed trades
   (``rep_copy``, :mod:`orderflow.reputation.copy_state`; rebuilt with the counterparty sums);
3. dirty wallets = wallets of dirty rows + every holder of a dirty token whose resolution,
   closing line or problem moved + wallets whose wash evidence changed; the holders of a token
   whose mark alone moved are not rescored and none of their rows is written: the one figure
   the mark feeds, the unrealized P&L, is computed when read from the stored marks and open
   positions (migration 098, :mod:`orderflow.reputation.unrealized`, kept after the upsert);
4. loads every position in the changed tokens (a closing line is the token's, over all its
   holders; only the columns the closing lines, problems and marks read), builds the closing
   lines, then loads the dirty wallets' positions and computes their ``rep_wallets`` rows;
5. replaces their stored inputs; the caller scores the whole population from the stored inputs
   as they stand (the empirical-Bayes prior and the false-discovery control are
   population-wide) and gives the upsert only the rows that may change.

Equality with a full recompute is tested in ``tests/reputation/test_incremental_run.py``.
"""

from __future__ import annotations

import time
from datetime import datetime

import asyncpg

from orderflow.reputation import (
    copy_state,
    detached_lines,
    detached_void,
    line_sql,
    persist_sql,
    positions_sql,
    stored_inputs,
    wash_assemble,
    wash_sql,
    wash_state,
    wash_tot,
)
from orderflow.reputation import evidence_sql as ev
from orderflow.reputation.changes import claim_changes
from orderflow.reputation.detached_lines import CLOSES
from orderflow.reputation.gate import GATED_TRADES
from orderflow.reputation.probe import among
from orderflow.reputation.settings import ReputationSettings
from orderflow.reputation.stored_inputs import WASH
from orderflow.reputation.sums_sql import CHANGES
from orderflow.reputation.wash_sql import wash_settings


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
        await conn.execute(wash_sql.WASH, as_of, *wash_settings(settings))
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
    # the wallets whose wash host moved: the lines of their markets' tokens can move (line_sql
    # leaves out the matches inside one wash group), so those tokens are recomputed (_regrouped)
    await conn.execute(
        f"""CREATE TEMP TABLE rep_host_moved ON COMMIT DROP AS
            SELECT c.wallet_address FROM rep_wash_changed c
             WHERE (SELECT n.host FROM rep_wash n
                     WHERE n.wallet_address = c.wallet_address AND n.token_id IS NULL)
                   IS DISTINCT FROM
                   (SELECT o.host FROM {WASH} o
                     WHERE o.wallet_address = c.wallet_address AND o.token_id IS NULL)"""
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


async def _regrouped(conn: asyncpg.Connection, as_of: datetime) -> None:
    """Adds to ``rep_dirty_tokens`` the tokens of every transaction in which a wallet whose wash
    host moved (``rep_host_moved``) has a fill: a match it made there can have entered or left a
    wash group, so the token's line can move (line_sql; the maker rows of its matches are in
    its transactions, in its token or the complement)."""
    await conn.execute(
        f"""INSERT INTO rep_dirty_tokens
            SELECT DISTINCT x.token_id
              FROM ({GATED_TRADES}) t
              JOIN rep_host_moved h ON h.wallet_address = t.wallet_address
              JOIN ({GATED_TRADES}) x ON x.chain_id = t.chain_id AND x.tx_hash = t.tx_hash
             WHERE NOT EXISTS (SELECT 1 FROM rep_dirty_tokens d WHERE d.token_id = x.token_id)""",
        as_of,
    )
    await conn.execute("ANALYZE rep_dirty_tokens")


async def _rows_of(conn: asyncpg.Connection) -> None:
    """``rep_wash`` for the wallets statement: the stored rows (current since :func:`_wash`) of
    the wallets it rescores (``rep_dirty_wallets``; it reads only their own rows)."""
    await conn.execute(
        f"""CREATE TEMP TABLE rep_wash ON COMMIT DROP AS
            SELECT s.* FROM {WASH} s
              JOIN rep_dirty_wallets d ON d.wallet_address = s.wallet_address"""
    )


# A dirty token's stored closing line against the new one (NULLs: none). Its mark is read by
# one thing in ``WALLETS``, the unrealized P&L, which readers compute from the stored marks and
# open positions (migration 098, orderflow.reputation.unrealized): a mark that alone moved
# rescores no holder and writes none of their rows.
_LINES = f"""
SELECT t.token_id,
       (n.close_price, n.close_at, n.prev_price) IS DISTINCT FROM
       (o.close_price, o.close_at, o.prev_price) AS line_moved
  FROM rep_dirty_tokens t
  LEFT JOIN rep_close n ON n.token_id = t.token_id
  LEFT JOIN {CLOSES} o ON o.token_id = t.token_id
"""


async def _moves(conn: asyncpg.Connection) -> None:
    """Before the dirty tokens' stored lines are replaced: ``rep_moved_tokens`` (closing line
    moved: every holder is rescored)."""
    await conn.execute(
        f"""CREATE TEMP TABLE rep_moved_tokens ON COMMIT DROP AS
            SELECT token_id FROM ({_LINES}) m WHERE m.line_moved"""
    )


# The wallets of the claimed keys that have no position (no fill left; rep_positions: the
# rescored wallets' positions, every key with fills).
_EMPTIED = """SELECT k.wallet_address FROM rep_dirty_keys k
 WHERE NOT EXISTS (SELECT 1 FROM rep_positions p
                    WHERE p.wallet_address = k.wallet_address AND p.token_id = k.token_id)"""

# The wallets rescored: those of the claimed keys, every holder of a token whose closing line
# moved or that was marked (the sums read by their token index: orderflow.reputation.probe),
# those whose counterparty evidence changed.
_HOLDERS = among(
    "s.token_id",
    "SELECT token_id FROM rep_moved_tokens UNION SELECT token_id FROM rep_marked_tokens",
)
DIRTY_WALLETS = f"""
CREATE TEMP TABLE rep_dirty_wallets ON COMMIT DROP AS
SELECT wallet_address FROM rep_dirty_keys
UNION SELECT s.wallet_address FROM orderflow_position_sums s WHERE {_HOLDERS}
UNION SELECT wallet_address FROM rep_wash_changed
"""


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
    await _regrouped(conn, as_of)
    await line_sql.keep_hosts(conn, WASH)  # the current hosts, which the lines leave out
    # the closing lines and marks of the changed tokens, over all their positions (the columns
    # those statements read; by the sums' token index: orderflow.reputation.probe)
    await conn.execute(
        positions_sql.positions(
            stored=True,
            only=among("a.token_id", "SELECT token_id FROM rep_dirty_tokens"),
            light=True,
        ),
        as_of,
    )
    await conn.execute(positions_sql.ANALYZE_LIGHT)
    await conn.execute(ev.CLOSES, as_of, settings.clv_horizon)
    # a line whose fills were detached: the stored one; a mark: the kept one
    await detached_lines.keep(
        conn, as_of, only=among("s.token_id", "SELECT token_id FROM rep_dirty_tokens")
    )
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
    await conn.execute(DIRTY_WALLETS)
    await conn.execute("ALTER TABLE rep_dirty_wallets ADD PRIMARY KEY (wallet_address)")
    await conn.execute("ANALYZE rep_dirty_wallets")
    await _rows_of(conn)
    # the dirty wallets' positions, every column (by the sums' primary key)
    await conn.execute("DROP TABLE rep_positions")
    await conn.execute(
        positions_sql.positions(
            stored=True,
            only=among("a.wallet_address", "SELECT wallet_address FROM rep_dirty_wallets"),
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
    # the wallets whose inputs changed (rescored) and those whose stored row something else
    # wrote: the population step sends them back whatever their score
    # (population_step._may_change)
    await conn.execute(
        """CREATE TEMP TABLE rep_changed ON COMMIT DROP AS
           SELECT wallet_address FROM rep_dirty_wallets
           UNION SELECT wallet_address FROM rep_touched"""
    )
    await conn.execute("ANALYZE rep_changed")
    # keys left without fills (a reorg took them all): only a change makes one, so it is among
    # the keys this run claimed (one still marked changed again since, and waits for the next);
    # read at the wallets of the claimed keys the positions left out (fills = 0 when read; one
    # whose fills changed since is marked again), by the primary key
    await conn.execute(
        f"""DELETE FROM orderflow_position_sums s USING rep_dirty_keys k
             WHERE {among("s.wallet_address", _EMPTIED)}
               AND s.wallet_address = k.wallet_address AND s.token_id = k.token_id
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
