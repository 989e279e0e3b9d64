"""Bringing a live session's database back in line with the node: the reading-again half.

Before a session streams (``LiveResync.catch_up``, steps 1-2 and 4 of
:mod:`orderflow.chain.live`): the checkpoint is loaded and verified against the node's block
hash (a reorg while we were away is repaired first; a history import's hand-over above the
node's head is rolled back), and the blocks from the checkpoint to head - confirmations are
backfilled with eth_getLogs (in bulk mode, with progress, when at least
``LONG_BACKFILL_BLOCKS``). The blocks a retraction queued (:mod:`orderflow.chain.rereads`) are
read again (``reread_retracted``), at the start and every hundredth head. A reorg found while
streaming is ``repair``: the buffered logs of the orphaned heights dropped, ``rollback_from``
the fork point, and those heights marked for eth_getLogs.

:class:`~orderflow.chain.live.LiveSession` (subscribing, streaming, heads and logs) builds on
this class, which builds on :class:`~orderflow.chain.live_store.LiveStore` (the buffer and
``flush``).
"""

from __future__ import annotations

import logging
import time

from orderflow.chain import rereads
from orderflow.chain.backfill import STREAM
from orderflow.chain.backfill_headers import block_rows
from orderflow.chain.checkpoints import (
    Checkpoint,
    get_checkpoint,
    handed_over,
    handed_over_above,
    rewind_checkpoint,
    stored_logs_at_or_below,
)
from orderflow.chain.decode import decode_batch
from orderflow.chain.live_store import LiveStore
from orderflow.chain.reorg import find_fork_point
from orderflow.chain.rollback import rollback_from
from orderflow.chain.store import store_batch
from orderflow.errors import RetryableRpcError
from orderflow.progress import Progress

# The live session's one logger, whichever of its modules logs.
log = logging.getLogger("orderflow.chain.live")

# A catch-up at least this long is a history backfill: it shows its progress (blocks, rate, ETA)
# on a terminal, in the logs and as orderflow_progress_* metrics (job="backfill"), since it runs
# for hours, and stores in bulk mode (Backfiller.run: the per-(wallet, token) sums folded every
# pending_sums.FOLD_EVERY_FILLS fills and at its end, not batch by batch).
LONG_BACKFILL_BLOCKS = 1_000

# A hand-over's checkpoint is checked against the node's logs at most this many stored blocks
# down (LiveResync._verified_tail); past them, the listener reads from the lowest one checked.
TAIL_CHECKS = 64


