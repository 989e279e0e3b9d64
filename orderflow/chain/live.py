"""One connected listener session: catch up by backfill, subscribe, stream until it breaks.

Order of events in a session (``LiveSession.run``):

1. check the node's chain id; load the recent block hashes (reorg window) from the database;
2. backfill from the checkpoint to head - confirmations (verifying the checkpoint's block hash
   first: a reorg while we were down is repaired before anything else);
3. subscribe to ``logs`` (every watched address, every stored topic0), then ``newHeads``;
4. note the head ``H`` right after subscribing: every block above ``H`` was mined after the
   subscription existed, so its logs arrive on it; blocks up to ``H`` are fetched with
   eth_getLogs — no gap whatever the timing; and since the first head received is of a block
   mined after both subscriptions, every block below it is fetched with eth_getLogs too (a
   node whose eth_blockNumber lags or goes backwards cannot open a gap either);
5. stream: logs are buffered per block; each new head (or a short timer for logs that arrive
   after their head) flushes the blocks at or below head - confirmations in one
   ``store_batch`` together with their headers and the checkpoint;
6. confirm: after each head's flush, blocks ``CONFIRM_DEPTH_BLOCKS`` deep are read again with
   eth_getLogs, ``CONFIRM_RANGE_BLOCKS`` at a time, and what the subscription or an earlier
   reply left out of them is stored (:mod:`orderflow.chain.confirming`).

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

Steps 1-2 and 4 (the checkpoint, the catch-up backfill), the re-reads of retracted blocks and
the reorg repair are :mod:`orderflow.chain.live_resync`'s (``LiveResync``, which
``LiveSession`` extends); the buffer, ``flush`` (step 5) and that last rule are
:mod:`orderflow.chain.live_store`'s (``LiveStore``, which ``LiveResync`` extends); the
session's state is a :class:`~orderflow.chain.listener_state.ListenerState`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

import asyncpg

from orderflow.chain.backfill_headers import block_of
from orderflow.chain.decode import dead_letter
from orderflow.chain.events import DecodedBatch
from orderflow.chain.fields import FieldError
from orderflow.chain.live_resync import LiveResync
from orderflow.chain.live_store import NO_BLOCK, log_ids
from orderflow.chain.pending_sums import cap_changes
from orderflow.chain.reorg import conflicts, prune_blocks
from orderflow.chain.rpc import Header
from orderflow.chain.store_guard import store_batch_isolating
from orderflow.errors import RetryableRpcError

log = logging.getLogger(__name__)

_PRUNE_EVERY_HEADS = 100
AHEAD_BLOCKS = 64
"""A log (or a ``removed: true`` one) may name a block this far above the newest head seen: a
node sends a block's logs with its head, so one further up is no log of a block to come."""


