"""What a live full run keeps for the incremental runs after it, and how those runs keep it.

* ``orderflow_reputation_inputs`` (:data:`INPUTS`) -- every wallet's row of ``rep_wallets`` (the
  per-wallet statistics and evidence sums the population step reads) and its ``idx``;
* ``orderflow_reputation_standing`` (:data:`STANDING`) -- by ``idx``, each wallet's standing
  (the own figures the population step judges every wallet by:
  :mod:`orderflow.reputation.standing`) and a copy of its stored row's score, tier and flags
  (``stored_score``, ``stored_tier``, ``stored_flags``: what the population step compares its
  scores with, set after every upsert: :func:`mirror`);
* ``orderflow_reputation_wash`` (:data:`WASH`) -- ``rep_wash`` (the counterparty evidence);
* ``orderflow_reputation_closes`` (:data:`CLOSES`) -- ``rep_close`` (closing lines and marks);
* ``orderflow_reputation_void`` (:data:`orderflow.reputation.detached_void.VOIDS`) -- ``rep_void``
  with each key's fill count and resolution time (what a run reads for fills since detached);
* ``orderflow_reputation_state`` -- a fingerprint of the SQL, code and settings that made them.

The tables are created by the run from its temporary tables (``CREATE TABLE ... AS``), so they
always have the columns the current SQL produces; the fingerprint says whether they are usable.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from datetime import datetime
from pathlib import Path

import asyncpg
import numpy as np

from orderflow.reputation import (
    binary_copy,
    copy_sql,
    detached_void,
    factors,
    flags,
    gate,
    line_sql,
    mixture,
    persist_sql,
    population_step,
    positions_sql,
    prior,
    scores_sql,
    standing,
    tiers,
    unrealized,
    wallet_inputs,
    wash_sql,
    wash_state,
)
from orderflow.reputation import evidence_sql as ev
from orderflow.reputation.detached_lines import CLOSES
from orderflow.reputation.detached_lines import KEEP as KEEP_DETACHED_LINES
from orderflow.reputation.detached_lines import MARKS as KEEP_DETACHED_MARKS
from orderflow.reputation.detached_lines import REMEMBER as REMEMBER_DETACHED_MARKS
from orderflow.reputation.settings import ReputationSettings
from orderflow.reputation.wallet_inputs import WalletInputs

INPUTS = "orderflow_reputation_inputs"
STANDING = scores_sql.STANDING
WASH = "orderflow_reputation_wash"


# The code that turns a wallet's inputs into the figures its row stores. An incremental run
# writes only the rows whose inputs changed or whose score, tier or flags moved (the
# population step, orderflow.reputation.population_step), trusting every other row to hold
# what this code makes of its unchanged inputs: a change of this code (or of numpy, whose
# loops compute the figures) must make the next run a full one. Every module of the package
# these import is here (tests/reputation/test_scoring_fingerprint.py), but the settings, whose
# values are.
_SCORING_CODE = (
    binary_copy,
    copy_sql,
    factors,
    flags,
    gate,
    line_sql,
    mixture,
    population_step,
    prior,
    scores_sql,
    standing,
    tiers,
    wallet_inputs,
)


# Settings of how a run is carried out, not of what it computes: changing one keeps the stored
# inputs valid (tests/reputation/test_scoring_fingerprint.py). Not work_mem nor
# parallel_workers: a plan they change may add floating-point figures in another order.
_RUN_ONLY = {"calculation_interval_secs", "second_connection", "incremental_max_share"}


def fingerprint(settings: ReputationSettings) -> str:
    """What the stored inputs and the rows an incremental run leaves alone depend on besides
    the data: the SQL, the scoring code, numpy's version and the settings."""
    digest = hashlib.sha256()
    for text in (
        positions_sql.positions(stored=True),
        ev.CLOSES,
        KEEP_DETACHED_LINES,
        KEEP_DETACHED_MARKS,
        REMEMBER_DETACHED_MARKS,
        wash_sql.WASH,
        ev.VOID,
        detached_void.KEEP,
        ev.WALLETS,
        persist_sql.UPSERT_STATS,
        unrealized.OPEN_ROWS,
        settings.model_dump_json(exclude=_RUN_ONLY),
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


# The score, tier and flags of the rows a run gave its upsert, as its stored rows now hold them
# (after the upsert a row given to it holds rep_final's, which are rep_scores'), under the names
# scores_sql.MIRROR reads: no read of orderflow_wallet_stats.
_WRITTEN = "(SELECT idx, score AS reputation_score, tier AS trader_tier, flags FROM rep_scores)"


async def save(conn: asyncpg.Connection, settings: ReputationSettings, as_of: datetime) -> None:
    """After a live full run (which called :func:`clear` before reading) has written its rows
    (it gave the upsert every wallet): keep ``rep_wallets``, the standings (``rep_standing``,
    with each wallet's stored score, tier and flags: :func:`mirror`), ``rep_wash`` and
    ``rep_close`` for the next runs."""
    for table in (INPUTS, STANDING, WASH, CLOSES):
        await conn.execute(f"DROP TABLE IF EXISTS {table}")
    rows = "SELECT w.* FROM rep_wallets w"
    await conn.execute(f"CREATE TABLE {INPUTS} AS {rows} WITH NO DATA")
    # the factor inputs packed as the population step reads them, kept by every write of a row
    await conn.execute(
        f"ALTER TABLE {INPUTS} ADD COLUMN {scores_sql.PACKED_COLUMN} bytea GENERATED ALWAYS AS"
        f" ({scores_sql.packed_expression(WalletInputs.columns())}) STORED"
    )
    # (no unrealized P&L: read from the open positions and the marks, migration 098, which a
    # mark that moves changes without rescoring the holders; WALLETS does not compute it)
    await conn.execute(f"INSERT INTO {INPUTS} {rows}")
    await conn.execute(
        f"""CREATE TABLE {STANDING} AS
            SELECT n.idx, n.standing, {scores_sql.MIRROR}
              FROM rep_standing n LEFT JOIN {_WRITTEN} ws ON ws.idx = n.idx"""
    )
    await conn.execute(f"ALTER TABLE {STANDING} ADD PRIMARY KEY (idx)")
    await conn.execute(f"CREATE TABLE {WASH} AS SELECT * FROM rep_wash")
    await conn.execute(f"CREATE TABLE {CLOSES} AS SELECT * FROM rep_close")
    await detached_void.save(conn)
    # idx: a wallet keeps its place; an incremental run scores this table as it stands
    await conn.execute(f"ALTER TABLE {INPUTS} ADD PRIMARY KEY (wallet_address)")
    await conn.execute(f"CREATE UNIQUE INDEX ON {INPUTS} (idx)")
    # the few wallets with a wash host, which the population step joins apart (not a scan of
    # every row: scores_sql.inputs_copy)
    await conn.execute(
        f"CREATE INDEX ON {INPUTS} (wash_host_address) WHERE wash_host_address IS NOT NULL"
    )
    # the columns statements join it on (every other column is read whole, never filtered)
    await conn.execute(f"ANALYZE {INPUTS} (wallet_address, idx, wash_host_address)")
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
    standings of the wallets it gave the upsert (``rep_scores``' rows; any other wallet's row was
    not written). Every stored row then has them as written, which is what the next run's
    population step compares its scores with (:data:`scores_sql.MIRROR`). Only a live run
    writes a score, tier or flags, and an ``--as-of`` run makes the next one full
    (:func:`invalidate`), which keeps them afresh (:func:`save`).
    Only the copies that moved are written: most rows given to the upsert keep their score,
    tier and flags (a rescoring left their score), and an
    UPDATE rewrites a row even to the values it holds."""
    columns = ", ".join(scores_sql.MIRROR_COLUMNS)
    new = ", ".join(f"m.{c}" for c in scores_sql.MIRROR_COLUMNS)
    old = ", ".join(f"i.{c}" for c in scores_sql.MIRROR_COLUMNS)
    await conn.execute(
        f"""UPDATE {STANDING} i SET ({columns}) = ({new})
              FROM (SELECT ws.idx, {scores_sql.MIRROR} FROM {_WRITTEN} ws) m
             WHERE m.idx = i.idx AND ({old}) IS DISTINCT FROM ({new})"""
    )


async def replace(conn: asyncpg.Connection) -> None:
    """The dirty wallets' stored inputs replaced by their new ``rep_wallets`` rows (then
    dropped). A wallet keeps its ``idx`` (and its standing's copy of its stored row's score,
    tier and flags; the population step computes its standing again); a new one gets the next
    free ``idx`` (after every one ever handed out: none is reused in a run). A wallet left
    without inputs loses its standing."""
    inputs = await conn.fetch(
        "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0"
        " AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
        INPUTS,
    )
    columns = [json.dumps(r["attname"]) for r in inputs if r["attname"] != "idx"]
    first_new = await conn.fetchval(f"SELECT coalesce(max(idx), -1) + 1 FROM {INPUTS}")
    await conn.execute(
        f"""CREATE TEMP TABLE rep_kept ON COMMIT DROP AS
            WITH d AS (DELETE FROM {INPUTS} i USING rep_dirty_wallets d
                        WHERE d.wallet_address = i.wallet_address
                    RETURNING i.wallet_address, i.idx)
            SELECT * FROM d"""
    )
    await conn.execute(
        f"""INSERT INTO {INPUTS} ({", ".join(columns)}, idx)
            SELECT {", ".join(f"n.{c}" for c in columns)},
                   coalesce(k.idx, $1 + (row_number() OVER (PARTITION BY k.idx IS NULL
                                                            ORDER BY n.wallet_address))::int - 1)
              FROM rep_wallets n LEFT JOIN rep_kept k ON k.wallet_address = n.wallet_address""",
        first_new,
    )
    await conn.execute(
        f"""DELETE FROM {STANDING} s USING rep_kept k
             WHERE s.idx = k.idx
               AND NOT EXISTS (SELECT 1 FROM rep_wallets n
                                WHERE n.wallet_address = k.wallet_address)"""
    )
    await conn.execute("DROP TABLE rep_wallets")
