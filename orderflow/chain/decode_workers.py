"""Decoding a file import's batches off the writer: in child processes, or in a thread.

``orderflow listen --from-file --workers N`` starts N decoding processes (``spawn``: nothing of
the parent's event loop, pool or threads is inherited). Each gets a batch of lines as one bytes
object and returns a :class:`Chunk`: the batch's fills and matches rendered as COPY text
(``copy_render``), everything else decoded (conditions with their token ids already derived,
resolutions, refunds, dead letters), the counts and the highest block. The parent never touches
a decoded fill: it streams the bytes into the staging tables and runs the set-based statements
(``store.store_batch``), batch after batch in file order, each with its checkpoint in one
transaction — so the exactly-once argument is the single-process one, unchanged.

With ``workers=0`` the same function runs in a worker thread (the library default: no process
start-up for a small file, as in tests and the demo).

A batch whose fills cannot be rendered without the database (a log without ``blockTimestamp``,
whose time comes from ``orderflow_blocks``) comes back decoded only (``rows`` None) and is
rendered by the writer, exactly as ``store_batch`` does for every other caller. A decoding
process that dies (killed, out of memory) fails the import with :class:`DecodeWorkerError`
naming the lines it held; every earlier batch is stored, none after it. A decoding process
whose parent is gone (kill -9) exits within half a second.
"""

from __future__ import annotations

import atexit
import gc
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orderflow.chain.contracts import ChainAddresses
from orderflow.chain.copy_render import CopyRows, own_timestamps, render
from orderflow.chain.decode import decode_batch
from orderflow.chain.decode_fast import render_lines, render_raws
from orderflow.chain.events import DeadLetter, DecodedBatch
from orderflow.chain.file_lines import LineBatch, cut_line, malformed, parse_line, refused
from orderflow.errors import OrderflowError

if TYPE_CHECKING:  # the writer's: a decoding process imports this module, and runs no loop
    import asyncio


class DecodeWorkerError(OrderflowError):
    """A decoding process died; the import stopped after the last batch stored before it."""


@dataclass(slots=True)
class Chunk:
    """One decoded batch, ready for the writer."""

    batch: DecodedBatch  # without the fills and matches when ``rows`` holds them
    rows: CopyRows | None
    lines: int  # non-blank lines (or logs, from memory)
    logs: int
    malformed: int
    top: int | None  # highest block of the batch's storable logs (DecodedBatch.top_block)
    cpu_secs: float = 0.0  # decoding CPU (of the process or thread that decoded it)
    position: int = 0  # set by the parent: how far into the source this chunk ends
    source: LineBatch | None = field(default=None, repr=False)  # parent-side only


def decode_lines(
    data: bytes,
    first_line: int,
    file_name: str,
    chain_id: int,
    addresses: ChainAddresses,
    *,
    render_rows: bool = True,
    fast: bool = True,
) -> Chunk:
    """Parse, decode and (``render_rows``) render the lines of ``data`` (joined by ``\\n``).

    ``fast``: the hot events the fast way (``decode_fast``; the same chunk, a fraction of the
    CPU). False: every log through ``decode_batch`` and ``copy_render.render``, the reference
    the fast path is tested and measured against."""
    cpu0 = time.thread_time()
    with _collector_paused():
        if render_rows and fast:
            rendered = render_lines(data, first_line, file_name, chain_id, addresses)
            chunk = Chunk(*rendered) if rendered is not None else None
        else:
            chunk = None
        if chunk is None:
            chunk = _decode(data, first_line, file_name, chain_id, addresses, render_rows)
    chunk.cpu_secs = time.thread_time() - cpu0
    return chunk


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a batch is decoded.

    A batch allocates tens of thousands of dicts, lists and events that all stay alive until it
    is rendered, and every collection walks them again: a third of the decoding CPU (≈ 9 of
    26 µs per log, measured). They hold no reference cycles; reference counting frees them."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _decode(
    data: bytes,
    first_line: int,
    file_name: str,
    chain_id: int,
    addresses: ChainAddresses,
    render_rows: bool,
) -> Chunk:
    parsed = [
        p for i, raw in enumerate(data.split(b"\n")) if (p := parse_line(first_line + i, raw))
    ]
    logs = [p for p in parsed if p.error is None]
    bad = [malformed(file_name, p, chain_id) for p in parsed if p.error is not None]
    chunk = _chunk([p.value for p in logs], bad, len(parsed), chain_id, addresses, render_rows)
    refusals = chunk.batch.dead_letters[: len(chunk.batch.dead_letters) - len(bad)]
    if refusals:  # the decoder's dead letters keep their log object: find its line
        numbers = {id(p.value): p.number for p in logs}
        for letter in refusals:
            number = numbers.get(id(letter.raw))
            if number is not None:
                refused(letter, file_name, number)
    return chunk


def decode_raws(
    raws: Sequence[Mapping[str, Any]],
    chain_id: int,
    addresses: ChainAddresses,
    *,
    fast: bool = True,
) -> Chunk:
    """:func:`decode_lines` for logs already parsed (a backfill's ``eth_getLogs`` reply, each
    log a mapping): fills and matches rendered (``rows`` None when one has no
    ``blockTimestamp``: the writer renders it with its block's time), everything else decoded.
    ``fast``: the hot events the fast way (``decode_fast.render_raws``), else the reference."""
    cpu0 = time.thread_time()
    with _collector_paused():
        rendered = render_raws(raws, chain_id, addresses) if fast else None
        if rendered is not None:
            chunk = Chunk(*rendered)
        else:
            chunk = _chunk(list(raws), [], len(raws), chain_id, addresses, True)
    chunk.cpu_secs = time.thread_time() - cpu0
    return chunk