class LiveSession(LiveResync):
    """One WebSocket connection's worth of listening (see the module docstring).

    The checkpoint, catch-up, re-reads and ``repair`` are ``LiveResync``'s; the buffer,
    ``flush`` and what happens to unstored logs at the end are ``LiveStore``'s.
    """

    # the check of the reputation run's change logs in flight, every hundredth head (on_head)
    capping: asyncio.Task[None] | None = None

    # --- the session ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until the connection fails (raises) or the task is cancelled."""
        await self.client.check_chain_id(self.chain_id)
        async with self.pool.acquire() as conn:
            await self.window.load(conn, self.chain_id)
        await self.catch_up()
        # Logs first: every head the session receives is then of a block mined after the logs
        # subscription existed, and everything below the first one is read with eth_getLogs
        # (on_head), whatever eth_blockNumber answers.
        logs_sub = await self.ws.subscribe("logs", self.settings.addresses.log_filter())
        heads_sub = await self.ws.subscribe("newHeads")
        if logs_sub == heads_sub:  # every log would be read as a malformed head, and lost
            raise RetryableRpcError(
                f"{self.ws.endpoint} gave the logs and newHeads subscriptions one id "
                f"({logs_sub[:100]}): reconnecting"
            )
        self.covered_to = await self.client.block_number()
        await self.catch_up()
        self.state.streaming = True
        log.info("streaming", extra={"from_block": self.covered_to + 1})
        try:
            await self._stream(heads_sub, logs_sub)
        except (Exception, asyncio.CancelledError):
            await self._stop_capping()
            # Whatever ended the session (the node, the queue, the database, a stop): nothing
            # it received and did not store may stay behind the checkpoint.
            try:
                await self._keep_unstored()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("could not move the checkpoint back", extra={"reason": repr(exc)})
            raise

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
                except FieldError as exc:
                    log.warning(
                        "malformed newHeads notification ignored", extra={"reason": str(exc)}
                    )
                    continue
                last_head_at = time.monotonic()
                await self.on_head(header)
            elif note.subscription == logs_sub:
                await self.on_log(note.result)

    async def on_head(self, header: Header) -> None:
        held = self.window.get(header.number)
        if held is not None and held.hash == header.hash:
            return  # a repeated head
        if self.last_head is None and self.covered_to < header.number - 1:
            # The session's first head: its block was mined after the newHeads subscription,
            # so after the logs one, but any block below it may have been mined before the
            # logs subscription existed. eth_blockNumber, read after subscribing, is meant to
            # cover those; a node whose answer lags or goes backwards (a load-balanced
            # endpoint) left a block whose head did arrive to the subscription, which never
            # sent its logs: until 4 Dec 2026 its fills were lost.
            self.covered_to = header.number - 1
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
        await self.confirming.after_head(header.number, self.state.checkpoint)
        self._heads_seen += 1
        if self._heads_seen % _PRUNE_EVERY_HEADS == 0:
            async with self.pool.acquire() as conn:
                await prune_blocks(conn, self.chain_id, header.number - self.window.size)
            if self.capping is None or self.capping.done():
                self.capping = asyncio.create_task(self._cap_change_logs())
            await self.reread_retracted()

    async def _cap_change_logs(self) -> None:
        """The reputation run's change logs bounded (migration 057), on a connection of its own
        and off the head handler: its count of up to the bound's rows (hundreds of ms at 10 M)
        never holds a block's store. A failure is logged; the next check tries again."""
        try:
            async with self.pool.acquire() as conn:
                await cap_changes(conn, self.settings.reputation_changes_max_rows)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("could not bound the reputation change logs", extra={"reason": repr(exc)})

    async def _stop_capping(self) -> None:
        """The session ends: a check of the change logs in flight is cancelled (rolled back)."""
        if self.capping is not None:
            self.capping.cancel()
            await asyncio.gather(self.capping, return_exceptions=True)

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
                log.warning("removed log of a block we do not hold: ignored", extra=log_ids(raw))
                return
            fork = min(number, await self._fork_below(number))
            await self.repair(fork, reason="log removed by the node")
            return
        if number is not None and number > self._newest_head() + AHEAD_BLOCKS:
            await self._ahead_of_head(raw, number)
            return
        key = number if number is not None else NO_BLOCK
        self.buffer[key].append(raw)
        self.note_log(key, raw.get("blockHash"))
        # Logs of blocks not yet confirmed wait for a head; only a log arriving after its
        # block's turn (late, or unparseable) needs the flush timer.
        confirmed = self.last_head is not None and key <= self.last_head.number - self.confirmations
        if (confirmed or key == NO_BLOCK) and self.pending_since is None:
            self.pending_since = time.monotonic()

    def _newest_head(self) -> int:
        return max(self.state.head or 0, self.last_head.number if self.last_head else 0)

    async def _ahead_of_head(self, raw: Mapping[str, Any], number: int) -> None:
        """A log of a block more than :data:`AHEAD_BLOCKS` above the newest head: a dead letter
        now, never held in the buffer (until 6 Dec 2026 it stayed there until the session
        ended, unstored and unsaid: a stream of them grew the buffer without bound). Should
        that block come after all (a node that skipped that many heads), it is read with
        eth_getLogs, not taken from the subscription: nothing of it is lost."""
        newest = self._newest_head()
        letter = dead_letter(
            raw,
            f"a log of block {number} on the logs subscription, more than {AHEAD_BLOCKS} "
            f"blocks above the newest head ({newest}): not stored (a node sends a block's "
            "logs with its head; should that block come, it is read with eth_getLogs)",
            self.chain_id,
        )
        self.covered_to = max(self.covered_to, number)
        batch = DecodedBatch(dead_letters=[letter])
        async with self.pool.acquire() as conn:
            await store_batch_isolating(
                conn, batch, chain_id=self.chain_id, addresses=self.settings.addresses
            )
        self.metrics.count_batch(batch)
        log.warning(
            "a log of a block far above the head kept as a dead letter",
            extra={**log_ids(raw), "block": number, "head": newest},
        )

    def _plausible_removal(self, number: int, block_hash: Any) -> bool:
        """A ``removed: true`` log can only retract a block between the oldest header we hold
        and just above the newest head, and where we hold that height's header, only the
        block of that hash. Outside that, it is corrupt, hostile or already handled (the head
        that replaced the block came first): acting on it would walk down from an absurd
        height (2**62), roll back below the window, or roll back a block the node never
        retracted; a real reorg is still caught by the heads."""
        lowest = self.window.lowest
        if (lowest is not None and number < lowest) or number > self._newest_head() + AHEAD_BLOCKS:
            return False
        held = self.window.get(number)
        return held is None or str(block_hash).lower() == held.hash
