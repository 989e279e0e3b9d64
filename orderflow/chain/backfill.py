"""eth_getLogs backfill: from the checkpoint to a target block in adaptive ranges.

Each range is fetched, given block timestamps where the node left them out, decoded, and
stored with the checkpoint in ONE transaction (``store.store_batch``): a crash between ranges
loses nothing and repeats nothing that matters (rows are idempotent on (chain, tx, log index)).

Ranges adapt to the node: a refusal ("query returned more than …", -32005, size limits) or a
timed-out eth_getLogs halves the range; a few successes in a row double it again, up to the
configured maximum. A node that refuses even the minimum range is a configuration problem and
stops the backfill with a FatalRpcError saying so.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from opentelemetry import propagate

from orderflow import telemetry
from orderflow.chain import store
from orderflow.chain.contracts import ChainAddresses
from orderflow.chain.decode import DecodedBatch, decode_batch_async
from orderflow.chain.fields import FieldError, block_number, hash32
from orderflow.chain.rpc import EthClient, Header
from orderflow.chain.store_guard import store_batch_isolating
from orderflow.errors import RangeTooLargeError, RetryableRpcError

log = logging.getLogger(__name__)

STREAM = "listener"
"""Checkpoint stream name of the live + backfill listener (orderflow_sync_checkpoints.stream)."""


class IngestMetrics:
    """The listener's OpenTelemetry instruments (exported on /metrics by the HealthServer)."""

    def __init__(self) -> None:
        meter = telemetry.meter("orderflow.chain.listener")
        self.logs = meter.create_counter(
            "orderflow_listener_logs", unit="{log}", description="Raw logs received and decoded"
        )
        self.trades = meter.create_counter(
            "orderflow_listener_trades", unit="{trade}", description="Trades (fills) stored"
        )
        self.dead_letters = meter.create_counter(
            "orderflow_listener_dead_letters",
            unit="{log}",
            description="Logs that could not be decoded (kept in orderflow_dead_letters)",
        )
        self.reorgs = meter.create_counter(
            "orderflow_listener_reorgs", unit="{reorg}", description="Reorganisations repaired"
        )
        self.reconnects = meter.create_counter(
            "orderflow_listener_reconnects",
            unit="{reconnect}",
            description="WebSocket reconnections after a failure or silence",
        )
        self.range_shrinks = meter.create_counter(
            "orderflow_listener_range_shrinks",
            unit="{shrink}",
            description="eth_getLogs ranges halved after a refusal or timeout",
        )
        self.head_lag = meter.create_gauge(
            "orderflow_listener_head_lag_blocks",
            unit="{block}",
            description="Node head minus the stored checkpoint",
        )

    def count_batch(self, batch: DecodedBatch) -> None:
        self.logs.add(len(batch))
        self.trades.add(len(batch.fills))
        self.dead_letters.add(len(batch.dead_letters))


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


def block_rows(headers: Iterable[Header]) -> list[store.BlockHeader]:
    """Our RPC headers as the store's block rows (deduplicated by number, last one wins)."""
    by_number = {h.number: h for h in headers}
    return [
        store.BlockHeader(h.number, h.hash, h.parent_hash, h.timestamp)
        for _, h in sorted(by_number.items())
    ]


def current_traceparent() -> str | None:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


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
    range_sizes: list[int] = field(default_factory=list)


class Backfiller:
    """Fetches, decodes and stores [from, to] range by range, advancing the checkpoint."""

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
    ) -> None:
        self.pool = pool
        self.client = client
        self.chain_id = chain_id
        self.addresses = addresses
        self.ranges = ranges
        self.headers = headers
        self.metrics = metrics
        self.stream = stream
        self._filter = addresses.log_filter()
        self._tracer = telemetry.tracer("orderflow.chain.backfill")

    async def run(self, from_block: int, to_block: int) -> BackfillReport:
        report = BackfillReport(from_block, to_block)
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
            start = stored + 1
        return report

    async def _range(self, start: int, end: int, report: BackfillReport) -> int:
        """Fetch and store [start, end]; returns ``end``."""
        with self._tracer.start_as_current_span(
            "backfill.range", attributes={"from_block": start, "to_block": end}
        ):
            raws = await self.client.get_logs(start, end, self._filter)
            end_header = await self.client.header_by_number(end)
            if end_header is None:
                raise RetryableRpcError(
                    f"eth_getBlockByNumber on {self.client.endpoint}: block {end} not found "
                    "(node behind its own eth_blockNumber?)"
                )
            self.headers.put(end_header)
            ready, used, orphans = await fill_timestamps(raws, self.headers)
            if orphans or any(
                block_of(r) == end
                and _is_hash(r.get("blockHash"))  # a malformed one is a dead letter, not a fork
                and str(r.get("blockHash")).lower() != end_header.hash
                for r in raws
            ):
                raise RetryableRpcError(
                    f"the chain reorganised while blocks {start}-{end} were fetched; retrying"
                )
            batch = await decode_batch_async(ready, self.chain_id, self.addresses)
            async with self.pool.acquire() as conn:
                await store_batch_isolating(
                    conn,
                    batch,
                    chain_id=self.chain_id,
                    blocks=block_rows([*used, end_header]),
                    checkpoint=store.Checkpoint(self.stream, end, end_header.hash),
                    traceparent=current_traceparent(),
                )
        report.logs += len(raws)
        report.fills += len(batch.fills)
        report.dead_letters += len(batch.dead_letters)
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