def _chunk(
    raws: list[Any],
    bad: list[DeadLetter],
    lines: int,
    chain_id: int,
    addresses: ChainAddresses,
    render_rows: bool,
) -> Chunk:
    """The general path: ``decode_batch``, then (``render_rows``) ``copy_render.render``."""
    batch = decode_batch(raws, chain_id, addresses)
    batch.dead_letters.extend(bad)
    top = batch.top_block()
    rows: CopyRows | None = None
    if render_rows:
        try:
            rendered, late = render(batch.fills, batch.matches, own_timestamps())
        except UnicodeError:  # a value COPY cannot carry: the writer's guarded path decides
            rendered, late = None, []
        if rendered is not None and not late:
            rows = rendered
            batch.fills = []
            batch.matches = []
            for ref in (*batch.ignored, *batch.removed):
                ref.raw = None  # counted only: not worth sending back
    return Chunk(batch, rows, lines, len(raws), len(bad), top)


# --- the decoding processes ---------------------------------------------------------------------

_context: dict[str, Any] = {}
_PARENT_CHECK_SECS = 0.5


def _init(file_name: str, chain_id: int, addresses: ChainAddresses, parent: int) -> None:
    _context.update(file_name=file_name, chain_id=chain_id, addresses=addresses)
    threading.Thread(target=_exit_with, args=(parent,), name="parent-watch", daemon=True).start()
    # the interpreter's exit walks no object with the collector: all go with the process
    # (the collections of a module teardown are most of a decoding process's exit)
    atexit.register(gc.freeze)


def _exit_with(parent: int) -> None:
    """End this process once its parent is gone (kill -9 leaves no decoding process behind:
    a worker idle on its task queue would otherwise wait for ever)."""
    while os.getppid() == parent:
        time.sleep(_PARENT_CHECK_SECS)
    os._exit(1)


def _ready() -> None:
    """A first task: starts a process (and its imports) before there is a batch for it."""


def _decode_in_child(data: bytes, first_line: int) -> Chunk:
    return decode_lines(
        data, first_line, _context["file_name"], _context["chain_id"], _context["addresses"]
    )


class Decoders:
    """``workers`` decoding processes (0: a thread), fed batches in order, results in order."""

    task: Callable[[bytes, int], Chunk] = staticmethod(_decode_in_child)  # what a process runs

    def __init__(
        self,
        workers: int,
        file_name: str,
        chain_id: int,
        addresses: ChainAddresses,
        *,
        one_file: bool = False,
    ) -> None:
        if workers < 0:
            raise ValueError("workers must be 0 (a thread) or more")
        self.workers = workers
        self.one_file = one_file  # for one import of the file: released once it is all read
        self.file_name = file_name
        self.chain_id = chain_id
        self.addresses = addresses
        self._pool: Executor | None = None
        if workers:
            self._pool = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init,
                initargs=(file_name, chain_id, addresses, os.getpid()),
            )

    def start(self) -> None:
        """Start every process now, not at the first batch: a process takes a good part of a
        second to start and import the decoder, which the caller can spend connecting."""
        if self._pool is not None:
            for _ in range(self.workers):
                self._pool.submit(_ready)

    @property
    def ahead(self) -> int:
        """Batches decoded ahead of the writer: enough to keep every worker busy, bounded."""
        return self.workers + 1 if self.workers else 1

    def submit(self, lines: LineBatch) -> asyncio.Future[Chunk]:
        import asyncio  # the writer's, loaded long before (not at this module's import)

        loop = asyncio.get_running_loop()
        if self._pool is None:
            return loop.run_in_executor(
                None,
                decode_lines,
                lines.data,
                lines.first_line,
                self.file_name,
                self.chain_id,
                self.addresses,
            )
        future: Future[Chunk] = self._pool.submit(self.task, lines.data, lines.first_line)
        return asyncio.wrap_future(future)

    async def result(self, future: asyncio.Future[Chunk], lines: LineBatch) -> Chunk:
        """The chunk of ``lines``; a dead decoding process becomes :class:`DecodeWorkerError`."""
        try:
            chunk = await future
        except BrokenProcessPool as exc:
            last = lines.first_line + lines.lines - 1
            raise DecodeWorkerError(
                f"a decoding process died while decoding lines {lines.first_line}-{last} of "
                f"{self.file_name} ({exc}); every line before {lines.first_line} is stored, "
                "none after; run the import again (it is idempotent)"
            ) from exc
        chunk.position = lines.end_offset
        chunk.source = lines
        return self._with_cut(chunk, lines)

    def _with_cut(self, chunk: Chunk, lines: LineBatch) -> Chunk:
        """``chunk`` with the dead letters of the batch's lines too long to hold (the importing
        process cut them: the decoder saw an empty line in their place)."""
        for i, head in lines.cut:
            line = cut_line(lines.first_line + i, head)
            chunk.batch.dead_letters.append(malformed(self.file_name, line, self.chain_id))
            chunk.lines += 1
            chunk.malformed += 1
        return chunk

    def redecode(self, lines: LineBatch) -> Chunk:
        """Decode ``lines`` here, nothing rendered (the writer's fallback for a refused batch)."""
        chunk = decode_lines(
            lines.data,
            lines.first_line,
            self.file_name,
            self.chain_id,
            self.addresses,
            render_rows=False,
        )
        return self._with_cut(chunk, lines)

    def release(self) -> None:
        """The file is all submitted: processes for ``one_file`` exit once they have decoded
        it, while the writer stores the last batches and the import ends (its fold, its index
        build), instead of after (:meth:`close` then only waits for them). Others stay open for
        their owner's next import."""
        if self._pool is not None and self.one_file:
            self._pool.shutdown(wait=False)

    def close(self) -> None:
        """Stop the processes (pending batches are dropped; blocks until they exit)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
