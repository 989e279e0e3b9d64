"""A batch's staged fills or matches into the ledger (``store.store_batch``), and, for the
node's own logs, the replacement of what an import stored wrongly for them.

The staged rows of another fork are taken out first (``store_refused.orphans``), then the rest
is inserted (``ON CONFLICT DO NOTHING`` on (chain, block, log index): a replay stores nothing).
A staged row whose place another log holds with other content is refused as a dead letter
(``store_refused.collisions``) — unless the batch is **authoritative**: the logs of the node the
listener reads (its backfill and live blocks, ``store_batch(authoritative=True)``). The chain is
the truth; an import is not. A dump row naming a wrong block that no time exposes (a row without
a time takes the time of the block it names; a block ``orderflow_blocks`` does not record has
none to compare) is stored at that block, and the table's key holds the block: the node's log,
stored at its real block, would be a second row with the same (transaction hash, log index) —
one fill counted twice — and where the misplaced row sits on another fill's (block, log index),
that fill of the chain would be refused as a collision. So, for an authoritative batch:

* ``MISPLACED_*``, before the insert: stored rows with the (chain, transaction hash, log index) of
  a staged row, at another block, are deleted. A transaction is in one block of the canonical
  chain and its log indexes count per block, so such a row is that very log put at a wrong block
  (or a fork's left over). Found through the hash index on ``tx_hash`` (migration 016) of each
  partition, for the batch's transactions (one array, an initplan), in the blocks where an
  import stored one of them at another block only (``orderflow_writer_txs``, migration 070:
  each batch records its (transaction, block) pairs under its kind's code, ``IMPORT`` or
  ``NODE``, in a key of 62 bits of the hash; a probe of that key per transaction and code finds
  those blocks, ``elsewhere``): nothing to search unless an import stored one of the batch's
  transactions (or one whose key is the same: a search that finds nothing) at another block.
* ``COLLIDED_*``, when the insert stored fewer rows than were staged: stored rows at a staged
  row's (chain, block, log index) that are not the same log (``store_sql.FILL_DIFFERS`` /
  ``MATCH_DIFFERS``) are deleted, and the insert runs again (replays still store nothing).

The other way round, an import's staged row whose (chain, transaction hash, log index) a stored
row holds at another block (``SUPERSEDED_*``, searched where the record places it: an import's
probe reads every code, its own included) is taken out of staging before the insert, a dead
letter naming both blocks (``store_refused.superseded``), and so is a staged row whose identity
an earlier row of its batch holds at another block (``DOUBLED_*``, COPY order: the file's): an
import after the listener read the real block never adds a second copy, and two dumps that
disagree on a row's block store it once, the first one imported, until the node's log replaces
it if it is the wrong one. (Until 4 Dec 2026 an import's search read the node's blocks only:
two dumps disagreeing stored the fill twice, counted twice until the listener read its real
block.)

Each deleted row becomes a dead letter naming it (its block, transaction, log index, hash and
exchange) and the node's log that replaced it; ``StoreStats.replaced_trades`` /
``replaced_matches`` count them and a warning is logged. A deleted trade's wallet counters are
undone as a rollback's are (``rollback_sql.UNDO_WALLET_STATS``; the delete trigger subtracts it
from the per-(wallet, token) sums), and the FeeModule refund linked to it waits for its fill
again, at the node's block (``refund_links.unlink_refunds``): the node's log of the refund is
that same row, never inserted again, so the batch's link applies it to the node's fill. (Until
6 Dec 2026 it stayed linked to the deleted row, at the import's block: the node's fill kept
the fee as charged, the refund never applied.)
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import asyncpg

from orderflow.chain import store_sql as sql
from orderflow.chain.dead_letters import row_dead_letter
from orderflow.chain.events import DeadLetter
from orderflow.chain.pending_sums import FOLD_LOCK_SHARED
from orderflow.chain.refund_links import Deleted, unlink_refunds
from orderflow.chain.rollback_sql import UNDO_WALLET_STATS
from orderflow.chain.store_refused import collisions, orphans, superseded
from orderflow.chain.store_sql import row_count
from orderflow.chain.writer_txs import (
    ELSEWHERE_FILLS,
    ELSEWHERE_MATCHES,
    IMPORT,
    NODE,
    RECORD_FILLS,
    RECORD_MATCHES,
    elsewhere,
)

log = logging.getLogger(__name__)

# The stored rows found (a SELECT: the DELETE of partitioned tables costs its planning over every
# partition and the statement triggers even when it deletes nothing) and the node's log of each.
_FOUND = """t.tx_hash, t.log_index, t.block_number, t.block_hash, t.exchange,
       s.block_number AS chain_block, s.tx_hash AS chain_tx, s.block_hash AS chain_hash,
       s.ts AS chain_ts"""
_MISPLACED = """
SELECT DISTINCT ON (t.block_number, t.log_index) {found}
  FROM {table} t
  JOIN {staging} s ON t.tx_hash = s.tx_hash AND t.log_index = s.log_index
 WHERE t.tx_hash = ANY ((SELECT array_agg(DISTINCT x.tx_hash) FROM {staging} x)::text[])
   AND t.{chain} AND t.block_number <> s.block_number
   AND t.block_number BETWEEN $2::bigint AND $3::bigint
