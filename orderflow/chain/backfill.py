"""eth_getLogs backfill: from the checkpoint to a target block in adaptive ranges.

Each range is fetched, given block timestamps where the node left them out, decoded, and
stored with the checkpoint in ONE transaction (``store.store_batch``): a crash between ranges
loses nothing and repeats nothing that matters (rows are idempotent on (chain, tx, log index)).

Logs of blocks that can still reorganise (within ``REORG_WINDOW_BLOCKS`` of the target) are
checked against their block headers, fetched after the logs; a mismatch (the chain moved
between the two requests) reads the range again. Those headers are stored with the range, so
every recent block holding a stored log has its header in ``orderflow_blocks`` for the reorg
checks of a later start.

Ranges adapt to the node: a refusal ("query returned more than …", -32005, size limits) or a
timed-out eth_getLogs halves the range; a few successes in a row double it again, up to the
configured maximum. A node that refuses even the minimum range is a configuration problem and
stops the backfill with a FatalRpcError saying so.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from orderflow import telemetry
from orderflow.chain.block_times import BlockHeader
from orderflow.chain.checkpoints import Checkpoint
from orderflow.chain.contracts import TOPIC_CONDITION_PREPARATION, ChainAddresses
from orderflow.chain.decode import decode_batch, decode_batch_async
from orderflow.chain.fields import FieldError, block_number, hash32, topic0_of
from orderflow.chain.listener_metrics import IngestMetrics
from orderflow.chain.reorg import BlockWindow
from orderflow.chain.rpc import EthClient, Header
from orderflow.chain.store_guard import store_batch_isolating
from orderflow.errors import RangeTooLargeError, RetryableRpcError
from orderflow.progress import Progress
from orderflow.tracing import current_traceparent

log = logging.getLogger(__name__)

STREAM = "listener"
"""Checkpoint stream name of the live + backfill listener (orderflow_sync_checkpoints.stream)."""


@dataclass
class AdaptiveRange:
    """The eth_getLogs block range: halves on refusal, doubles after ``grow_after`` successes."""

    size: int
    min_size: int
    max_size: int
    grow_after: int = 3
    _streak: int = 0

    def shrink(self, to: int | None = None) -> bool:
        """Halve the range, or cut it to ``to`` blocks (a limit the provider stated, which also
        becomes the new maximum); False when it is already at the minimum."""
        self._streak = 0
        if self.size <= self.min_size:
            return False
        if to is not None and to < self.size:
            self.max_size = max(self.min_size, min(self.max_size, to))
            self.size = max(self.min_size, to)
        else:
            self.size = max(self.min_size, self.size // 2)
        return True

    def success(self) -> None:
        self._streak += 1
        if self._streak >= self.grow_after and self.size < self.max_size:
            self.size = min(self.max_size, self.size * 2)
            self._streak = 0


class HeaderCache:
    """Block headers by hash, bounded LRU: live logs and reorg checks ask for the same blocks."""

    def __init__(self, client: EthClient, size: int = 4096) -> None:
        self._client = client
        self._size = size
        self._by_hash: OrderedDict[str, Header] = OrderedDict()

    def put(self, header: Header) -> None:
        self._by_hash[header.hash] = header
        self._by_hash.move_to_end(header.hash)
        while len(self._by_hash) > self._size:
            self._by_hash.popitem(last=False)

    def cached(self, block_hash: str) -> Header | None:
        return self._by_hash.get(block_hash.lower())

    async def by_hash(self, block_hash: str) -> Header | None:
        """The header, from the cache or the node; None when the node does not know it."""
        found = self.cached(block_hash)
        if found is None:
            found = await self._client.header_by_hash(block_hash)
            if found is not None:
                self.put(found)
        return found


async def fill_timestamps(
    raws: Sequence[Mapping[str, Any]], headers: HeaderCache
) -> tuple[list[Mapping[str, Any]], list[Header], list[Mapping[str, Any]]]:
    """Give every log a ``blockTimestamp`` (from its block header when the node left it out).

    Returns (logs ready to decode, headers used, orphans): an orphan's block is unknown to the
    node — it was reorganised away between delivery and now — so it must not be stored.
    """
    ready: list[Mapping[str, Any]] = []
    used: dict[str, Header] = {}
    orphans: list[Mapping[str, Any]] = []
    for raw in raws:
        if raw.get("blockTimestamp") is not None or not _is_hash(raw.get("blockHash")):
            ready.append(raw)  # malformed logs go on to decode, which dead-letters them
            continue
        header = await headers.by_hash(raw["blockHash"])
        if header is None:
            orphans.append(raw)
            continue
        used[header.hash] = header
        ready.append({**raw, "blockTimestamp": hex(int(header.timestamp.timestamp()))})
    return ready, list(used.values()), orphans


def _is_hash(value: Any) -> bool:
    """A 32-byte 0x hash: only those are worth asking the node about (a hostile string would
    make it answer "invalid params")."""
    try:
        hash32(value, "blockHash")
    except FieldError:
        return False
    return True


def block_of(raw: Mapping[str, Any]) -> int | None:
    """A raw log's block number, or None when it is missing, malformed or out of range."""
    try:
        return block_number(raw["blockNumber"])
    except (KeyError, FieldError):
        return None