class LiveResync(LiveStore):
    """A live session's checkpoint, catch-up, re-reads and reorg repair (see the module
    docstring)."""

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
        if canonical is None:
            # No block there: the node is behind what we stored (restarted, resyncing, a
            # lagging backend of a load-balanced endpoint), which is no reorg. Its heads show
            # one, if any, as it catches up (a head contradicting a held hash). Until 4 Dec
            # 2026 this rolled back every block above the node's head (stored fills deleted
            # and stored again later, under new ids), and a node behind the whole window
            # stopped the listener with ReorgError.
            log.warning(
                "the node has no block at the newest recorded height (it is behind us): "
                "nothing rolled back, waiting for it to catch up",
                extra={"block": top, "endpoint": self.client.endpoint},
            )
            return cp
        if canonical.hash == held.hash:
            return cp
        fork = min(top, await self._fork_below(top))
        await self.repair(fork, reason="recorded block no longer canonical (reorg while away)")
        return await self._load_checkpoint()

    async def _handed_over_above(self, head: int, cp: Checkpoint) -> Checkpoint | None:
        """A history import handed over a block above the node's head (docs/history.md "The
        hand-over"): its dump names blocks this chain does not have, at least at its end, so
        its claim to cover every block up to there is void. What it stored above the head is
        rolled back, and the listener reads from the block after the highest one at or below
        the head that holds a stored fill or match (``START_BLOCK``, else the head, if none).
        Left there, the listener stored nothing until the head passed the dump's last block,
        and never read the blocks in between. A checkpoint the listener wrote itself stays."""
        async with self.pool.acquire() as conn:
            below = await handed_over_above(conn, self.chain_id, STREAM, head)
        if below is None:
            return cp
        start = self.settings.start_block
        fork = below + 1 if below >= 0 else start if start is not None else head + 1
        log.warning(
            "the listener's checkpoint, handed over by a history import, is above the node's "
            "head: rolling back what the import stored above the head, reading from below it",
            extra={"block": cp.block_number, "head": head, "from_block": fork},
        )
        self.window.drop_from(fork)
        async with self.pool.acquire() as conn:
            await rollback_from(conn, self.chain_id, fork)
        return await self._load_checkpoint()

    async def _verified_tail(self, cp: Checkpoint) -> Checkpoint | None:
        """A history import's hand-over claims every block up to its checkpoint: a dump whose
        last row names a wrong, later block (below the head), or that was cut inside its last
        block, claims blocks (or logs) it does not have, which the listener, continuing after
        the checkpoint, never read. The dump's last stored blocks are compared with the node's
        logs there (one eth_getLogs of a block each), going down from the checkpoint, until a
        block whose stored fills and matches are all the node's logs of that block (at most
        ``TAIL_CHECKS``; past them, the lowest one checked); the listener's checkpoint is
        rewound to the block before it, so that block and every one after it are read (the
        node's logs replace the rows stored at a wrong block: ``store_replace``)."""
        block, start, wrong = cp.block_number, cp.block_number, []
        for _ in range(TAIL_CHECKS):
            async with self.pool.acquire() as conn:
                found, stored = await stored_logs_at_or_below(conn, self.chain_id, block)
            if found < 0:
                break
            start = found
            logs = await self.client.get_logs(found, found, self.settings.addresses.log_filter())
            node = {(str(g.get("transactionHash", "")).lower(), _index(g)) for g in logs}
            if stored <= node:
                break
            wrong.append(found)
            block = found - 1
        if wrong:
            log.warning(
                "the listener's checkpoint, handed over by a history import, claims blocks the "
                "dump does not have: its last stored blocks are not the node's; reading from "
                "below them",
                extra={"block": cp.block_number, "wrong_blocks": wrong, "from_block": start},
            )
        async with self.pool.acquire() as conn:
            await rewind_checkpoint(conn, self.chain_id, STREAM, start - 1)
        return await self._load_checkpoint()

    async def _fork_below(self, number: int) -> int:
        return await find_fork_point(self.client, self.window, number - 1)

    # --- catching up --------------------------------------------------------------------------

    async def catch_up(self) -> None:
        """Backfill from the checkpoint to head - confirmations."""
        cp = await self._verified_checkpoint()
        await self.reread_retracted()
        head = await self.client.block_number()
        self._saw_head_number(head, session_start=True)
        async with self.pool.acquire() as conn:
            handed = cp is not None and await handed_over(conn, self.chain_id, STREAM)
        if cp is not None and cp.block_number > head:
            cp = await self._handed_over_above(head, cp)
        if handed and cp is not None:
            cp = await self._verified_tail(cp)
        target = head - self.confirmations
        if cp is None:
            start = self.settings.start_block
            if start is None:
                await self._start_fresh_at(max(target, 0))
                await self.confirming.load(head, max(target, 0))
                return
        else:
            start = cp.block_number + 1
        await self.confirming.load(head, start - 1)
        if start <= target:
            blocks = target - start + 1
            long = blocks >= LONG_BACKFILL_BLOCKS
            progress = (
                Progress("backfill", unit="blocks", total=blocks, count_unit="logs")
                if long
                else None
            )
            report = await self.backfiller.run(start, target, progress=progress, bulk=long)
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

    def _saw_head_number(self, number: int, *, session_start: bool = False) -> None:
        """The newest head, for the lag and the bounds on far logs: the highest seen since the
        session started, whose ``eth_blockNumber`` (``session_start``) starts it again. Until
        7 Dec 2026 it was the highest ever seen: one head far above the chain (a hostile node,
        a load balancer's node of another chain) ended its session but stayed the head for
        ever — the lag check failed for good and the bounds measured from it
        (``tests/chain_live/test_far_head.py``)."""
        previous = None if session_start else self.state.head
        self.state.head = max(number, previous or 0)
        self.state.head_seen_at = time.monotonic()
        if self.state.lag is not None:
            self.metrics.head_lag.set(self.state.lag)

    # --- reading again ------------------------------------------------------------------------

    async def reread_retracted(self) -> None:
        """Read again, one eth_getLogs each, the blocks a file's retraction (or a session
        ending with a late log of an old block) queued
        (:mod:`orderflow.chain.rereads`) at or below the checkpoint; a block above it is the
        backfill's or the stream's to read anyway. The checkpoint does not move."""
        async with self.pool.acquire() as conn:
            queued = await rereads.pending(conn, self.chain_id)
        for number, queued_at in queued:
            if self.state.checkpoint is not None and number <= self.state.checkpoint:
                log.info("reading a retracted block again", extra={"block": number})
                await self.backfiller.run(number, number)
            async with self.pool.acquire() as conn:
                await rereads.done(conn, self.chain_id, number, queued_at)

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
        self.confirming.rewound(fork)  # rollback_from rewound its stored mark too
        await self._load_checkpoint()


def _index(raw: dict[str, object]) -> int:
    """A log's index (hex quantity), -1 when it has none readable."""
    try:
        return int(str(raw.get("logIndex")), 16)
    except ValueError:
        return -1