"""
_COLLIDED = """
SELECT {found}
  FROM {table} t
  JOIN {staging} s
    ON t.chain_id = $1 AND t.block_number = s.block_number AND t.log_index = s.log_index
 WHERE {differs}
"""
# Then those rows, by their key. A deleted trade's part of the wallet counters: none if it is in
# a bulk import's pending range (migration 014), which never added it (as rollback_sql's delete).
_DELETE = """
WITH d AS (
  DELETE FROM {table} t
   USING unnest($2::bigint[], $3::int[]) AS g(block_number, log_index)
   WHERE t.chain_id = $1 AND t.block_number = g.block_number AND t.log_index = g.log_index
  RETURNING {returning})
SELECT {select} FROM d
"""
_TRADE = {
    "table": "orderflow_trades",
    "staging": "orderflow_tmp_fills",
    "chain": sql.CHAIN_FILTER,
    "differs": sql.FILL_DIFFERS,
    "found": _FOUND,
    "returning": "t.wallet_address, t.usdc_size, t.id",
    "select": "d.wallet_address, d.usdc_size,"
    " EXISTS (SELECT 1 FROM orderflow_position_sums_pending)"
    " AND orderflow_position_sums_is_pending(d.id) AS pending",
}
_MATCH = {
    "table": "orderflow_matches",
    "staging": "orderflow_tmp_matches",
    "chain": sql.CHAIN_FILTER,
    "differs": sql.MATCH_DIFFERS,
    "found": _FOUND,
    "returning": "t.log_index",
    "select": "count(*)",
}
# An import's staged rows whose (chain, transaction hash, log index) a stored row holds at
# another block (the node's log, or an earlier import's row): taken out of staging, dead
# letters (store_refused.superseded).
_SUPERSEDED = """
DELETE FROM {staging} s
 USING {table} t
 WHERE t.tx_hash = ANY ((SELECT array_agg(DISTINCT x.tx_hash) FROM {staging} x)::text[])
   AND t.{chain} AND t.tx_hash = s.tx_hash AND t.log_index = s.log_index
   AND t.block_number <> s.block_number AND t.block_number BETWEEN $2::bigint AND $3::bigint
RETURNING s.tx_hash, s.log_index, s.block_number, s.block_hash, s.exchange,
          t.block_number AS stored_block
"""
# An import's staged rows whose (transaction hash, log index) an earlier staged row of the batch
# (in COPY order: the file's) holds at another block: taken out of staging, dead letters. A
# self-join of the staging table only (no stored partition is read); the hash compared in the
# "C" collation (the same equality), so that a merge join's sorts compare bytes, not the
# database's locale.
_DOUBLED = """
DELETE FROM {staging} s
 USING {staging} x
 WHERE x.tx_hash COLLATE "C" = s.tx_hash COLLATE "C" AND x.log_index = s.log_index
   AND x.block_number <> s.block_number AND x.ctid < s.ctid
RETURNING s.tx_hash, s.log_index, s.block_number, s.block_hash, s.exchange,
          x.block_number AS stored_block
