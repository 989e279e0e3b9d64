"""One connected listener session: catch up by backfill, subscribe, stream until it breaks.

Order of events in a session (``LiveSession.run``):

1. check the node's chain id; load the recent block hashes (reorg window) from the database;
2. backfill from the checkpoint to head - confirmations (verifying the checkpoint's block hash
   first: a reorg while we were down is repaired before anything else);
3. subscribe to ``newHeads`` and ``logs`` (every watched address, every stored topic0);
4. note the head ``H`` right after subscribing: every block above ``H`` was mined after the
   subscription existed, so its logs arrive on it; blocks up to ``H`` are fetched with
   eth_getLogs — no gap whatever the timing;
5. stream: logs are buffered per block; each new head (or a short timer for logs that arrive
   after their head) flushes the blocks at or below head - confirmations in one
   ``store_batch`` together with their headers and the checkpoint.

The checkpoint advances to head - max(confirmations, 1): with zero confirmations a block's logs
are stored at once but the checkpoint waits one block, because nodes may deliver a block's logs
just after its header. The same log arriving twice (subscription and backfill, or a replay) is
harmless: the store is idempotent on (chain id, tx hash, log index).

Reorgs (a head contradicting a held hash, a head two or more above the newest held block whose
top no longer is the node's, or a ``removed: true`` log) drop the buffered logs of the
orphaned heights, ``rollback_from`` the fork point, and re-ingest the canonical blocks with
eth_getLogs. Heights whose heads never came are read with eth_getLogs too. Any RPC failure or
silence propagates to :mod:`orderflow.chain.listener`, which reconnects with backoff and starts
a new session (step 1 again).

A notification the transport had to drop (its queue full: storage fell behind) is never
passed silently: from then on the checkpoint stays below the dropped item's block, and when
the session ends it is moved back there if it had already passed it (a late log), so the
next session's backfill reads that block again. The same holds for late logs still buffered
when a session ends for any reason.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

from orderflow import telemetry
from orderflow.chain.backfill import (
    STREAM,
    AdaptiveRange,
    Backfiller,
    HeaderCache,
    block_of,
    block_rows,
    fill_timestamps,
)
from orderflow.chain.checkpoints import Checkpoint, get_checkpoint, rewind_checkpoint
from orderflow.chain.decode import decode_batch, decode_batch_async
from orderflow.chain.listener_metrics import IngestMetrics
from orderflow.chain.reorg import BlockWindow, conflicts, find_fork_point, prune_blocks
from orderflow.chain.rollback import rollback_from
from orderflow.chain.rpc import EthClient, Header, WsTransport
from orderflow.chain.settings import ListenerSettings
from orderflow.chain.store import store_batch
from orderflow.chain.store_guard import store_batch_isolating
from orderflow.errors import RetryableRpcError
from orderflow.progress import Progress
from orderflow.tracing import current_traceparent

log = logging.getLogger(__name__)

# A catch-up at least this long shows its progress (blocks, rate, ETA) on a terminal, in the logs
# and as orderflow_progress_* metrics (job="backfill"): a history backfill runs for hours.
BACKFILL_PROGRESS_BLOCKS = 1_000

_NO_BLOCK = -1  # buffer key of logs without a usable blockNumber (decode dead-letters them)
_PRUNE_EVERY_HEADS = 100
_REMOVAL_AHEAD = 64  # a removed log may name a block this far above the newest head seen


@dataclass
class ListenerState:
    """Progress shared with /readyz and tests (monotonic clock for ages)."""

    head: int | None = None
    head_seen_at: float | None = None
    checkpoint: int | None = None
    connected: bool = False
    streaming: bool = False
    reconnects: int = 0
    reorgs: int = 0
    sessions: int = 0
    conditions_synced: bool = False

    @property
    def lag(self) -> int | None:
        if self.head is None or self.checkpoint is None:
            return None
        return max(0, self.head - self.checkpoint)


class LiveSession:
    """One WebSocket connection's worth of listening (see the module docstring)."""

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
        )
        self.buffer: dict[int, list[Mapping[str, Any]]] = defaultdict(list)
        self.pending_since: float | None = None
        self.covered_to = 0  # blocks <= this come from eth_getLogs, above from the subscription
        self.last_head: Header | None = None
        self.storing_from: int | None = None  # lowest block of a store in flight
        self._heads_seen = 0
        self._tracer = telemetry.tracer("orderflow.chain.live")

    # --- checkpoint ---------------------------------------------------------------------------

    async def _load_checkpoint(self) -> Checkpoint | None:
        """The stored checkpoint; ``state.checkpoint`` also covers "nothing before START_BLOCK"."""
        async with self.pool.acquire() as conn:
            cp = await get_checkpoint(conn, self.chain_id, STREAM)
        start = self.settings.start_block
        self.state.checkpoint = (
            cp.block_number if cp else (start - 1 if start is not None else None)
        )
        return cp

    async def _verified_checkpoint(self) -> Checkpoint | None:
        """The checkpoint, after repairing a reorg that happened while we were away.

        The newest recorded block is compared with the node's: it is at or above the
        checkpoint and covers logs stored ahead of it (zero confirmations), so a replaced
        block there is found too.
        """
        cp = await self._load_checkpoint()
        top = self.window.highest
        held = self.window.get(top) if top is not None else None
        if top is None or held is None:
            return cp
        canonical = await self.client.header_by_number(top)
        if canonical is not None and canonical.hash == held.hash:
            return cp
        fork = min(top, await self._fork_below(top))
        await self.repair(fork, reason="recorded block no longer canonical (reorg while away)")
        return await self._load_checkpoint()

    async def _fork_below(self, number: int) -> int:
        return await find_fork_point(self.client, self.window, number - 1)

    # --- catching up --------------------------------------------------------------------------

    async def catch_up(self) -> None:
        """Backfill from the checkpoint to head - confirmations."""
        cp = await self._verified_checkpoint()
        head = await self.client.block_number()
        self._saw_head_number(head)
        target = head - self.confirmations
        if cp is None:
            start = self.settings.start_block
            if start is None:
                await self._start_fresh_at(max(target, 0))
                return
        else:
            start = cp.block_number + 1
        if start <= target:
            blocks = target - start + 1
            progress = (
                Progress("backfill", unit="blocks", total=blocks, count_unit="logs")
                if blocks >= BACKFILL_PROGRESS_BLOCKS
                else None
            )
            report = await self.backfiller.run(start, target, progress=progress)
            self.state.checkpoint = target
            log.info(
                "backfilled",
                extra={
                    "from_block": start,
                    "to_block": target,
                    "logs": report.logs,
                    "fills": report.fills,
                    "dead_letters": report.dead_letters,
                },
            )

    async def _start_fresh_at(self, number: int) -> None:
        """No checkpoint and no START_BLOCK: follow the chain from ``number`` on (no history)."""
        header = await self.client.header_by_number(number)
        if header is None:
            raise RetryableRpcError(f"block {number} not found on {self.client.endpoint}")
        async with self.pool.acquire() as conn:
            await store_batch(
                conn,
                decode_batch([], self.chain_id, self.settings.addresses),
                chain_id=self.chain_id,
                blocks=block_rows([header]),
                checkpoint=Checkpoint(STREAM, number, header.hash),
            )
        self.window.add(header)
        self.state.checkpoint = number
        log.info("no checkpoint and no START_BLOCK: starting at the head", extra={"block": number})

    def _saw_head_number(self, number: int) -> None:
        self.state.head = max(number, self.state.head or 0)
        self.state.head_seen_at = time.monotonic()
        if self.state.lag is not None:
            self.metrics.head_lag.set(self.state.lag)

    # --- the session ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until the connection fails (raises) or the task is cancelled."""
        await self.client.check_chain_id(self.chain_id)
        async with self.pool.acquire() as conn:
            await self.window.load(conn, self.chain_id)
        await self.catch_up()
        heads_sub = await self.ws.subscribe("newHeads")
        logs_sub = await self.ws.subscribe("logs", self.settings.addresses.log_filter())
        self.covered_to = await self.client.block_number()
        await self.catch_up()
        self.state.streaming = True
        log.info("streaming", extra={"from_block": self.covered_to + 1})
        try:
            await self._stream(heads_sub, logs_sub)
        except (Exception, asyncio.CancelledError):
            # Whatever ended the session (the node, the queue, the database, a stop): nothing
            # it received and did not store may stay behind the checkpoint.
            try:
                await self._keep_unstored()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("could not move the checkpoint back", extra={"reason": repr(exc)})
            raise

    def _resync_from(self) -> int | None:
        """The lowest block whose logs may not all be stored although the checkpoint passed it.

        A notification the transport dropped (queue full), or a late log still in the buffer
        when the session ends: the next session must read the chain again from there.
        """
        cp = self.state.checkpoint
        if cp is None:
            return None
        candidates = [n for n in self.buffer if _NO_BLOCK < n <= cp]
        if self.storing_from is not None:
            candidates.append(self.storing_from)
        if self.ws.dropped_from_block is not None:
            candidates.append(self.ws.dropped_from_block)
        low = min(candidates, default=None)
        return low if low is not None and low <= cp else None

    async def _keep_unstored(self) -> None:
        """Move the checkpoint back below anything this session received but did not store."""
        if self.ws.overflowed:
            log.warning(
                "subscription notifications were dropped (queue full): resynchronising",
                extra={
                    "dropped": self.ws.dropped,
                    "from_block": self.ws.dropped_from_block,
                    "checkpoint": self.state.checkpoint,
                },
            )
        low = self._resync_from()
        if low is None:
            return
        async with self.pool.acquire() as conn:
            await rewind_checkpoint(conn, self.chain_id, STREAM, low - 1)
        self.state.checkpoint = low - 1
        log.warning(
            "checkpoint moved back: the next session reads these blocks again",
            extra={"block": low - 1},
        )

    async def _stream(self, heads_sub: str, logs_sub: str) -> None:
        silence = self.settings.silence_timeout_secs
        flush_after = self.settings.live_flush_secs
        last_head_at = time.monotonic()
        while True:
            now = time.monotonic()
            wait = last_head_at + silence - now
            if self.pending_since is not None:
                wait = min(wait, self.pending_since + flush_after - now)
            if now - last_head_at >= silence:
                raise RetryableRpcError(
                    f"no newHeads from {self.ws.endpoint} for {silence:g}s "
                    "(SILENCE_TIMEOUT_SECS): treating the subscription as dead"
                )
            note = await self.ws.next_notification(max(wait, 0.001))
            if note is None:
                if self.pending_since is not None:
                    await self.flush()
                continue
            if note.subscription == heads_sub:
                try:
                    header = Header.from_rpc(note.result)
                except (KeyError, TypeError, ValueError):
                    log.warning("malformed newHeads notification ignored")
                    continue
                last_head_at = time.monotonic()
                await self.on_head(header)
            elif note.subscription == logs_sub:
                await self.on_log(note.result)

    async def on_head(self, header: Header) -> None:
        held = self.window.get(header.number)
        if held is not None and held.hash == header.hash:
            return  # a repeated head
        if conflicts(self.window, header):
            fork = await self._fork_below(header.number)
            await self.repair(
                fork, reason="new head contradicts a held block hash", through=header.number
            )
        elif (top := self.window.highest) is not None and header.number > top + 1:
            await self._skipped_heads(top, header)
        self.window.add(header)
        self.headers.put(header)
        self.last_head = header
        self._saw_head_number(header.number)
        await self.flush()
        self._heads_seen += 1
        if self._heads_seen % _PRUNE_EVERY_HEADS == 0:
            async with self.pool.acquire() as conn:
                await prune_blocks(conn, self.chain_id, header.number - self.window.size)

    async def _skipped_heads(self, top: int, header: Header) -> None:
        """A head more than one above the newest held block: some heads never came.

        Nodes skip heads (load, their own reorgs) and some never send ``removed: true``, so
        the blocks in between are unverified: the newest held block is compared with the
        node's (a reorg below the gap is repaired), and the skipped heights are read with
        eth_getLogs instead of trusting whatever the subscription delivered for them.
        """
        held = self.window.get(top)
        canonical = await self.client.header_by_number(top)
        if held is not None and (canonical is None or canonical.hash != held.hash):
            fork = min(top, await self._fork_below(top))
            await self.repair(
                fork,
                reason=f"heads {top + 1}-{header.number - 1} skipped and block {top} replaced",
                through=header.number,
            )
            return
        if self.covered_to < header.number - 1:
            log.info(
                "heads skipped: reading the blocks in between with eth_getLogs",
                extra={"from_block": top + 1, "to_block": header.number - 1},
            )
            self.covered_to = header.number - 1

    async def on_log(self, raw: Any) -> None:
        if not isinstance(raw, Mapping):
            raw = {"value": raw}  # decode turns it into a dead letter
        number = block_of(raw)
        if raw.get("removed") is True and number is not None:
            if not self._plausible_removal(number, raw.get("blockHash")):
                log.warning("removed log of a block we do not hold: ignored", extra=_log_ids(raw))
                return
            fork = min(number, await self._fork_below(number))
            await self.repair(fork, reason="log removed by the node")
            return
        key = number if number is not None else _NO_BLOCK
        self.buffer[key].append(raw)
        # Logs of blocks not yet confirmed wait for a head; only a log arriving after its
        # block's turn (late, or unparseable) needs the flush timer.
        confirmed = self.last_head is not None and key <= self.last_head.number - self.confirmations
        if (confirmed or key == _NO_BLOCK) and self.pending_since is None:
            self.pending_since = time.monotonic()

    def _plausible_removal(self, number: int, block_hash: Any) -> bool:
        """A ``removed: true`` log can only retract a block between the oldest header we hold
        and just above the newest head, and where we hold that height's header, only the
        block of that hash. Outside that, it is corrupt, hostile or already handled (the head
        that replaced the block came first): acting on it would walk down from an absurd
        height (2**62), roll back below the window, or roll back a block the node never
        retracted; a real reorg is still caught by the heads."""
        newest = max(self.state.head or 0, self.last_head.number if self.last_head else 0)
        lowest = self.window.lowest
        if (lowest is not None and number < lowest) or number > newest + _REMOVAL_AHEAD:
            return False
        held = self.window.get(number)
        return held is None or str(block_hash).lower() == held.hash

    async def repair(self, fork: int, *, reason: str, through: int = 0) -> None:
        """Roll back everything from ``fork`` up; the next flush re-ingests it canonically.

        Whatever the subscription delivered for heights from the fork up (up to ``through``,
        the head that revealed the reorg) is dropped from the buffer, and those heights are
        marked for eth_getLogs, which returns the canonical chain's logs by construction.
        """
        self.metrics.reorgs.add(1)
        self.state.reorgs += 1
        log.warning("chain reorganisation: rolling back", extra={"block": fork, "reason": reason})
        self.covered_to = max(
            self.covered_to, self.state.head or 0, through, max(self.buffer, default=0)
        )
        for number in [n for n in self.buffer if n >= fork]:
            del self.buffer[number]
        self.window.drop_from(fork)
        async with self.pool.acquire() as conn:
            await rollback_from(conn, self.chain_id, fork)
        await self._load_checkpoint()

    # --- storing --------------------------------------------------------------------------------

    async def flush(self) -> None:
        """Store every buffered block at or below head - confirmations, with the checkpoint."""
        if self.last_head is None or self.state.checkpoint is None:
            return
        head = self.last_head.number
        upto = head - self.confirmations
        via_getlogs = min(upto, self.covered_to)
        if self.state.checkpoint < via_getlogs:
            await self.backfiller.run(self.state.checkpoint + 1, via_getlogs)
            self.state.checkpoint = via_getlogs
            for number in [n for n in self.buffer if _NO_BLOCK < n <= via_getlogs]:
                del self.buffer[number]
        cp = self.state.checkpoint
        new_cp = head - max(self.confirmations, 1)
        ready_blocks = sorted(n for n in self.buffer if n <= upto)
        self.pending_since = None  # everything at or below upto is taken now
        if not ready_blocks and new_cp <= cp:
            return
        raws: list[Mapping[str, Any]] = []
        for number in ready_blocks:
            for raw in self.buffer.pop(number):
                held = self.window.get(number)
                if held is not None and str(raw.get("blockHash", "")).lower() != held.hash:
                    log.info("log of an orphaned block dropped", extra=_log_ids(raw))
                    continue
                raws.append(raw)
        # Until they are committed, these logs are neither in the buffer nor in the database.
        self.storing_from = min(
            (n for raw in raws if (n := block_of(raw)) is not None), default=None
        )
        await self._store(raws, cp, new_cp)
        self.storing_from = None

    async def _store(self, raws: list[Mapping[str, Any]], cp: int, new_cp: int) -> None:
        with self._tracer.start_as_current_span("live.flush", attributes={"logs": len(raws)}):
            ready, used, orphans = await fill_timestamps(raws, self.headers)
            for raw in orphans:
                log.info("log of a vanished block dropped", extra=_log_ids(raw))
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


def _log_ids(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {"tx_hash": raw.get("transactionHash"), "log_index": raw.get("logIndex")}
