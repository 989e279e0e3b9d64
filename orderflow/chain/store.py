"""Decoded batches into PostgreSQL: one transaction per call, idempotent, checkpointed.

``store_batch`` writes, in ONE transaction: block headers, conditions and the token registry
(so trades in the same batch already get their market), fills and matches (COPY into temporary
tables, then ``INSERT … SELECT … ON CONFLICT DO NOTHING`` on the key (chain, block, log index);
the node's logs replace rows that contradict them: ``store_replace``),
match links, market back-fills for older trades whose token just became known, resolutions,
dead letters, and finally the stream's checkpoint (only ever forward). A crash at any point
leaves either all of it or none of it, so a restart from the checkpoint neither loses nor
doubles a fill — the failure mode ethereum-etl's separate checkpoint file has.

Beside it, one concern each: ``store_markets`` (the writer's conditions, token registry,
back-filled markets and resolutions), ``checkpoints`` (read and rewind a stream's checkpoint),
``rollback`` (``rollback_from``: undo everything from a height up, a reorg;
``retract_removed``: the blocks of a batch's ``removed: true`` logs), ``block_times``
(the time of logs without one), ``dead_letters``, ``store_replace`` (the staged fills and
matches inserted; the node's replace rows that contradict them), ``store_forks`` (the node's
headers: another fork's rows at their heights undone), ``store_refused`` (the staged rows
refused, as dead letters), ``store_tokens`` (registry rows from outside the chain),
``store_refunds`` (fee refunds stored), ``refund_links`` (each applied to its fill) and
``store_sql`` (the statements).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

import asyncpg

from orderflow.chain import partitions, pending_sums
from orderflow.chain import store_sql as sql
from orderflow.chain.block_times import BlockHeader, BlockTimes, block_times
from orderflow.chain.checkpoints import Checkpoint
from orderflow.chain.contracts import MAINNET, ChainAddresses
from orderflow.chain.copy_render import CopyRows, render
from orderflow.chain.dead_letters import dead_letter_key, insert_dead_letters, untimed_dead_letter
from orderflow.chain.decode import DecodedBatch
from orderflow.chain.events import DeadLetter, Fill
from orderflow.chain.file_lines import Locate
from orderflow.chain.refund_links import link_refunds
from orderflow.chain.rollback import retract_removed
from orderflow.chain.store_forks import drop_forked
from orderflow.chain.store_markets import MarketSteps
from orderflow.chain.store_refunds import insert_refunds, refused_refunds, replace_refunds
from orderflow.chain.store_replace import FILLS, MATCHES, Inserted, Staging, insert_staged
from orderflow.chain.store_sql import row_count
from orderflow.chain.store_stats import StoreStats
from orderflow.chain.writer_txs import record_pairs

# store_batch's parameter types, importable from here as before the split.
__all__ = ["BlockHeader", "Checkpoint", "StoreStats", "store_batch"]


def _prologue(synchronous_commit: bool, bulk: bool) -> str:
    """The transaction's first statements, sent as one: the writer lock, its SET LOCAL
    settings, the (emptied) staging tables."""
    parts = [sql.WRITER_LOCK]
    if not synchronous_commit:
        parts.append("SET LOCAL synchronous_commit TO off")
    if bulk:
        parts.append("SET LOCAL orderflow.bulk = 'on'")
    else:  # its insert trigger adds to the sums: never while a fold holds rows it will add to
        parts.append(pending_sums.FOLD_LOCK_SHARED)
    parts.append(sql.CREATE_TEMP_TABLES)
    return ";\n".join(parts)


class _Writer(MarketSteps):
    """The steps of one ``store_batch`` transaction, sharing its connection and tallies (those
    of the markets: :class:`~orderflow.chain.store_markets.MarketSteps`)."""

    def __init__(
        self,
        conn: asyncpg.Connection,
        chain_id: int,
        times: BlockTimes,
        dead: list[DeadLetter],
        addresses: ChainAddresses,
    ) -> None:
        self.conn = conn
        self.chain_id = chain_id
        self.times = times
        self.addresses = addresses
        self.untimed_conditions = False  # keep conditions without a known time (time NULL)
        self.authoritative = False  # the node's logs: they replace rows contradicting them
        self.dead = dead  # grows with logs that cannot be stored (no known timestamp)
        self.stats = StoreStats()
        self.touched: set[str] = set()  # transactions whose match links may need SQL

    async def blocks(self, blocks: Sequence[BlockHeader]) -> None:
        await self.conn.execute(
            sql.UPSERT_BLOCKS,
            self.chain_id,
            [b.number for b in blocks],
            [b.hash.lower() for b in blocks],
            [b.parent_hash.lower() if b.parent_hash else None for b in blocks],
            [b.timestamp for b in blocks],
        )
        self.stats.blocks = len(blocks)
        if self.authoritative:  # the node's headers: another fork's rows at their heights go
            forked = await drop_forked(self.conn, self.chain_id, blocks)
            self.dead.extend(forked.dead)
            self.stats.replaced_trades += forked.trades
            self.stats.replaced_matches += forked.matches

    async def link_candidates(self, rows: CopyRows) -> None:
        """The transactions whose match links may need SQL (``links``), before the insert.

        The renderer links a fill to its match inside the batch; SQL is needed only for a
        transaction whose fills and matches are stored by different batches. A transaction's
        logs are consecutive in its block, so when no fill or match is stored yet anywhere
        between the batch's first and last row (chain order), only the transactions of those
        two rows can have logs in another batch; otherwise every transaction with an unlinked
        fill or a match may."""
        if not rows.touched or rows.first is None or rows.last is None:
            return
        stored = await self.conn.fetchval(
            sql.ROWS_BETWEEN, self.chain_id, *rows.first[:2], *rows.last[:2]
        )
        if stored:
            self.touched.update(rows.touched)
        else:
            edges = (rows.first[2], rows.last[2])
            self.touched.update(tx for tx in rows.touched if tx in edges)

    async def rows(self, rows: CopyRows, traceparent: str | None) -> None:
        """Fills and matches: COPY their rendered rows into the staging tables, then insert."""
        await self.link_candidates(rows)
        fills_due = matches_due = False
        if rows.fill_count:
            done = await self._staged(
                FILLS, rows.fills, rows.fill_count, rows.blocks, rows.fills_repeat, traceparent
            )
            fills_due = done.unrecorded
            self.stats.trades = done.rows
            self.stats.duplicate_trades = done.staged - done.rows
            self.stats.replaced_trades += done.replaced
        if rows.match_count:
            done = await self._staged(
                MATCHES, rows.matches, rows.match_count, rows.blocks, rows.matches_repeat
            )
            self.stats.matches = done.rows
            self.stats.replaced_matches += done.replaced
            matches_due = done.unrecorded
        # both kinds' (transaction, block) pairs in one statement (writer_txs.record_pairs)
        await record_pairs(self.conn, fills_due, matches_due, authoritative=self.authoritative)

    async def _staged(
        self,
        staging: Staging,
        text: bytes,
        count: int,
        blocks: tuple[int, int] | None,
        repeat: bool,
        *insert_args: object,
    ) -> Inserted:
        """One kind's rendered rows COPYed into its staging table and inserted (their pairs left
        for ``record_pairs``); what cannot be stored joins the dead letters. ``insert_args``: the
        insert's parameters after the chain (the fills': the traceparent; the matches': none)."""
        await self.conn.copy_to_table(
            staging.table, source=io.BytesIO(text), columns=staging.columns, format="text"
        )
        done = await insert_staged(
            self.conn,
            self.chain_id,
            staging,
            count,
            blocks,
            *insert_args,
            authoritative=self.authoritative,
            record=False,
            repeat=repeat,
        )
        self.dead.extend(done.dead)
        return done

    async def links(self) -> None:
        """Fills and matches of one transaction stored by different batches."""
        self.stats.linked = row_count(
            await self.conn.execute(sql.LINK_MATCHES, self.chain_id, list(self.touched))
        )

    async def refunds(self, batch: DecodedBatch, v1_txs: Iterable[str]) -> None:
        """FeeModule refunds: stored (store_refunds.py), then applied to their fills
        (refund_links.py)."""
        rows = [
            (r, ts) for r in batch.refunds if (ts := self._timed(r.ref, "FeeRefunded")) is not None
        ]
        if self.authoritative:  # the node's: a stored refund it contradicts is replaced
            replaced = await replace_refunds(self.conn, self.chain_id, rows)
            self.dead.extend(replaced)
            self.stats.replaced_refunds = len(replaced)
        self.stats.refunds = await insert_refunds(self.conn, self.chain_id, rows)
        if not self.authoritative and self.stats.refunds < len(rows):  # replays, or collisions
            self.dead.extend(await refused_refunds(self.conn, self.chain_id, rows))
        txs = {r.ref.tx_hash for r in batch.refunds}
        txs.update(v1_txs)
        self.stats.refunds_applied = await link_refunds(self.conn, self.chain_id, sorted(txs))

    async def checkpoint(self, checkpoint: Checkpoint) -> None:
        status = await self.conn.execute(
            sql.ADVANCE_CHECKPOINT,
            self.chain_id,
            checkpoint.stream,
            checkpoint.block_number,
            checkpoint.block_hash,
        )
        self.stats.checkpoint_advanced = row_count(status) > 0