"""
MISPLACED_TRADES = _MISPLACED.format(**_TRADE)
MISPLACED_MATCHES = _MISPLACED.format(**_MATCH)
COLLIDED_TRADES = _COLLIDED.format(**_TRADE)
COLLIDED_MATCHES = _COLLIDED.format(**_MATCH)
SUPERSEDED_FILLS = _SUPERSEDED.format(**_TRADE)
SUPERSEDED_MATCHES = _SUPERSEDED.format(**_MATCH)
DELETE_TRADES = _DELETE.format(**_TRADE)
DELETE_MATCHES = _DELETE.format(**_MATCH)
DOUBLED_FILLS = _DOUBLED.format(**_TRADE)
DOUBLED_MATCHES = _DOUBLED.format(**_MATCH)


@dataclass(frozen=True, slots=True)
class Staging:
    """One staging table's statements (``orderflow_tmp_fills`` or ``orderflow_tmp_matches``)."""

    kind: str  # the event: "OrderFilled" / "OrdersMatched"
    insert: str
    orphaned: str
    colliding: str
    misplaced: str
    collided: str
    delete: str
    superseded: str
    doubled: str
    elsewhere: dict[int, str]
    record: str
    counted: bool  # rows in the wallet counters (trades)
    table: str  # the staging table the rendered rows are COPYed into
    columns: tuple[str, ...]  # its columns, in the rendered rows' order (copy_render)


FILLS = Staging(
    "OrderFilled",
    sql.INSERT_TRADES,
    sql.ORPHANED_FILLS,
    sql.COLLIDING_FILLS,
    MISPLACED_TRADES,
    COLLIDED_TRADES,
    DELETE_TRADES,
    SUPERSEDED_FILLS,
    DOUBLED_FILLS,
    ELSEWHERE_FILLS,
    RECORD_FILLS,
    counted=True,
    table="orderflow_tmp_fills",
    columns=sql.FILL_COLUMNS,
)
MATCHES = Staging(
    "OrdersMatched",
    sql.INSERT_MATCHES,
    sql.ORPHANED_MATCHES,
    sql.COLLIDING_MATCHES,
    MISPLACED_MATCHES,
    COLLIDED_MATCHES,
    DELETE_MATCHES,
    SUPERSEDED_MATCHES,
    DOUBLED_MATCHES,
    ELSEWHERE_MATCHES,
    RECORD_MATCHES,
    counted=False,
    table="orderflow_tmp_matches",
    columns=sql.MATCH_COLUMNS,
)


@dataclass(slots=True)
class Inserted:
    """What ``insert_staged`` did: rows inserted, of ``staged`` (the orphans taken out), stored
    rows ``replaced`` by the node's, and the dead letters (orphans, collisions, replaced)."""

    rows: int = 0
    staged: int = 0
    replaced: int = 0
    dead: list[DeadLetter] = field(default_factory=list)
    unrecorded: bool = False  # its pairs are due in orderflow_writer_txs (``record=False``)


async def insert_staged(
    conn: asyncpg.Connection,
    chain_id: int,
    staging: Staging,
    staged: int,
    span: tuple[int, int] | None,
    *insert_args: object,
    authoritative: bool,
    record: bool = True,
    repeat: bool = True,
) -> Inserted:
    """Insert the ``staged`` rows COPYed into ``staging``'s table (``span``: their lowest and
    highest block); ``insert_args``: the insert's parameters after the chain. ``record=False``:
    the staged rows' (transaction, block) pairs are left for ``writer_txs.record_pairs`` (when due,
    ``Inserted.unrecorded``), so that a batch's fills and matches record theirs in one
    statement. ``repeat=False``: no two staged rows share a (transaction hash, log index)
    (``CopyRows.fills_repeat``), so an import's self-join for doubles is not run."""
    done = Inserted()
    kind = NODE if authoritative else IMPORT
    taken = await orphans(conn, chain_id, staging.orphaned, span, staging.kind)
    if span is not None and not authoritative and repeat:
        taken += await superseded(conn, chain_id, staging.doubled, None, staging.kind)
    other = await elsewhere(conn, staging.elsewhere, kind) if span is not None else None
    if other is not None and not authoritative:
        taken += await superseded(conn, chain_id, staging.superseded, other, staging.kind)
    done.dead, done.staged = taken, staged - len(taken)  # taken out of staging
    if other is not None and authoritative:
        misplaced = await conn.fetch(staging.misplaced, chain_id, *other)
        if misplaced:
            await _replace(conn, chain_id, staging, misplaced, done)
    done.rows = row_count(await conn.execute(staging.insert, chain_id, *insert_args))
    if span is not None and (done.staged if authoritative else done.rows):
        if record:
            await conn.execute(staging.record, kind.code)
        else:
            done.unrecorded = True
    if done.rows < done.staged:
        if authoritative:
            collided = await conn.fetch(staging.collided, chain_id)
            if collided:
                await _replace(conn, chain_id, staging, collided, done)
                done.rows += row_count(await conn.execute(staging.insert, chain_id, *insert_args))
        else:
            done.dead += await collisions(conn, chain_id, staging.colliding, staging.kind)
    return done


