"""eth_getLogs backfill: from the checkpoint to a target block in adaptive ranges.

Each range is fetched, given block timestamps where the node left them out, decoded, and
stored with the checkpoint in ONE transaction (``store.store_batch``): a crash between ranges
loses nothing and repeats nothing that matters (rows are idempotent on (chain, tx, log index)).

Logs of blocks that can still reorganise (within ``REORG_WINDOW_BLOCKS`` of the target) are
checked against their block headers, fetched after the logs; a mismatch (the chain moved
between the two requests) reads the range again. Those headers are stored with the range, so
every recent block holding a stored log has its header in ``orderflow_blocks`` for the reorg
checks of a later start.
The block just below each range, when it can still reorganise, must still be the one held
(the previous range's end, or the listener's): if not, the chain moved under what is already
stored, and a RetryableRpcError ends the session after the ranges before are stored, so the
next one repairs the reorg at start-up.

Ranges adapt to the node: a refusal ("query returned more than …", -32005, size limits) or a
timed-out eth_getLogs halves the range; a few successes in a row double it again, up to the
configured maximum. A refusal at the minimum range ends the session (retried after a backoff).
An eth_getLogs error in a wording nobody recognises is tried again a few times, then halves the
range too; one block that keeps failing so ends the session naming it.

A reply whose length is a known result cap (``result_caps``: a provider may have truncated it
without an error) is split and read again, and a single block at a cap is read again by
narrower filters (:mod:`orderflow.chain.capped_logs`); after a split the range shrinks as after a
refusal, so that the next ones stay below the cap.

Reading one range is :mod:`orderflow.chain.backfill_read`, the answer to a refused or failed read
:mod:`orderflow.chain.backfill_refusals`; this module runs the ranges in order and stores them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection

import asyncpg

from orderflow import telemetry
from orderflow.chain import index_recovery
from orderflow.chain.adaptive_range import AdaptiveRange
from orderflow.chain.backfill_headers import (
    HeaderCache,
    Reorganised,
    block_rows,
)
from orderflow.chain.backfill_read import (
    LAG_CHECK_BLOCKS,
    RangeReader,
    ReadRange,
    ReplyBehind,
    TwoVersions,
)
from orderflow.chain.backfill_refusals import RangeRefusals
from orderflow.chain.backfill_report import BackfillReport
from orderflow.chain.capped_logs import KNOWN_RESULT_CAPS, resolve_whole
from orderflow.chain.checkpoints import Checkpoint
from orderflow.chain.contracts import ChainAddresses
from orderflow.chain.decode import decode_batch
from orderflow.chain.events import DecodedBatch
from orderflow.chain.listener_metrics import IngestMetrics
from orderflow.chain.partition_indexes import build_missing_in
from orderflow.chain.pending_sums import FoldSchedule, fold_in
from orderflow.chain.provider_errors import UnrecognisedGetLogsError
from orderflow.chain.reorg import BlockWindow
from orderflow.chain.rpc import EthClient
from orderflow.chain.store import StoreStats
from orderflow.chain.store_forks import held_elsewhere
from orderflow.chain.store_guard import store_rendered_isolating
from orderflow.errors import RangeTooLargeError, RetryableRpcError
from orderflow.progress import Progress
from orderflow.tracing import current_traceparent

log = logging.getLogger(__name__)

STREAM = "listener"
"""Checkpoint stream name of the live + backfill listener (orderflow_sync_checkpoints.stream)."""


_REFETCHES = 5  # a range whose logs and headers disagree is read again this many times
_AHEAD = 1  # ranges read (fetched and decoded) while the one before them is stored


class Backfiller:
    """Fetches, decodes and stores [from, to] range by range, advancing the checkpoint.

    Every log of a block within ``verify_depth`` blocks of ``to`` (the part of the chain that
    can still reorganise) is checked against that block's header, fetched from the node after
    the logs; a mismatch means the chain moved between the two requests and the range is read
    again. Those headers, and each range's end header, are stored with the range, so a later
    start finds the fork point of a reorg that happened while the listener was stopped.
    Deeper blocks are not checked: a reorg below the window is a ReorgError anyway.

    ``result_caps``: reply lengths that may mean a silent truncation (``GETLOGS_RESULT_CAPS``).
    ``count_rows``: whether the logs and trades counters count what it reads (not for the
    confirming read, :mod:`orderflow.chain.confirming`, which reads blocks stored already);
    ``trust_window``: a range the window holds as one linked chain is checked against it once its
    end is the node's (:class:`~orderflow.chain.backfill_read.RangeReader`; the confirming read).
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        client: EthClient,
        *,
        chain_id: int,
        addresses: ChainAddresses,
        ranges: AdaptiveRange,
        headers: HeaderCache,
        metrics: IngestMetrics | None = None,
        stream: str = STREAM,
        log_filter: dict[str, object] | None = None,
        window: BlockWindow | None = None,
        verify_depth: int = 256,
        end_headers: bool = True,
        untimed_conditions: bool = False,
        on_range: Callable[[int, int], None] | None = None,
        result_caps: Collection[int] = KNOWN_RESULT_CAPS,
        count_rows: bool = True,
        trust_window: bool = False,
    ) -> None:
        self.pool = pool
        self.client = client
        self.chain_id = chain_id
        self.addresses = addresses
        self.ranges = ranges
        self.headers = headers
        self.metrics = metrics
        self.stream = stream
        self.window = window
        self.verify_depth = verify_depth
        self.end_headers = end_headers
        self.untimed_conditions = untimed_conditions
        self.on_range = on_range
        self.result_caps = frozenset(result_caps)
        self.count_rows = count_rows  # False: a re-read, whose logs were counted when stored
        self._tracer = telemetry.tracer("orderflow.chain.backfill")
        self.log_filter = log_filter if log_filter is not None else addresses.log_filter()
        self._refusals = RangeRefusals(ranges, metrics)
        self._reader = RangeReader(
            client,
            chain_id=chain_id,
            addresses=addresses,
            headers=headers,
            log_filter=self.log_filter,
            window=window,
            end_headers=end_headers,
            untimed_conditions=untimed_conditions,
            result_caps=self.result_caps,
            tracer=self._tracer,
            held=self._held_elsewhere,
            trust_window=trust_window,
        )

    async def _held_elsewhere(self, start: int, end: int, reply: list[tuple[int, str]]) -> set[int]:
        """The heights of [start, end] whose stored rows of the filter the reply contradicts
        or lacks (``store_forks.held_elsewhere``): the range fetches and stores their headers."""
        watched = self.log_filter.get("address")
        addresses = [str(a).lower() for a in watched] if isinstance(watched, list) else []
        async with self.pool.acquire() as conn:
            return await held_elsewhere(
                conn,
                self.chain_id,
                start,
                end,
                addresses,
                self.addresses.ctf in addresses,
                reply,
            )

    async def run(
        self,
        from_block: int,
        to_block: int,
        *,
        progress: Progress | None = None,
        bulk: bool = False,
        recent_from: int | None = None,
    ) -> BackfillReport:
        """Store [from_block, to_block]; ``progress`` (unit: blocks, count: logs) follows it.

        ``recent_from``: the lowest block that can still reorganise (its logs checked against
        headers, its bloom among the run's top blocks); default: ``verify_depth`` below
        ``to_block`` (a run reaching the head). The confirming read, far below the head, passes
        the head's window instead.

        The next range is fetched, checked and decoded while the one before it is stored
        (:data:`_AHEAD` ranges ahead), so the node's replies and the decoding overlap the
        database's work. Ranges are stored strictly in order, each with its checkpoint: an
        error stops the backfill after every range read before it is stored, and none after.

        ``bulk`` (a history backfill): the ranges are stored in bulk mode, their per-(wallet,
        token) sums deferred and folded every ``pending_sums.FOLD_EVERY_FILLS`` fills and at the
        end, as a file import does (a backfill stopped before its fold leaves them to the next
        fold: the next backfill's, or the reputation run's, which folds before it reads).
        """
        report = BackfillReport(from_block, to_block)
        folds = FoldSchedule() if bulk else None
        verify_from = to_block - self.verify_depth + 1
        lag_from = to_block - LAG_CHECK_BLOCKS + 1
        if recent_from is not None:  # nothing deeper than the head's window is checked
            verify_from, lag_from = recent_from, max(recent_from, lag_from)
        self._reader.restart(verify_from, lag_from)
        queue: asyncio.Queue[ReadRange | Exception | None] = asyncio.Queue()
        slots = asyncio.Semaphore(1 + _AHEAD)  # the range being stored and those read ahead
        # held until its end built the deferred indexes: the listener's recovery keeps off
        held = index_recovery.bulk_import(self.pool) if bulk else contextlib.nullcontext()
        async with held:
            reader = asyncio.create_task(self._read_all(from_block, to_block, report, queue, slots))
            try:
                while (item := await queue.get()) is not None:
                    if isinstance(item, Exception):
                        raise item
                    stats = await self._store(item, report, bulk=bulk)
                    report.count_new(stats)
                    slots.release()
                    if folds is not None and folds.due(stats.trades):
                        await fold_in(self.pool)
                    report.ranges += 1
                    report.range_sizes.append(item.end - item.start + 1)
                    if self.on_range is not None:
                        self.on_range(item.start, item.end)
                    if progress is not None:
                        progress.update(item.end - from_block + 1, count=report.logs)
            finally:
                reader.cancel()  # a range read ahead of a failed store is read again next time
                await asyncio.wait([reader])
            if bulk:
                await fold_in(self.pool)
                # the indexes left out of the partitions it started empty (partition_indexes): the
                # catch-up is done, the live blocks go to indexed partitions from here on
                await build_missing_in(self.pool)
        if progress is not None:
            progress.finish()
        return report

    async def _read_all(
        self,
        from_block: int,
        to_block: int,
        report: BackfillReport,
        queue: asyncio.Queue[ReadRange | Exception | None],
        slots: asyncio.Semaphore,
    ) -> None:
        """Read the ranges of [from_block, to_block] in order into ``queue``, then None, or the
        error that stopped the reading (the ranges before it are stored first); a range is
        read only when ``slots`` has room for it (run() frees one per range stored)."""
        start = from_block
        self._refusals.forget()
        try:
            while start <= to_block:
                self.ranges.follow_stated()  # another reader may have learnt it
                end = min(to_block, start + self.ranges.size - 1)
                await slots.acquire()
                try:
                    item = await self._range(start, end, report)
                except RangeTooLargeError as exc:
                    slots.release()
                    self._refusals.refused(exc, start, report)
                    continue
                except UnrecognisedGetLogsError as exc:
                    slots.release()
                    await self._refusals.unrecognised(exc, start, end, report)
                    continue
                self._refusals.forget()
                if item.splits:
                    self.ranges.shrink()  # the next ranges start below the cap
                else:
                    self.ranges.success()
                await queue.put(item)
                start = end + 1
        except Exception as exc:
            await queue.put(exc)
            return
        await queue.put(None)

    async def _range(self, start: int, end: int, report: BackfillReport) -> ReadRange:
        """Read [start, end], again while the chain moves under it."""
        for attempt in range(_REFETCHES + 1):
            try:
                return await self._reader.read(start, end, last_try=attempt == _REFETCHES)
            except Reorganised as exc:
                report.refetches += 1
                behind = isinstance(exc, ReplyBehind)
                report.behind += behind
                if self.metrics and behind:
                    self.metrics.getlogs_behind.add(1)
                if attempt == _REFETCHES:
                    raise RetryableRpcError(
                        f"blocks {start}-{end} kept changing while read ({exc}); retrying later"
                    ) from None
                log.warning(
                    "an eth_getLogs reply was short of a block's logs (a node behind the head "
                    "answered): reading it again"
                    if behind
                    else "an eth_getLogs reply held two versions of one log: reading it again"
                    if isinstance(exc, TwoVersions)
                    else "the chain reorganised while a range was read: reading it again",
                    extra={"from_block": start, "to_block": end, "reason": str(exc)},
                )
                await asyncio.sleep(min(0.05 * 2**attempt, 2.0))
        raise AssertionError("unreachable")

    async def _store(self, item: ReadRange, report: BackfillReport, *, bulk: bool) -> StoreStats:
        """Store a range read by :meth:`RangeReader.read` with its headers and the checkpoint at
        its end."""
        batch, rows = item.chunk.batch, item.chunk.rows

        async def redecode() -> DecodedBatch:  # the rendered rows were refused
            batch = await asyncio.to_thread(decode_batch, item.ready, self.chain_id, self.addresses)
            batch.dead_letters += item.refused
            return batch

        with self._tracer.start_as_current_span(
            "backfill.range", attributes={"from_block": item.start, "to_block": item.end}
        ):
            end_header = item.verified.get(item.end)
            async with self.pool.acquire() as conn:
                stats = await store_rendered_isolating(
                    conn,
                    batch,
                    rows,
                    redecode,
                    chain_id=self.chain_id,
                    blocks=block_rows([*item.used, *item.verified.values()]),
                    checkpoint=Checkpoint(
                        self.stream, item.end, end_header.hash if end_header else None
                    ),
                    traceparent=current_traceparent(),
                    addresses=self.addresses,
                    untimed_conditions=self.untimed_conditions,
                    bulk=bulk,
                    authoritative=True,  # the node's logs: the chain is the truth
                )
                await resolve_whole(  # after its rows: a crash between leaves it in doubt
                    conn,
                    self.chain_id,
                    item.start,
                    item.end,
                    self.log_filter,
                    (d.block_number for d in item.capped if d.block_number is not None),
                )
        if self.window is not None:
            lowest = self.window.lowest
            for header in item.verified.values():
                if lowest is None or header.number >= lowest:  # a re-read old block: not recent
                    self.window.add(header)
        report.count(item, batch, rows)
        if self.metrics:
            if self.count_rows:
                self.metrics.count_batch(batch, rows)
            self.metrics.getlogs_cap_splits.add(item.splits)
            self.metrics.getlogs_narrowed_blocks.add(item.narrowed_blocks)
            self.metrics.getlogs_capped_blocks.add(item.capped_blocks)
            self.metrics.bloom_false_positives.add(item.bloom_false_positives)
        for dead in batch.dead_letters:
            log.warning(
                "undecodable log kept as a dead letter",
                extra={"tx_hash": dead.tx_hash, "log_index": dead.log_index, "reason": dead.reason},
            )
        done = {"from_block": item.start, "to_block": item.end, "logs": item.logs}
        log.debug("backfilled range", extra=done)
        return stats