async def store_batch(
    conn: asyncpg.Connection,
    batch: DecodedBatch,
    *,
    chain_id: int,
    blocks: Sequence[BlockHeader] = (),
    checkpoint: Checkpoint | None = None,
    traceparent: str | None = None,
    synchronous_commit: bool = True,
    addresses: ChainAddresses = MAINNET,
    untimed_conditions: bool = False,
    rows: CopyRows | None = None,
    bulk: bool = False,
    locate: Locate | None = None,
    authoritative: bool = False,
) -> StoreStats:
    """Store a decoded batch and (optionally) advance a checkpoint, atomically.

    Removed logs (``removed: true``) are counted, never stored; first of all, they retract what
    is stored of their blocks (number and hash: ``rollback.retract_removed``; the batch's own
    logs of those blocks before the removal were dropped when it was decoded, those after it
    are the block sent again). Logs without a timestamp take
    their block's from ``blocks`` or ``orderflow_blocks`` (hash must match); otherwise they
    become dead letters with that reason.

    ``synchronous_commit=False`` skips waiting for the WAL flush at commit: a crash may then
    lose the last few batches — rows and checkpoint together, never one without the other —
    which a replayable source (a file import, a backfill from the checkpoint) simply redoes.

    ``addresses`` says which oracle makes a condition neg-risk (tokens derived from a
    ConditionResolution). ``untimed_conditions=True`` (the condition sync) keeps a
    ConditionPreparation whose block time is unknown with a NULL time instead of
    dead-lettering it: its tokens are what matters.

    ``rows``: the batch's fills and matches already rendered (``copy_render.render`` with the
    logs' own timestamps, in a file import's decoding processes); ``batch`` then holds
    everything else and no fills or matches.

    ``bulk=True`` (a file or history import) leaves the new trades out of the per-(wallet,
    token) sums and wallet counters and records their id range as pending instead, in this
    transaction (migration 014); ``pending_sums.fold`` adds them later, beside the import's
    next batches (migration 080), at its end, or before a reputation run reads the sums. It
    also leaves the deferrable indexes out of a trades partition it finds empty (migration 072,
    ``partition_indexes``): the import builds them at its end.

    ``locate`` (a file import's): names the file and line of each dead letter without them.

    ``authoritative=True`` (the node's logs: the listener's backfill and live blocks): a stored
    fill or match that contradicts one of the batch's — the same transaction hash and log index
    at another block, or another log at its block and log index (an import's row naming a wrong
    block) — is replaced by it, as a dead letter naming the row replaced (``store_replace``),
    and so is a stored refund of the same key with other content (``store_refunds``); and what
    is held at the height of one of ``blocks`` under another block hash (another fork's) is
    undone, each fill, match, refund, condition and resolution a dead letter (``store_forks``).
    """
    if rows is not None and (batch.fills or batch.matches):
        raise ValueError("store_batch: pass fills and matches either rendered or in the batch")
    # orderflow_trades' partitions for these fills, in a short transaction of their own; in
    # bulk mode an empty one's deferrable indexes are left out (partition_indexes)
    await partitions.ensure_for_batch(
        conn, batch, rows.block_numbers if rows is not None else (), defer=bulk
    )
    async with conn.transaction():
        # the lock, the settings and the staging tables in one round trip
        await conn.execute(_prologue(synchronous_commit, bulk))
        retracted = 0
        if batch.removed:  # first: a removal retracts what was stored before it, never after
            retracted = (await retract_removed(conn, chain_id, batch.removed)).trades
        untimed = [
            e.ref
            for group in (
                batch.fills,
                batch.matches,
                batch.registrations,
                batch.conditions,
                batch.resolutions,
                batch.refunds,
            )
            for e in group
            if e.ref.timestamp is None
        ]
        times = await block_times(conn, chain_id, untimed, blocks)
        w = _Writer(conn, chain_id, times, list(batch.dead_letters), addresses)
        w.untimed_conditions = untimed_conditions
        w.authoritative = authoritative
        if rows is None:
            rows, late = render(batch.fills, batch.matches, times.epoch)
            w.dead.extend(
                untimed_dead_letter(
                    e.ref, chain_id, "OrderFilled" if isinstance(e, Fill) else "OrdersMatched"
                )
                for e in late
            )
        if blocks:
            await w.blocks(blocks)
        # The registry first, so this batch's trades join their market directly.
        new_tokens = await w.registry(batch, rows.v3_tokens)
        await w.rows(rows, traceparent)
        if w.touched and (rows.match_count or w.stats.trades):
            await w.links()
        if batch.refunds or rows.v1_txs:
            await w.refunds(batch, rows.v1_txs)
        if new_tokens:
            await w.backfill_markets(new_tokens)
        await w.resolutions(batch)
        if times.resolved:  # stored now: their old "no blockTimestamp" dead letters are moot
            digests = list({dead_letter_key(raw)[0] for raw in times.resolved})
            await conn.execute(sql.DELETE_RESOLVED_DEAD_LETTERS, digests)
        if w.dead:
            if locate is not None:
                for letter in w.dead:
                    locate(letter)
            await insert_dead_letters(conn, chain_id, w.dead)
        if checkpoint is not None:
            await w.checkpoint(checkpoint)
    stats = w.stats
    stats.dead_letters = len(w.dead)
    stats.removed = len(batch.removed)
    stats.retracted = retracted
    stats.ignored = len(batch.ignored)
    return stats