def block_rows(headers: Iterable[Header]) -> list[BlockHeader]:
    """Our RPC headers as the store's block rows (deduplicated by number, last one wins)."""
    by_number = {h.number: h for h in headers}
    return [
        BlockHeader(h.number, h.hash, h.parent_hash, h.timestamp)
        for _, h in sorted(by_number.items())
    ]


@dataclass
class BackfillReport:
    """What one backfill call did (for logs and tests)."""

    from_block: int
    to_block: int
    ranges: int = 0
    logs: int = 0
    fills: int = 0
    dead_letters: int = 0
    shrinks: int = 0
    refetches: int = 0
    conditions: int = 0
    resolutions: int = 0
    range_sizes: list[int] = field(default_factory=list)


class _Reorganised(Exception):
    """The logs of a range and the node's headers disagree: the chain moved while we read."""


_REFETCHES = 5  # a range whose logs and headers disagree is read again this many times
_HEADER_CONCURRENCY = 8


class Backfiller:
    """Fetches, decodes and stores [from, to] range by range, advancing the checkpoint.

    Every log of a block within ``verify_depth`` blocks of ``to`` (the part of the chain that
    can still reorganise) is checked against that block's header, fetched from the node after
    the logs; a mismatch means the chain moved between the two requests and the range is read
    again. Those headers, and each range's end header, are stored with the range, so a later
    start finds the fork point of a reorg that happened while the listener was stopped.
    Deeper blocks are not checked: a reorg below the window is a ReorgError anyway.
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
        decode_in_thread: bool = False,
        on_range: Callable[[int, int], None] | None = None,
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
        self.decode_in_thread = decode_in_thread
        self.on_range = on_range
        self._filter = log_filter if log_filter is not None else addresses.log_filter()
        self._verify_from = 0
        self._tracer = telemetry.tracer("orderflow.chain.backfill")

    async def run(
        self, from_block: int, to_block: int, *, progress: Progress | None = None
    ) -> BackfillReport:
        """Store [from_block, to_block]; ``progress`` (unit: blocks, count: logs) follows it."""
        report = BackfillReport(from_block, to_block)
        self._verify_from = to_block - self.verify_depth + 1
        start = from_block
        while start <= to_block:
            end = min(to_block, start + self.ranges.size - 1)
            try:
                stored = await self._range(start, end, report)
            except RangeTooLargeError as exc:
                report.shrinks += 1
                if self.metrics:
                    self.metrics.range_shrinks.add(1)
                if not self.ranges.shrink(getattr(exc, "max_blocks", None)):
                    # Never fatal: a hanging or overloaded provider recovers. The session ends
                    # and the listener reconnects after its backoff, forever, saying why.
                    raise RetryableRpcError(
                        f"{exc}; the range is already at GETLOGS_MIN_BLOCKS="
                        f"{self.ranges.min_size}: backing off and retrying (if this repeats, "
                        "the node is down or its eth_getLogs limits are too small)"
                    ) from None
                log.info(
                    "eth_getLogs range refused, shrinking",
                    extra={"from_block": start, "blocks": self.ranges.size, "reason": str(exc)},
                )
                continue
            self.ranges.success()
            report.ranges += 1
            report.range_sizes.append(end - start + 1)
            if self.on_range is not None:
                self.on_range(start, end)
            if progress is not None:
                progress.update(stored - from_block + 1, count=report.logs)
            start = stored + 1
        if progress is not None:
            progress.finish()
        return report

    async def _range(self, start: int, end: int, report: BackfillReport) -> int:
        """Fetch and store [start, end], reading it again while the chain moves under it."""
        for attempt in range(_REFETCHES + 1):
            try:
                return await self._range_once(start, end, report)
            except _Reorganised as exc:
                report.refetches += 1
                if attempt == _REFETCHES:
                    raise RetryableRpcError(
                        f"blocks {start}-{end} kept changing while read ({exc}); retrying later"
                    ) from None
                log.warning(
                    "the chain reorganised while a range was read: reading it again",
                    extra={"from_block": start, "to_block": end, "reason": str(exc)},
                )
                await asyncio.sleep(min(0.05 * 2**attempt, 2.0))
        raise AssertionError("unreachable")

    async def _headers_by_number(self, numbers: Iterable[int]) -> dict[int, Header | None]:
        gate = asyncio.Semaphore(_HEADER_CONCURRENCY)

        async def one(number: int) -> tuple[int, Header | None]:
            async with gate:
                return number, await self.client.header_by_number(number)

        return dict(await asyncio.gather(*(one(n) for n in sorted(set(numbers)))))

    async def _verified_headers(
        self, start: int, end: int, raws: Sequence[Mapping[str, Any]]
    ) -> dict[int, Header]:
        """Headers (fetched after the logs) of the recent blocks holding logs, and of ``end``.

        Raises _Reorganised when a log's blockHash is not its block's hash any more.
        """
        wanted = {n for r in raws if (n := block_of(r)) is not None and n >= self._verify_from}
        if self.end_headers:
            wanted.add(end)
        fetched = await self._headers_by_number(wanted)
        if end in wanted and fetched[end] is None:
            raise RetryableRpcError(
                f"eth_getBlockByNumber on {self.client.endpoint}: block {end} not found "
                "(node behind its own eth_blockNumber?)"
            )
        headers: dict[int, Header] = {}
        for number, header in fetched.items():
            if header is None:
                raise _Reorganised(f"block {number} of a log is gone")
            headers[number] = header
        for raw in raws:
            log_block = block_of(raw)
            held = headers.get(log_block) if log_block is not None else None
            if (
                held is not None
                and _is_hash(raw.get("blockHash"))  # a malformed one is a dead letter, not a fork
                and str(raw.get("blockHash")).lower() != held.hash
            ):
                raise _Reorganised(
                    f"a log of block {held.number} names block hash {raw.get('blockHash')}, "
                    f"the node now has {held.hash}"
                )
        return headers

    async def _range_once(self, start: int, end: int, report: BackfillReport) -> int:
        """Fetch and store [start, end] once; returns ``end``."""
        with self._tracer.start_as_current_span(
            "backfill.range", attributes={"from_block": start, "to_block": end}
        ):
            raws = await self.client.get_logs(start, end, self._filter)
            verified = await self._verified_headers(start, end, raws)
            for header in verified.values():
                self.headers.put(header)
            if self.untimed_conditions:
                # ConditionPreparation needs no time here (its tokens are the point): no
                # header request for a node that leaves blockTimestamp out.
                timeless = [r for r in raws if topic0_of(r) == TOPIC_CONDITION_PREPARATION]
                rest = [r for r in raws if topic0_of(r) != TOPIC_CONDITION_PREPARATION]
                ready, used, orphans = await fill_timestamps(rest, self.headers)
                ready += timeless
            else:
                ready, used, orphans = await fill_timestamps(raws, self.headers)
            if orphans:
                raise _Reorganised(f"{len(orphans)} log(s) name a block the node no longer has")
            if self.decode_in_thread:
                batch = await asyncio.to_thread(decode_batch, ready, self.chain_id, self.addresses)
            else:
                batch = await decode_batch_async(ready, self.chain_id, self.addresses)
            end_header = verified.get(end)
            async with self.pool.acquire() as conn:
                await store_batch_isolating(
                    conn,
                    batch,
                    chain_id=self.chain_id,
                    blocks=block_rows([*used, *verified.values()]),
                    checkpoint=Checkpoint(
                        self.stream, end, end_header.hash if end_header else None
                    ),
                    traceparent=current_traceparent(),
                    addresses=self.addresses,
                    untimed_conditions=self.untimed_conditions,
                )
        if self.window is not None:
            for header in verified.values():
                self.window.add(header)
        report.logs += len(raws)
        report.fills += len(batch.fills)
        report.dead_letters += len(batch.dead_letters)
        report.conditions += len(batch.conditions)
        report.resolutions += len(batch.resolutions)
        if self.metrics:
            self.metrics.count_batch(batch)
        for dead in batch.dead_letters:
            log.warning(
                "undecodable log kept as a dead letter",
                extra={"tx_hash": dead.tx_hash, "log_index": dead.log_index, "reason": dead.reason},
            )
        log.debug(
            "backfilled range",
            extra={"from_block": start, "to_block": end, "logs": len(raws)},
        )
        return end
