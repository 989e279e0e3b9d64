"""Import JSON-lines files of raw logs (``orderflow listen --from-file``, replays, the sample).

Each line is one log object exactly as ``eth_getLogs`` returns it (hex strings, with the
``blockTimestamp`` current nodes add). Lines go through the same decode and store path as the
live listener, ``batch_size`` at a time, each batch one transaction. A line that is not JSON,
or not a JSON object, becomes a dead letter naming the file and line; processing continues.

Reading and decoding run in a worker thread one batch ahead of the database, so PostgreSQL
inserts batch *n* while Python decodes batch *n + 1*.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from orderflow.chain.contracts import MAINNET, ChainAddresses
from orderflow.chain.db_errors import retry_transient
from orderflow.chain.decode import DecodedBatch, decode_batch
from orderflow.chain.events import DeadLetter
from orderflow.chain.storable import loads_tolerant
from orderflow.chain.store import Checkpoint, StoreStats
from orderflow.chain.store_guard import store_batch_isolating
from orderflow.progress import Progress
from orderflow.telemetry import tracer
from orderflow.tracing import context_from, current_traceparent

MAX_LINE_IN_DEAD_LETTER = 10_000  # characters of a malformed line kept for inspection
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
    stored: StoreStats = field(default_factory=StoreStats)

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
            f"{s.removed} removed, {s.ignored} ignored, in {self.batches} batches, "
            f"{self.elapsed_secs:.2f}s"
        )


@dataclass(slots=True)
class _Chunk:
    batch: DecodedBatch
    lines: int
    logs: int
    malformed: int
    position: int = 0  # how far into the source this chunk ends (file characters, or logs)


def _malformed(path: Path, number: int, text: str, why: str, chain_id: int) -> DeadLetter:
    return DeadLetter(
        raw={"file": path.name, "line": number, "text": text[:MAX_LINE_IN_DEAD_LETTER]},
        reason=f"{path.name} line {number}: {why}",
        chain_id=chain_id,
    )


@dataclass(slots=True)
class _Line:
    number: int
    value: Any  # the parsed object, or None with ``error`` set
    text: str
    error: str | None = None


def _parse(number: int, line: str) -> _Line | None:
    # A byte-order mark starts the file, and also any file appended to it (cat a.jsonl b.jsonl):
    # the first is removed by the utf-8-sig codec, the others here.
    text = line.strip().lstrip("\ufeff").strip()
    if not text:
        return None
    try:
        value = loads_tolerant(text)
    except ValueError as exc:
        return _Line(number, None, text, f"not JSON ({str(exc)[:200]})")
    if not isinstance(value, dict):
        return _Line(number, None, text, f"a JSON {type(value).__name__}, not a log object")
    return _Line(number, value, text)


def _tx_of(value: Any) -> Any:
    return value.get("transactionHash") if isinstance(value, dict) else None


def _grouped(
    items: Iterable[Any], batch_size: int, tx_of: Callable[[Any], Any]
) -> Generator[list[Any], None, None]:
    """Batches of ``batch_size`` items, extended so no transaction is split between two.

    The taker-amount correction and the links between fills, matches and fee refunds work on a
    whole transaction; the live listener and the backfill store whole blocks anyway. A batch
    grows by at most another ``batch_size`` items for one transaction.
    """
    batch: list[Any] = []
    for item in items:
        if len(batch) >= batch_size:
            tx = tx_of(batch[-1])
            if tx is None or tx != tx_of(item) or len(batch) >= 2 * batch_size:
                yield batch
                batch = []
        batch.append(item)
    if batch:
        yield batch


def _chunks(
    path: Path, batch_size: int, chain_id: int, addresses: ChainAddresses
) -> Generator[_Chunk, None, None]:
    """Read, parse and decode ``batch_size`` lines at a time (runs in a worker thread)."""
    read = 0  # characters of the file read so far (progress; = bytes for ASCII JSON)

    def numbered(fh: Iterable[str]) -> Generator[tuple[int, str], None, None]:
        nonlocal read
        for number, line in enumerate(fh, 1):
            read += len(line)
            yield number, line

    with path.open("r", encoding="utf-8-sig", errors="replace") as fh:  # BOM-tolerant
        parsed = (p for number, line in numbered(fh) if (p := _parse(number, line)))
        for group in _grouped(parsed, batch_size, lambda p: _tx_of(p.value)):
            raws = [p.value for p in group if p.error is None]
            bad = [
                _malformed(path, p.number, p.text, p.error, chain_id)
                for p in group
                if p.error is not None
            ]
            batch = decode_batch(raws, chain_id, addresses)
            batch.dead_letters.extend(bad)
            yield _Chunk(batch, len(group), len(raws), len(bad), read)


def _decoded(
    raws: Iterable[Mapping[str, Any]], batch_size: int, chain_id: int, addresses: ChainAddresses
) -> Generator[_Chunk, None, None]:
    done = 0
    for group in _grouped(raws, batch_size, _tx_of):
        done += len(group)
        yield _Chunk(decode_batch(group, chain_id, addresses), len(group), len(group), 0, done)


async def _pipeline(
    pool: asyncpg.Pool,
    chunks: Generator[_Chunk, None, None],
    report: IngestReport,
    *,
    chain_id: int,
    stream: str | None,
    traceparent: str | None,
    addresses: ChainAddresses,
    progress: Progress | None = None,
) -> IngestReport:
    """Store chunks while the next one is produced (read + decoded) in a worker thread."""
    started = time.perf_counter()

    def next_chunk() -> _Chunk | None:
        return next(chunks, None)

    async def store(chunk: _Chunk, checkpoint: Checkpoint | None) -> StoreStats:
        # A fresh connection per attempt: after a failover the old one is gone.
        async with pool.acquire() as conn:
            return await store_batch_isolating(
                conn,
                chunk.batch,
                chain_id=chain_id,
                checkpoint=checkpoint,
                traceparent=current_traceparent(),  # the ingest.batch span around this call
                synchronous_commit=False,  # a file or in-memory replay can be redone
                addresses=addresses,
            )

    upcoming = asyncio.ensure_future(asyncio.to_thread(next_chunk))
    try:
        while (chunk := await upcoming) is not None:
            upcoming = asyncio.ensure_future(asyncio.to_thread(next_chunk))
            top = chunk.batch.max_block()
            checkpoint = Checkpoint(stream, top) if stream is not None and top is not None else None
            with _tracer.start_as_current_span(
                "ingest.batch",
                context=context_from(traceparent),
                attributes={"logs": chunk.logs, "fills": len(chunk.batch.fills)},
            ):
                stats = await retry_transient(
                    functools.partial(store, chunk, checkpoint),
                    what=f"store batch {report.batches + 1}",
                )
            report.stored.add(stats)
            report.lines += chunk.lines
            report.logs += chunk.logs
            report.malformed_lines += chunk.malformed
            report.batches += 1
            if progress is not None:
                progress.update(chunk.position, count=report.lines)
    finally:
        # A worker thread cannot be interrupted: let it finish its chunk, then close.
        if not upcoming.done():
            await asyncio.wait([upcoming])
        if not upcoming.cancelled():
            upcoming.exception()  # retrieved: an error already raised above is not re-logged
        chunks.close()
    report.elapsed_secs = time.perf_counter() - started
    if progress is not None:  # the whole source is done (characters vs bytes aside)
        progress.update(progress.total if progress.total is not None else progress.done)
        progress.finish()
    return report


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
) -> IngestReport:
    """Decode and store every line of ``path``; return counts.

    With ``stream`` set, that checkpoint advances to the highest block stored (a file import
    never moves the live listener's checkpoint unless asked to). ``progress`` (unit: characters
    of the file, count: lines) is updated after every stored batch.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    source = Path(path)
    chunks = _chunks(source, batch_size, chain_id, addresses)
    return await _pipeline(
        pool,
        chunks,
        IngestReport(path=str(source)),
        chain_id=chain_id,
        stream=stream,
        traceparent=traceparent,
        addresses=addresses,
        progress=progress,
    )


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
) -> IngestReport:
    """The same pipeline for log objects already in memory (unit of ``progress``: logs)."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    chunks = _decoded(raws, batch_size, chain_id, addresses)
    return await _pipeline(
        pool,
        chunks,
        IngestReport(path="<memory>"),
        chain_id=chain_id,
        stream=stream,
        traceparent=traceparent,
        addresses=addresses,
        progress=progress,
    )
