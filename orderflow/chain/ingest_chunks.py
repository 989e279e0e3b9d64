"""The chunks an import stores, decoded ahead of the database, in source order.

A file's batches of lines (``file_lines.line_batches``) are parsed, decoded and rendered by the
``decoders`` (``decode_workers.py``: child processes, or one worker thread) ``decoders.ahead``
batches ahead (``from_decoders``); log objects already in memory are cut into batches
(``grouped``: no transaction split between two) and decoded one batch ahead in a worker thread
(``in_thread(decoded(...))``). ``ingest._pipeline`` stores what either yields.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable, Generator, Iterable, Mapping
from pathlib import Path
from typing import Any

from orderflow.chain.contracts import ChainAddresses
from orderflow.chain.decode import decode_batch
from orderflow.chain.decode_workers import Chunk, Decoders
from orderflow.chain.file_lines import LineBatch, line_batches


def _tx_of(value: Any) -> Any:
    return value.get("transactionHash") if isinstance(value, dict) else None


def grouped(
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


def decoded(
    raws: Iterable[Mapping[str, Any]], batch_size: int, chain_id: int, addresses: ChainAddresses
) -> Generator[Chunk, None, None]:
    """The logs ``raws`` cut into batches (``grouped``), each decoded in turn as a chunk."""
    done = 0
    for group in grouped(raws, batch_size, _tx_of):
        done += len(group)
        started = time.thread_time()
        batch = decode_batch(group, chain_id, addresses)
        yield Chunk(
            batch,
            None,
            len(group),
            len(group),
            0,
            batch.top_block(),
            time.thread_time() - started,
            done,
        )


async def in_thread(chunks: Generator[Chunk, None, None]) -> AsyncGenerator[Chunk, None]:
    """Chunks produced one ahead in a worker thread."""

    def next_chunk() -> Chunk | None:
        return next(chunks, None)

    upcoming = asyncio.ensure_future(asyncio.to_thread(next_chunk))
    try:
        while (chunk := await upcoming) is not None:
            upcoming = asyncio.ensure_future(asyncio.to_thread(next_chunk))
            yield chunk
    finally:
        # A worker thread cannot be interrupted: let it finish its chunk, then close.
        if not upcoming.done():
            await asyncio.wait([upcoming])
        if not upcoming.cancelled():
            upcoming.exception()  # retrieved: an error already raised above is not re-logged
        chunks.close()


async def from_decoders(
    path: Path, batch_size: int, decoders: Decoders
) -> AsyncGenerator[Chunk, None]:
    """The file's batches, decoded ``decoders.ahead`` batches ahead, in file order."""
    batches = line_batches(path, batch_size)

    def next_batch() -> LineBatch | None:
        return next(batches, None)

    pending: deque[tuple[asyncio.Future[Chunk], LineBatch]] = deque()
    read = False  # the whole file is submitted
    try:
        while True:
            while not read and len(pending) < decoders.ahead:
                lines = await asyncio.to_thread(next_batch)
                if lines is None:
                    read = True
                    decoders.release()  # the last batch is with them
                    break
                pending.append((decoders.submit(lines), lines))
            if not pending:
                return
            future, lines = pending.popleft()
            yield await decoders.result(future, lines)
    finally:
        for future, _ in pending:
            future.cancel()
        if pending:
            await asyncio.wait([f for f, _ in pending])
            for future, _ in pending:
                if not future.cancelled():
                    future.exception()  # retrieved: the import already failed or stopped
        batches.close()
