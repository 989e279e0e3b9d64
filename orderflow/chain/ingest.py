"""Import JSON-lines files of raw logs (``orderflow listen --from-file``, replays, the sample).

Each line is one log object exactly as ``eth_getLogs`` returns it (hex strings, with the
``blockTimestamp`` current nodes add). Lines go through the same decode and store path as the
live listener, ``batch_size`` at a time (extended so no transaction is split), each batch one
transaction. A line that is not JSON, or not a JSON object, becomes a dead letter naming the
file and line; processing continues.

A file is read as bytes and cut into batches of lines (``file_lines.py``); the batches are
parsed, decoded and rendered as COPY text ahead of the database by ``workers`` child processes
(``decode_workers.py``; 0 = one worker thread; ``ingest_chunks.py`` yields them in file order),
and stored here strictly in file order, each
in one transaction (``store.store_batch``); with ``stream``, that checkpoint follows each batch
to the highest block it stored (``DecodedBatch.top``: not a dead letter's). Logs already in memory
(``ingest_logs``) are decoded one batch ahead in a worker thread (``ingest_chunks.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncGenerator, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from orderflow.chain import index_recovery, pending_sums, rereads
from orderflow.chain.checkpoints import Checkpoint
from orderflow.chain.contracts import MAINNET, ChainAddresses
from orderflow.chain.db_errors import retry_transient
from orderflow.chain.decode_workers import Chunk, Decoders
from orderflow.chain.events import DecodedBatch
from orderflow.chain.file_lines import lines_locator, noting_unstored
from orderflow.chain.ingest_chunks import decoded, from_decoders, in_thread
from orderflow.chain.partition_indexes import build_missing_in
from orderflow.chain.pending_sums import fold_in
from orderflow.chain.store import StoreStats, store_batch
from orderflow.chain.store_guard import store_rendered_isolating
from orderflow.progress import Progress
from orderflow.telemetry import tracer
from orderflow.tracing import context_from, current_traceparent

log = logging.getLogger(__name__)
_tracer = tracer("orderflow.chain.ingest")


@dataclass(slots=True)
class IngestReport:
    """What an import read and stored."""

    path: str
    lines: int = 0
    logs: int = 0
    malformed_lines: int = 0
    batches: int = 0
    elapsed_secs: float = 0.0
    decode_cpu_secs: float = 0.0  # CPU spent parsing, decoding and rendering (all workers)
    stored: StoreStats = field(default_factory=StoreStats)
    rereads: str | None = None  # blocks queued for the listener to read (retractions)
    # a bulk import's end, after the last batch, the two side by side (wall seconds from its
    # start until each was done; None: not bulk)
    fold_secs: float | None = None  # the fold at the end (the one running beside waited for)
    index_secs: float | None = None  # the deferred indexes built

    @property
    def logs_per_sec(self) -> float:
        return self.lines / self.elapsed_secs if self.elapsed_secs > 0 else 0.0

    def summary(self) -> str:
        s = self.stored
        return (
            f"{self.path}: {self.lines} lines, {s.trades} trades stored "
            f"({s.duplicate_trades} already present), {s.matches} matches, "
            f"{s.conditions} conditions, {s.tokens} tokens, {s.outcomes} resolutions, "
            f"{s.dead_letters} dead letters ({self.malformed_lines} malformed lines), "
            f"{s.removed} removed ({s.retracted} stored trades retracted), {s.ignored} ignored,"
            f" in {self.batches} batches, "
            f"{self.elapsed_secs:.2f}s"
            + self._end()
            + (f"; {self.rereads}" if self.rereads else "")
        )

    def _end(self) -> str:
        if self.fold_secs is None or self.index_secs is None:
            return ""
        return (
            f" (of which at the end, side by side: sums folded in {self.fold_secs:.2f}s, "
            f"indexes built in {self.index_secs:.2f}s)"
        )


async def _pipeline(
    pool: asyncpg.Pool,
    chunks: AsyncGenerator[Chunk, None],
    report: IngestReport,
    *,
    chain_id: int,
    stream: str | None,
    traceparent: str | None,
    addresses: ChainAddresses,
    progress: Progress | None = None,
    decoders: Decoders | None = None,
    bulk: bool = False,
) -> IngestReport:
    """Store chunks in order while the next ones are decoded; in bulk mode, fold the deferred
    sums beside the batches every ``pending_sums.BACKGROUND_FOLD_FILLS`` stored fills, and at
    the end what is left."""
    started = time.perf_counter()

    async def fold(claimed: asyncio.Event) -> None:
        await retry_transient(
            functools.partial(fold_in, pool, claimed), what="fold the deferred sums"
        )

    # in bulk mode: beside the batches, on a connection of the pool's other than theirs
    folds = pending_sums.BackgroundFolds(fold, beside=pool.get_max_size() > 1)

    async def store(chunk: Chunk) -> StoreStats:
        # A fresh connection per attempt: after a failover the old one is gone.
        async with pool.acquire() as conn:
            unstored: set[tuple[str, int]] = set()  # the writer's dead letters' logs
            whole: list[DecodedBatch] = []  # the batch decoded again, if it was

            async def redecode() -> DecodedBatch:  # the rows were refused: decode it again
                assert decoders is not None and chunk.source is not None
                whole.append((await asyncio.to_thread(decoders.redecode, chunk.source)).batch)
                return whole[-1]

            options: dict[str, Any] = {
                "chain_id": chain_id,
                "traceparent": current_traceparent(),  # the ingest.batch span around this call
                "synchronous_commit": False,  # a file or in-memory replay can be redone
                "addresses": addresses,
                "bulk": bulk,
            }
            lines = (  # where the writer's dead letters are in the file
                lines_locator(decoders.file_name, chunk.source)
                if decoders is not None and chunk.source is not None
                else None
            )
            options["locate"] = noting_unstored(lines, unstored)
            stats = await store_rendered_isolating(
                conn, chunk.batch, chunk.rows, redecode, **options
            )
            if stream is None:
                return stats
            # The checkpoint is the highest block stored, known once the writer has made its
            # dead letters: it follows the rows (a crash between them repeats the batch, which
            # stores nothing twice), never past a log the database refused.
            top = chunk.top
            if unstored:
                if not whole:
                    whole.append(chunk.batch if chunk.rows is None else await redecode())
                top = whole[-1].top_block(unstored)
            if top is not None:
                options.pop("locate")
                stats.add(
                    await store_batch(
                        conn, DecodedBatch(), checkpoint=Checkpoint(stream, top), **options
                    )
                )
            return stats

    # held until its end built the deferred indexes: a listener's recovery keeps off meanwhile
    held = index_recovery.bulk_import(pool) if bulk else contextlib.nullcontext()
    async with held:
        try:
            async for chunk in chunks:
                fills = chunk.rows.fill_count if chunk.rows is not None else len(chunk.batch.fills)
                with _tracer.start_as_current_span(
                    "ingest.batch",
                    context=context_from(traceparent),
                    attributes={"logs": chunk.logs, "fills": fills},
                ):
                    stats = await retry_transient(
                        functools.partial(store, chunk),
                        what=f"store batch {report.batches + 1}",
                    )
                report.stored.add(stats)
                if bulk:
                    await folds.stored(stats.trades)
                report.lines += chunk.lines
                report.logs += chunk.logs
                report.malformed_lines += chunk.malformed
                report.decode_cpu_secs += chunk.cpu_secs
                report.batches += 1
                if progress is not None:
                    progress.update(chunk.position, count=report.lines)
        except BaseException:
            await folds.close()
            raise
        finally:
            await chunks.aclose()
        if bulk:
            report.fold_secs, report.index_secs = await _bulk_end(pool, folds)
    if report.stored.removed:  # the blocks its retractions queued, until a listener reads them
        async with pool.acquire() as conn:
            report.rereads = await rereads.describe(conn)
    report.elapsed_secs = time.perf_counter() - started
    if progress is not None:  # the whole source is done
        progress.update(progress.total if progress.total is not None else progress.done)
        progress.finish()
    return report


async def _bulk_end(pool: asyncpg.Pool, folds: pending_sums.BackgroundFolds) -> tuple[float, float]:
    """A bulk import's end, side by side on two connections of ``pool`` (one core each: the
    fold is one backend, which left the second core idle while it ran alone; docs/benchmarks.md
    "The import's timeline"): the sums the batches deferred folded (a crash before this: the
    next reputation run folds them), and the indexes left out of the partitions it started
    empty built (a crash before this: a running listener, the next bulk import's end, `orderflow
    db partitions index`). Each is its own transaction(s), as one after the other: either may
    commit without the other. Seconds from the end's start until each was done; the first
    error once both have ended. A pool without two connections to spare (the bulk-import lock
    holds one) runs them one after the other: each waits for a connection, none for the other."""
    started = time.perf_counter()

    async def fold() -> float:
        await folds.finish()
        return time.perf_counter() - started

    async def build() -> float:
        await retry_transient(
            functools.partial(build_missing_in, pool), what="build the deferred indexes"
        )
        return time.perf_counter() - started

    fold_secs, index_secs = await asyncio.gather(fold(), build(), return_exceptions=True)
    if isinstance(fold_secs, BaseException):
        raise fold_secs
    if isinstance(index_secs, BaseException):
        raise index_secs
    return fold_secs, index_secs


async def ingest_file(
    pool: asyncpg.Pool,
    path: str | Path,
    *,
    chain_id: int,
    batch_size: int = 5000,
    addresses: ChainAddresses = MAINNET,
    stream: str | None = None,
    traceparent: str | None = None,
    progress: Progress | None = None,
    workers: int = 0,
    bulk: bool = False,
    decoders: Decoders | None = None,
) -> IngestReport:
    """Decode and store every line of ``path``; return counts.

    With ``stream`` set, that checkpoint advances to the highest block stored (a file import
    never moves the live listener's checkpoint unless asked to). ``progress`` (unit: bytes of
    the file, count: lines) is updated after every stored batch. ``workers``: decoding child
    processes (0: one worker thread in this process); the stored rows are the same either way.
    ``bulk``: defer the per-(wallet, token) sums to the end of the import (``store_batch``).
    ``decoders``: processes the caller started for this file (:func:`start_decoders`, e.g.
    while it connects) and closes; ``workers`` is then theirs.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    source = Path(path)
    own = decoders is None
    if decoders is None:
        decoders = await start_decoders(
            source, workers, chain_id=chain_id, addresses=addresses, one_file=True
        )
    try:
        return await _pipeline(
            pool,
            from_decoders(source, batch_size, decoders),
            IngestReport(path=str(source)),
            chain_id=chain_id,
            stream=stream,
            traceparent=traceparent,
            addresses=addresses,
            progress=progress,
            decoders=decoders,
            bulk=bulk,
        )
    finally:
        if own:
            await asyncio.to_thread(decoders.close)


async def start_decoders(
    path: str | Path,
    workers: int,
    *,
    chain_id: int,
    addresses: ChainAddresses = MAINNET,
    one_file: bool = False,
) -> Decoders:
    """``workers`` decoding processes for the file ``path``, started now (0: a thread);
    ``one_file``: for one import of it, they exit once it is read (:meth:`Decoders.release`)."""
    decoders = await asyncio.to_thread(
        functools.partial(
            Decoders, workers, Path(path).name, chain_id, addresses, one_file=one_file
        )
    )
    decoders.start()
    return decoders


async def ingest_logs(
    pool: asyncpg.Pool,
    raws: Iterable[Mapping[str, Any]],
    *,
    chain_id: int,
    batch_size: int = 5000,
    addresses: ChainAddresses = MAINNET,
    stream: str | None = None,
    traceparent: str | None = None,
    progress: Progress | None = None,
    bulk: bool = False,
) -> IngestReport:
    """The same pipeline for log objects already in memory (unit of ``progress``: logs)."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    chunks = in_thread(decoded(raws, batch_size, chain_id, addresses))
    return await _pipeline(
        pool,
        chunks,
        IngestReport(path="<memory>"),
        chain_id=chain_id,
        stream=stream,
        traceparent=traceparent,
        addresses=addresses,
        progress=progress,
        bulk=bulk,
    )
