"""The storing half of a live session: buffered logs into the database with the checkpoint.

Logs from the subscription are buffered per block (``LiveStore.buffer``); ``flush`` stores the
blocks at or below head - confirmations in one ``store_batch_isolating`` together with their
headers and the checkpoint (head - max(confirmations, 1)). Heights marked for eth_getLogs
(``covered_to``: before the subscription, skipped heads, a reorg) are read by the backfiller
instead of taken from the buffer.

A notification the transport had to drop (its queue full: storage fell behind) is never
passed silently: from then on the checkpoint stays below the dropped item's block, and when
the session ends ``_keep_unstored`` moves it back there if it had already passed it (a late
log), so the next session's backfill reads that block again. The same holds for late logs
still buffered, or a store in flight, when a session ends for any reason.

:class:`~orderflow.chain.live_resync.LiveResync` (checkpoint, catch-up, re-reads, reorg repair)
builds on this class, and :class:`~orderflow.chain.live.LiveSession` (connecting, streaming) on
that one.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import asyncpg

from orderflow import telemetry
from orderflow.chain import rereads
from orderflow.chain.adaptive_range import AdaptiveRange
from orderflow.chain.backfill import (
    STREAM,
    Backfiller,
)
from orderflow.chain.backfill_headers import HeaderCache, block_of, block_rows, fill_timestamps
from orderflow.chain.backfill_read import bloom_misses
from orderflow.chain.checkpoints import Checkpoint, rewind_checkpoint
from orderflow.chain.confirming import CONFIRMED, ConfirmingRead
from orderflow.chain.contracts import MAINNET, ChainAddresses
from orderflow.chain.decode import DecodedBatch, decode_batch
from orderflow.chain.listener_metrics import IngestMetrics
from orderflow.chain.listener_state import ListenerState
from orderflow.chain.reorg import BlockWindow
from orderflow.chain.reply_versions import split_versions
from orderflow.chain.rpc import EthClient, Header, WsTransport
from orderflow.chain.settings import ListenerSettings
from orderflow.chain.store_guard import store_batch_isolating
from orderflow.errors import RangeTooLargeError, RetryableRpcError
from orderflow.tracing import current_traceparent

# The live session's one logger (and tracer), whichever of its modules logs.
log = logging.getLogger("orderflow.chain.live")

NO_BLOCK = -1  # buffer key of logs without a usable blockNumber (decode dead-letters them)


class LiveStore:
    """A live session's log buffer and how it is stored (see the module docstring)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        ws: WsTransport,
        backfill_client: EthClient,
        settings: ListenerSettings,
        *,
        state: ListenerState,
        metrics: IngestMetrics,
        window: BlockWindow,
        ranges: AdaptiveRange,
    ) -> None:
        self.pool = pool
        self.ws = ws
        self.client = EthClient(ws)
        self.settings = settings
        self.chain_id = settings.chain_id
        self.confirmations = settings.confirmations
        self.state = state
        self.metrics = metrics
        self.window = window
        self.backfill_client = backfill_client
        self.headers = HeaderCache(backfill_client)
        self.backfiller = Backfiller(
            pool,
            backfill_client,
            chain_id=settings.chain_id,
            addresses=settings.addresses,
            ranges=ranges,
            headers=self.headers,
            metrics=metrics,
            window=window,
            verify_depth=settings.reorg_window_blocks,
            result_caps=settings.getlogs_result_caps,
        )
        self.confirming = ConfirmingRead(
            pool,
            backfill_client,
            settings,
            state=state,
            metrics=metrics,
            window=window,
            ranges=ranges,
            headers=self.headers,
        )
        self.buffer: dict[int, list[Mapping[str, Any]]] = defaultdict(list)
        self.pending_since: float | None = None
        self.covered_to = 0  # blocks <= this come from eth_getLogs, above from the subscription
        self.last_head: Header | None = None
        self.storing_from: int | None = None  # lowest block of a store in flight
        # (block, hash) of every log the subscription sent, until the checkpoint passes it
        self.logged: set[tuple[int, str]] = set()
        self.misses_in_a_row = 0  # blocks the subscription sent no log of, none sent since
        self._heads_seen = 0
        self._tracer = telemetry.tracer("orderflow.chain.live")

    # --- nothing received may stay behind the checkpoint ----------------------------------------

    def _resync_from(self) -> tuple[int | None, list[int]]:
        """The lowest block whose logs may not all be stored although the checkpoint passed it,
        and the older such blocks, to be read again one by one.

        A notification the transport dropped (queue full, or naming a subscription it never
        confirmed), a late log still in the buffer when the session ends, a store in flight:
        the next session must read the chain again from there. Such a block is recent (a late
        log comes within moments of its head); one deeper than ``REORG_WINDOW_BLOCKS`` below
        the checkpoint is an old log replayed (a hostile or broken node): only that block is
        read again (``rereads``), never every block since. Until 4 Dec 2026 the checkpoint
        was moved back below it: one replayed log of an old block, then a dropped connection,
        sent the next session over every block since (on Polygon, possibly years).
        """
        cp = self.state.checkpoint
        if cp is None:
            return None, []
        candidates = {n for n in self.buffer if NO_BLOCK < n <= cp}
        if self.storing_from is not None:
            candidates.add(self.storing_from)
        if self.ws.dropped_from_block is not None:
            candidates.add(self.ws.dropped_from_block)
        floor = cp - self.settings.reorg_window_blocks
        old = sorted(n for n in candidates if n < floor)
        low = min((n for n in candidates if n >= floor), default=None)
        return (low if low is not None and low <= cp else None), old

    async def _keep_unstored(self) -> None:
        """Move the checkpoint back below anything this session received but did not store
        (an old block: queued to be read again alone)."""
        if self.ws.overflowed or self.ws.strays:
            log.warning(
                "subscription notifications were dropped (queue full, or sent under an id "
                "never confirmed): resynchronising",
                extra={
                    "dropped": self.ws.dropped,
                    "from_block": self.ws.dropped_from_block,
                    "checkpoint": self.state.checkpoint,
                },
            )
        low, old = self._resync_from()
        if old:
            async with self.pool.acquire() as conn:
                for number in old:
                    await rereads.queue(
                        conn, self.chain_id, number, "", "a late log of an old block, not stored"
                    )
            log.warning(
                "a log of an old block was not stored: that block is read again alone",
                extra={"blocks": old},
            )
        if low is None:
            return
        async with self.pool.acquire() as conn:
            await rewind_checkpoint(conn, self.chain_id, STREAM, low - 1)
            await rewind_checkpoint(conn, self.chain_id, CONFIRMED, low - 1)  # read again too
        self.state.checkpoint = low - 1
        log.warning(
            "checkpoint moved back: the next session reads these blocks again",
            extra={"block": low - 1},
        )

    # --- storing --------------------------------------------------------------------------------

    async def flush(self) -> None:
        """Store every buffered block at or below head - confirmations, with the checkpoint."""
        if self.last_head is None or self.state.checkpoint is None:
            return
        head = self.last_head.number
        upto = head - self.confirmations
        await self._check_blooms(head - max(self.confirmations, 1))
        via_getlogs = min(upto, self.covered_to)
        if self.state.checkpoint < via_getlogs:
            await self.backfiller.run(self.state.checkpoint + 1, via_getlogs)
            self.state.checkpoint = via_getlogs
            for number in [n for n in self.buffer if NO_BLOCK < n <= via_getlogs]:
                del self.buffer[number]
        cp = self.state.checkpoint
        new_cp = head - max(self.confirmations, 1)
        ready_blocks = sorted(n for n in self.buffer if n <= upto)
        self.pending_since = None  # everything at or below upto is taken now
        if not ready_blocks and new_cp <= cp:
            return
        # Every block's hash first: a node error here leaves the buffer whole.
        expected = {number: await self._hash_of(number) for number in ready_blocks}
        raws: list[Mapping[str, Any]] = []
        for number in ready_blocks:
            for raw in self.buffer.pop(number):
                hash_ = expected[number]
                if hash_ is not None and str(raw.get("blockHash", "")).lower() != hash_:
                    log.info("log of an orphaned block dropped", extra=log_ids(raw))
                    continue
                raws.append(raw)
        if split_versions(raws, self.chain_id)[1]:
            # Two versions of one log: the batch is not trusted. Its blocks are read with
            # eth_getLogs instead (the backfill reads a reply that keeps doing so again, then
            # dead-letters every version: reply_versions), up to ``upto`` with the checkpoint.
            low = min([n for n in ready_blocks if n > NO_BLOCK] + [cp + 1])
            log.warning(
                "the subscription sent two versions of one log: reading its blocks with "
                "eth_getLogs instead",
                extra={"from_block": low, "to_block": upto},
            )
            await self.backfiller.run(low, upto)
            self.state.checkpoint = max(cp, upto)
            return
        # Until they are committed, these logs are neither in the buffer nor in the database.
        self.storing_from = min(
            (n for raw in raws if (n := block_of(raw)) is not None), default=None
        )
        await self._store(raws, cp, new_cp)
        self.storing_from = None

    def note_log(self, number: int, block_hash: object) -> None:
        """The subscription sent a log of block ``number`` named ``block_hash``."""
        self.logged.add((number, str(block_hash).lower()))
        self.misses_in_a_row = 0

    async def _check_blooms(self, new_cp: int) -> None:
        """Before the checkpoint passes the subscription's blocks up to ``new_cp``: a block
        whose head's ``logsBloom`` may hold a log of the filter and of which the subscription
        sent none is read by its hash (``backfill_read.bloom_misses``). Logs there → the
        subscription missed them: the blocks up to it are read with eth_getLogs by this flush;
        a second such block with no log sent in between → the subscription is taken as dead
        and the session ends (the next one resubscribes and reads from the checkpoint). A read
        by hash that fails (a backend behind: "unknown block") reads the blocks with eth_getLogs.

        A node may drop a logs subscription and keep the connection and the heads
        (ethereum/go-ethereum#2887): until 7 Dec 2026 each head stored an empty buffer with
        the checkpoint, and the fills of every block since were lost for good."""
        cp = self.state.checkpoint
        if cp is None:
            return
        numbers = range(max(cp, self.covered_to) + 1, new_cp + 1)
        headers = {n: h for n in numbers if (h := self.window.get(n)) is not None}
        with_logs = {n for n, h in headers.items() if (n, h.hash) in self.logged}
        self.logged = {k for k in self.logged if k[0] > new_cp}
        try:
            missed, found, false_positives = await bloom_misses(
                self.backfill_client,
                headers,
                with_logs,
                numbers,
                self.settings.addresses.log_filter(),
            )
        except (RetryableRpcError, RangeTooLargeError) as exc:
            # A backend without the block yet ("unknown block": a load-balanced endpoint): the
            # blocks are read with eth_getLogs, whose reads wait for such a backend, rather
            # than the session ended on every such answer.
            log.warning(
                "a read by hash of a block the logs subscription sent no log of failed: "
                "reading the blocks with eth_getLogs",
                extra={"from_block": numbers.start, "to_block": new_cp, "reason": str(exc)},
            )
            self.covered_to = max(self.covered_to, new_cp)
            return
        self.metrics.bloom_false_positives.add(false_positives)
        if missed is None:
            return
        self.metrics.subscription_missed_blocks.add(1)
        self.misses_in_a_row += 1
        if self.misses_in_a_row >= 2:
            raise RetryableRpcError(
                f"the logs subscription on {self.ws.endpoint} sent no log of block "
                f"{missed.number}, which holds {found} (read by its hash), nor any log since "
                "the last such block: treating the subscription as dead"
            )
        log.warning(
            "the logs subscription sent no log of a block that holds some (read by its "
            "hash): reading it with eth_getLogs",
            extra={"block": missed.number, "logs": found},
        )
        self.covered_to = max(self.covered_to, missed.number)

    async def _hash_of(self, number: int) -> str | None:
        """The block hash a buffered log of block ``number`` must name: the held header's, else
        the node's block's at that height, or "" (none) when the node has no block
        there any more (the chain got shorter); None for logs without a block number.

        A block is not held when it was read with eth_getLogs (whose headers are those of its
        logs' blocks and of its end) or lies below the window: until 4 Dec 2026 a log of it
        arriving late (heads skipped around a reorg, logs after their head) was taken
        unchecked, and an orphaned block's fill was stored.
        """
        held = self.window.get(number)
        if held is not None:
            return held.hash
        if number == NO_BLOCK:
            return None
        canonical = await self.client.header_by_number(number)
        # Not added to the window: the node may have moved on below it, unseen yet, and the
        # fork walk would stop at this block, above the fork.
        return canonical.hash if canonical is not None else ""

    async def _store(self, raws: list[Mapping[str, Any]], cp: int, new_cp: int) -> None:
        with self._tracer.start_as_current_span("live.flush", attributes={"logs": len(raws)}):
            ready, used, orphans = await fill_timestamps(raws, self.headers)
            for raw in orphans:
                log.info("log of a vanished block dropped", extra=log_ids(raw))
            checkpoint = None
            dropped = self.ws.dropped_from_block
            if dropped is not None:
                new_cp = min(new_cp, dropped - 1)  # never past a notification we lost
            headers = list(used)
            # Record the header of every block we store logs of: a later start compares them
            # with the node's (reorgs while away).
            for raw in ready:
                number = block_of(raw)
                held = self.window.get(number) if number is not None else None
                if held is not None:
                    headers.append(held)
            if new_cp > cp:
                cp_header = self.window.get(new_cp) or await self.client.header_by_number(new_cp)
                if cp_header is not None:
                    checkpoint = Checkpoint(STREAM, new_cp, cp_header.hash)
                    headers += self.window.between(cp + 1, new_cp)
                    headers.append(cp_header)
            batch = await decode_batch_async(ready, self.chain_id, self.settings.addresses)
            async with self.pool.acquire() as conn:
                await store_batch_isolating(
                    conn,
                    batch,
                    chain_id=self.chain_id,
                    blocks=block_rows(headers),
                    checkpoint=checkpoint,
                    traceparent=current_traceparent(),
                    addresses=self.settings.addresses,
                    authoritative=True,  # the node's logs: the chain is the truth
                )
        if checkpoint is not None:
            self.state.checkpoint = checkpoint.block_number
            if self.state.lag is not None:
                self.metrics.head_lag.set(self.state.lag)
        self.metrics.count_batch(batch)
        for fill in batch.fills:
            log.debug(
                "fill stored",
                extra={"tx_hash": fill.ref.tx_hash, "log_index": fill.ref.log_index},
            )
        for dead in batch.dead_letters:
            log.warning(
                "undecodable log kept as a dead letter",
                extra={"tx_hash": dead.tx_hash, "log_index": dead.log_index, "reason": dead.reason},
            )


def log_ids(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {"tx_hash": raw.get("transactionHash"), "log_index": raw.get("logIndex")}


# Decoding is pure CPU. A ConditionPreparation with 256 outcomes derives 256 token ids (two
# 254-bit modular exponentiations each: about 0.1 s of CPU), and a large batch takes a while
# too; on the listener's event loop either would stall heads, pings and /healthz.
_OFF_LOOP_LOGS = 500


def _needs_thread(raws: list[Any], addresses: ChainAddresses) -> bool:
    if len(raws) >= _OFF_LOOP_LOGS:
        return True
    ctf = addresses.ctf
    return any(
        isinstance(r, Mapping) and isinstance(a := r.get("address"), str) and a.lower() == ctf
        for r in raws
    )


async def decode_batch_async(
    raws: Iterable[Mapping[str, Any]], chain_id: int, addresses: ChainAddresses = MAINNET
) -> DecodedBatch:
    """:func:`decode_batch` for code on the event loop: batches that may take long (many logs,
    or ConditionalTokens events, whose token ids are derived here) run in a worker thread."""
    items = list(raws)
    if _needs_thread(items, addresses):
        return await asyncio.to_thread(decode_batch, items, chain_id, addresses)
    return decode_batch(items, chain_id, addresses)
