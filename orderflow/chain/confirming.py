"""The trailing, confirming read: stored blocks read again with eth_getLogs once they are deep.

The bloom checks (``backfill_read.bloom_misses``) catch a block of which *no* log came, from a
``logs`` subscription or an eth_getLogs reply; a block of which *some* logs came and others did
not (a node's notification queue overflowing, a load-balanced backend that has part of the
block's receipts, a node dropping logs) passes them: the bloom says nothing about how many. Its
missing fills were lost for good once the checkpoint moved past it.

So the listener reads every block again once it is ``CONFIRM_DEPTH_BLOCKS`` below the head (and
at or below the checkpoint), a range of ``CONFIRM_RANGE_BLOCKS`` blocks at a time (one
eth_getLogs per range, at most once every that many heads), through a ``Backfiller`` of its own
whose checkpoint is the **confirmed mark** (stream :data:`CONFIRMED`): the range's rows, its
headers and the mark are one transaction of the same idempotent store, so a log stored already
is stored once, and a log left out is stored now. Everything the backfill does for a read holds:
result caps split, logs checked against their blocks' headers after the reply (the heads' own,
``trust_window``, when the window holds the range as one chain ending at the node's end block:
two header requests a read), the block below the range still the one held (else the session
ends and the next repairs the reorg), the bloom check of its top blocks, a row held at a height
under another hash undone (``store_forks``). A reorg the session repairs rewinds the mark with
every checkpoint (``rollback_from``); the mark is stored, so a restarted listener reads again
from it.

What the read stored that was not there before (fills and matches, less the rows of another
fork they replaced) is counted
(``orderflow_listener_confirming_read_found_total``) and logged as a warning: the endpoint left
logs out.
"""

from __future__ import annotations

import logging

import asyncpg

from orderflow.chain.adaptive_range import AdaptiveRange
from orderflow.chain.backfill import Backfiller
from orderflow.chain.backfill_headers import HeaderCache
from orderflow.chain.checkpoints import Checkpoint, get_checkpoint
from orderflow.chain.events import DecodedBatch
from orderflow.chain.listener_metrics import IngestMetrics
from orderflow.chain.listener_state import ListenerState
from orderflow.chain.reorg import BlockWindow
from orderflow.chain.rpc import EthClient
from orderflow.chain.settings import ListenerSettings
from orderflow.chain.store import store_batch

log = logging.getLogger("orderflow.chain.live")

CONFIRMED = "listener-confirmed"
"""Checkpoint stream of the confirmed mark: every block up to it was read again, and stored,
``CONFIRM_DEPTH_BLOCKS`` or more below the head (orderflow_sync_checkpoints.stream)."""

CATCH_UP_RANGES = 4
"""A mark further behind (a restart after a downtime: every block since is read again) is
caught up at most this many ranges a head, so no head waits long for it."""


class ConfirmingRead:
    """The confirmed mark of a live session and the reads that move it (module docstring)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        client: EthClient,
        settings: ListenerSettings,
        *,
        state: ListenerState,
        metrics: IngestMetrics,
        window: BlockWindow,
        ranges: AdaptiveRange,
        headers: HeaderCache,
    ) -> None:
        self.pool = pool
        self.chain_id = settings.chain_id
        self.depth = settings.confirm_depth_blocks
        self.every = settings.confirm_range_blocks
        self.window_size = settings.reorg_window_blocks
        self.start_block = settings.start_block
        self.state = state
        self.metrics = metrics
        self.backfiller = Backfiller(
            pool,
            client,
            chain_id=settings.chain_id,
            addresses=settings.addresses,
            ranges=ranges,
            headers=headers,
            metrics=metrics,
            stream=CONFIRMED,
            window=window,
            verify_depth=settings.reorg_window_blocks,
            result_caps=settings.getlogs_result_caps,
            count_rows=False,
            trust_window=True,  # the heads brought its blocks' headers: 2 requests, not R + 2
        )
        self.mark: int | None = None

    async def load(self, head: int, first: int) -> None:
        """The stored mark (once, at a session's start); ``first``: the lowest block this listener's
        checkpoint covered at the start (the checkpoint, or ``START_BLOCK`` - 1).

        Without a stored mark (a fresh database, or one a listener without this read wrote),
        reading starts at the later of ``first`` and the head's reorg window below the
        confirming depth: a history backfill's last blocks are read again, its deep history,
        never subject to a lagging backend, is not."""
        if self.every == 0 or self.mark is not None:
            return
        async with self.pool.acquire() as conn:
            stored = await get_checkpoint(conn, self.chain_id, CONFIRMED)
            if stored is not None:
                self.mark = stored.block_number
            else:  # stored at once: a session ending before its first read loses no block
                self.mark = max(first, head - self.depth - self.window_size, -1)
                await store_batch(
                    conn,
                    DecodedBatch(),
                    chain_id=self.chain_id,
                    checkpoint=Checkpoint(CONFIRMED, self.mark),
                )
        self.state.confirmed = self.mark

    def rewound(self, fork: int) -> None:
        """A reorg's rollback from ``fork`` rewound the stored mark below it (every stream)."""
        if self.mark is not None and self.mark >= fork:
            self.mark = fork - 1
            self.state.confirmed = self.mark

    def due(self, head: int, checkpoint: int | None) -> tuple[int, int] | None:
        """The blocks to read again now, or None: a whole range of ``CONFIRM_RANGE_BLOCKS``
        blocks at or below both the checkpoint and head - ``CONFIRM_DEPTH_BLOCKS``."""
        if self.every == 0 or self.mark is None or checkpoint is None:
            return None
        target = min(checkpoint, head - self.depth)
        if target - self.mark < self.every:
            return None
        return self.mark + 1, min(target, self.mark + CATCH_UP_RANGES * self.every)

    async def after_head(self, head: int, checkpoint: int | None) -> None:
        """Read again the range due, if any, and move the mark (its store's transaction)."""
        due = self.due(head, checkpoint)
        if due is None:
            return
        start, end = due
        report = await self.backfiller.run(start, end, recent_from=head - self.window_size + 1)
        self.mark = end
        self.state.confirmed = end
        self.metrics.confirming_reads.add(1)
        if report.new_rows == 0:
            log.debug("blocks confirmed", extra={"from_block": start, "to_block": end})
            return
        self.metrics.confirming_read_found.add(report.new_rows)
        self.state.confirm_found += report.new_rows
        log.warning(
            "the confirming read found fills or matches the logs subscription or an earlier "
            "eth_getLogs reply had left out: stored now",
            extra={"from_block": start, "to_block": end, "found": report.new_rows},
        )
