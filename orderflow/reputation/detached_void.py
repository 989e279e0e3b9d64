"""The taker fills that are no decision (and the decisions after the close), of (wallet, token)
keys some of whose fills are no longer in ``orderflow_trades``.

``rep_void`` (:data:`orderflow.reputation.evidence_sql.VOID`: per key, the taker amounts of the
fills taken after the market's resolution or against the wallet's own orders, and those of the
decisions after the token's close) is read from the trades; the per-(wallet, token) sums
(migration 011) keep the positions of a partition detached for archiving. Computed again from
what is attached, a detached month's voided fills counted as decisions again: a wallet that
bought the winner from stale orders after the resolution read as an edge of +0.67 a dollar once
its month was detached (``tests/reputation/test_detach_void.py``).

So a live run keeps its ``rep_void`` rows (:data:`VOIDS`, with the key's fill count and
resolution time then), and a run at the present checks the stored rows of the keys it rescores:
when a key's fills in the sums outnumber its fills in the trades at the cut-off (some are
detached; a count of the key's fills, only for keys whose computed row is missing or below
the stored one in some amount: the sums only grow as fills come), the stored row stands in
for the computed one if the key's fills and resolution are as they were (exact: no fill came or
went since), else the greater of each amount (a lower bound: the stored row counts the detached
fills, the computed one the fills since; a key whose resolution moved takes the computed row).
A detach by hand is found the same way. An incremental run and a full run read the same stored
rows, so they agree.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from orderflow.db import table_exists
from orderflow.reputation.gate import GATED_TRADES

# The stored rows (kept by a live run: :func:`save`, :func:`replace`).
VOIDS = "orderflow_reputation_void"

_AMOUNTS: tuple[str, ...] = ("tb", "tcb", "ts", "tr", "tfee", "gb", "gs", "gr")
_AMOUNTS += ("post_tb", "post_tcb", "post_ts", "post_tr")  # the decisions after the close
# a key's amounts: the stored ones if its fills are as stored, else the greater of stored and new
_MERGED = ", ".join(
    f"CASE WHEN c.same THEN c.{a} ELSE greatest(c.{a}, coalesce(r.{a}, 0)) END AS {a}"
    for a in _AMOUNTS
)

# a computed amount below the stored one: only then can a fill of the key have gone (the
# amounts are sums over its voided fills, which only grow as fills come), and only then are the
# key's attached fills counted (a count by the wallet's index: a market maker's whole history)
_LESS = "(" + " OR ".join(f"r.{a} < v.{a}" for a in _AMOUNTS) + ")"

# $1 = as_of. The computed rows of the keys whose fills are partly detached replaced by the
# stored ones (see above); reads rep_positions (the positions of the wallets rep_void was made
# for) and the stored rows. ``s`` is MATERIALIZED so that its cheap test (a computed row missing
# or below the stored one: none, unless fills were detached) runs before ``cut`` counts a key's
# fills: inlined, the planner put the count in the join below that test, one probe of the
# wallet's fills per stored row (at 1 M wallets, 62,938 counts and 11.8 s of an hourly run for
# no row kept; docs/benchmarks.md).
KEEP = f"""
WITH s AS MATERIALIZED (
    SELECT v.*, v.fills = p.fills AS same, p.fills AS now_fills
      FROM {VOIDS} v
      JOIN rep_positions p ON p.wallet_address = v.wallet_address AND p.token_id = v.token_id
      LEFT JOIN rep_void r ON r.wallet_address = v.wallet_address AND r.token_id = v.token_id
     WHERE v.resolved_at IS NOT DISTINCT FROM p.resolved_at
       AND (r.wallet_address IS NULL OR {_LESS})
), cut AS (
    SELECT s.*
      FROM s
     WHERE s.now_fills > (SELECT count(*) FROM ({GATED_TRADES}) t
                           WHERE t.wallet_address = s.wallet_address
                             AND t.token_id = s.token_id)
), kept AS (
    SELECT c.wallet_address, c.token_id,
           {_MERGED}
      FROM cut c
      LEFT JOIN rep_void r ON r.wallet_address = c.wallet_address AND r.token_id = c.token_id
), gone AS (
    DELETE FROM rep_void r USING kept k
     WHERE r.wallet_address = k.wallet_address AND r.token_id = k.token_id
)
INSERT INTO rep_void (wallet_address, token_id, {", ".join(_AMOUNTS)})
SELECT wallet_address, token_id, {", ".join(_AMOUNTS)} FROM kept
"""

# rep_void's rows as stored: with the key's fill count and resolution time (by name: a table an
# earlier version stored has the amounts added since at its end, _upgrade).
_COLUMNS = ("wallet_address", "token_id", *_AMOUNTS)
_ROWS = f"""
SELECT {", ".join(f"v.{c}" for c in _COLUMNS)}, p.fills, p.resolved_at
  FROM rep_void v
  JOIN rep_positions p ON p.wallet_address = v.wallet_address AND p.token_id = v.token_id
"""


async def keep(conn: asyncpg.Connection, as_of: datetime) -> bool:
    """``rep_void`` with the stored rows of the keys whose fills are partly detached (see
    above); nothing when no live run has stored rows yet (False)."""
    if not await table_exists(conn, VOIDS):
        return False
    await _upgrade(conn)
    await conn.execute(KEEP, as_of)
    return True


async def _upgrade(conn: asyncpg.Connection) -> None:
    """The amounts a table stored by an earlier version lacks, added as 0: its row knew none of
    them, so a key whose fills changed takes the computed ones (the greater), and one whose
    fills are as stored keeps 0 (the detached fills those amounts were of are gone). Without
    it, the first run after an upgrade that adds an amount failed reading the stored table."""
    have = await conn.fetch(
        "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0"
        " AND NOT attisdropped",
        VOIDS,
    )
    missing = [a for a in _AMOUNTS if a not in {r["attname"] for r in have}]
    if missing:
        added = ", ".join(
            f"ADD COLUMN IF NOT EXISTS {a} float8 NOT NULL DEFAULT 0" for a in missing
        )
        await conn.execute(f"ALTER TABLE {VOIDS} {added}")


async def save(conn: asyncpg.Connection) -> None:
    """After a live full run: every ``rep_void`` row kept for the next runs."""
    await conn.execute(f"DROP TABLE IF EXISTS {VOIDS}")
    await conn.execute(f"CREATE TABLE {VOIDS} AS {_ROWS}")
    await conn.execute(f"ALTER TABLE {VOIDS} ADD PRIMARY KEY (wallet_address, token_id)")


async def replace(conn: asyncpg.Connection) -> None:
    """After an incremental run's ``rep_void`` (the rescored wallets', ``rep_dirty_wallets``):
    their stored rows replaced."""
    await conn.execute(
        f"DELETE FROM {VOIDS} v USING rep_dirty_wallets d WHERE d.wallet_address = v.wallet_address"
    )
    await conn.execute(f"INSERT INTO {VOIDS} ({', '.join(_COLUMNS)}, fills, resolved_at) {_ROWS}")