async def _replace(
    conn: asyncpg.Connection,
    chain_id: int,
    staging: Staging,
    found: list[asyncpg.Record],
    done: Inserted,
) -> None:
    """Delete the stored rows ``found`` (the node's logs contradict them), as dead letters."""
    await conn.execute(FOLD_LOCK_SHARED)  # its delete asks which rows are pending (migration 080)
    deleted = await conn.fetch(
        staging.delete,
        chain_id,
        [r["block_number"] for r in found],
        [r["log_index"] for r in found],
    )
    if staging.counted:
        await _undo_counters(conn, deleted)
        # Their refunds: the node's log of each is the stored row, so it is not inserted again;
        # unlinked (and moved to the node's block of their transaction), the batch's link
        # applies them to the node's fill (refund_links.unlink_refunds).
        await unlink_refunds(conn, chain_id, [_deleted(r) for r in found])
    letters = [_replaced(chain_id, staging.kind, r) for r in found]
    log.warning(
        "rows stored at a place the node's logs contradict replaced by the node's",
        extra={"kind": staging.kind, "rows": len(found), "first": letters[0].reason},
    )
    done.replaced += len(found)
    done.dead += letters


async def _undo_counters(conn: asyncpg.Connection, gone: list[asyncpg.Record]) -> None:
    """Take deleted trades out of the wallet counters their insert trigger added them to."""
    if not gone:
        return
    n: dict[str, int] = defaultdict(int)
    volume: dict[str, Decimal] = defaultdict(Decimal)
    for r in gone:
        if not r["pending"]:
            n[r["wallet_address"]] += 1
            volume[r["wallet_address"]] += r["usdc_size"]
    wallets = sorted({r["wallet_address"] for r in gone})
    await conn.execute(
        UNDO_WALLET_STATS, wallets, [n[w] for w in wallets], [volume[w] for w in wallets]
    )


def _deleted(r: asyncpg.Record) -> Deleted:
    """A deleted trade, with the node's block when the node's log is the same transaction (a
    row of another transaction at the node's place says nothing of where its own is)."""
    same = r["tx_hash"] == r["chain_tx"]
    at = (r["chain_block"], r["chain_hash"], r["chain_ts"]) if same else None
    return Deleted(r["tx_hash"], r["log_index"], at)


def _replaced(chain_id: int, kind: str, r: asyncpg.Record) -> DeadLetter:
    """The dead letter of a stored row the node's log replaced."""
    at = f"{kind} stored at block {r['block_number']} (hash {r['block_hash']})"
    if r["block_number"] != r["chain_block"]:
        what = (
            f"{at}, tx {r['tx_hash']}, log index {r['log_index']}, is the node's log of "
            f"block {r['chain_block']}: the stored row named a wrong block"
        )
    elif r["tx_hash"] != r["chain_tx"]:
        what = (
            f"{at}, log index {r['log_index']}, as tx {r['tx_hash']}: the node's log there is "
            f"tx {r['chain_tx']}; the stored row named a wrong block"
        )
    else:
        what = (
            f"{at}, tx {r['tx_hash']}, log index {r['log_index']}, differs from the node's log "
            "(order, wallets, side, token or amounts)"
        )
    raw: dict[str, Any] = {
        "replaced": kind,
        **{k: r[k] for k in ("tx_hash", "log_index", "block_number", "block_hash", "exchange")},
        "chain_block": r["chain_block"],
        "chain_tx": r["chain_tx"],
    }
    return row_dead_letter(
        chain_id, r, raw, f"{what} (an imported row, or a fork's left over); replaced by the node's"
    )
