"""Reorg detection: recent block hashes, and where our chain and the node's part ways.

The listener keeps the last ``REORG_WINDOW_BLOCKS`` headers it has seen (``BlockWindow``),
seeded at start-up from ``orderflow_blocks`` so a reorg that happened while it was down is also
caught. A reorg shows up as

* a new head whose parent hash differs from the hash we hold for the block below it, or whose
  own number we already hold under another hash (the chain got shorter or was replaced);
* a new head two or more above the newest held block (heads skipped, as some nodes do around
  their own reorgs) while the newest held block is no longer the node's at its height;
* a log delivered with ``removed: true``;
* at start-up, a checkpoint whose block hash the node no longer has at that height.

The fork point (the lowest block to roll back) is found by walking down from the suspect
height, comparing our hashes with the node's canonical ones, until they agree. A fork below the
window cannot be located safely: :class:`~orderflow.errors.ReorgError` stops the listener.

The SQL here is the listener's own reads of ``orderflow_blocks`` (the writes are
``store.store_batch`` and ``rollback.rollback_from``).
"""

from __future__ import annotations

import logging

import asyncpg

from orderflow.chain.rpc import EthClient, Header
from orderflow.errors import ReorgError

log = logging.getLogger(__name__)

_RECENT_BLOCKS_SQL = """
SELECT block_number, block_hash, parent_hash, timestamp
  FROM orderflow_blocks
 WHERE chain_id = $1
 ORDER BY block_number DESC
 LIMIT $2
"""

_PRUNE_BLOCKS_SQL = """
DELETE FROM orderflow_blocks WHERE chain_id = $1 AND block_number < $2
"""


class BlockWindow:
    """The most recent canonical headers by number, at most ``size`` of them."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._headers: dict[int, Header] = {}

    def __len__(self) -> int:
        return len(self._headers)

    def add(self, header: Header) -> None:
        self._headers[header.number] = header
        if len(self._headers) > self.size:
            for number in sorted(self._headers)[: len(self._headers) - self.size]:
                del self._headers[number]

    def get(self, number: int) -> Header | None:
        return self._headers.get(number)

    def between(self, low: int, high: int) -> list[Header]:
        """Headers with low <= number <= high, in order."""
        return [self._headers[n] for n in sorted(self._headers) if low <= n <= high]

    def linked(self, low: int, high: int) -> dict[int, Header] | None:
        """The held headers of every block from ``low`` to ``high``, when each names the one
        below it as its parent (one chain: the hash of ``high`` commits to all of them); None
        when one is missing or they do not link (a header from the database without its
        parent's hash, a hole a backfill left)."""
        chain = {n: h for n in range(low, high + 1) if (h := self._headers.get(n)) is not None}
        if len(chain) != high - low + 1:
            return None
        if any(chain[n].parent_hash != chain[n - 1].hash for n in range(low + 1, high + 1)):
            return None
        return chain

    def drop_from(self, number: int) -> None:
        for n in [n for n in self._headers if n >= number]:
            del self._headers[n]

    @property
    def lowest(self) -> int | None:
        return min(self._headers, default=None)

    @property
    def highest(self) -> int | None:
        return max(self._headers, default=None)

    async def load(self, conn: asyncpg.Connection, chain_id: int) -> None:
        """Replace the window with the newest stored blocks of ``chain_id``."""
        rows = await conn.fetch(_RECENT_BLOCKS_SQL, chain_id, self.size)
        self._headers = {
            r["block_number"]: Header(
                r["block_number"], r["block_hash"], r["parent_hash"] or "", r["timestamp"]
            )
            for r in rows
        }


def conflicts(window: BlockWindow, head: Header) -> bool:
    """Does this new head contradict what we hold (a reorg, rather than the next block)?"""
    same_height = window.get(head.number)
    if same_height is not None and same_height.hash != head.hash:
        return True
    below = window.get(head.number - 1)
    return below is not None and bool(head.parent_hash) and below.hash != head.parent_hash


async def find_fork_point(client: EthClient, window: BlockWindow, suspect: int) -> int:
    """The lowest block number at or below ``suspect + 1`` whose hash changed.

    (Blocks between recorded ones are sparse during backfill: the fork point is then the
    block after the highest recorded block that still agrees, which may roll back a little
    more than strictly needed — the re-ingest restores it.)


    Walks down from ``suspect``: the first height where our hash equals the node's canonical
    hash is the common ancestor; the fork point is the block after it. Heights we hold nothing
    for are skipped (nothing stored there to disagree), but the walk never leaves the window.
    """
    lowest = window.lowest
    number = suspect
    while lowest is not None and number >= lowest:
        ours = window.get(number)
        if ours is not None:
            canonical = await client.header_by_number(number)
            if canonical is not None and canonical.hash == ours.hash:
                return number + 1
        number -= 1
    if lowest is None:
        return suspect + 1  # nothing held: nothing of ours can be orphaned below the suspect
    if len(window) < window.size:
        # The window holds every block ever recorded (none pruned): nothing older was stored
        # by the listener, so rolling back from the oldest held block is complete.
        log.warning("fork at or below the oldest recorded block", extra={"block": lowest})
        return lowest
    raise ReorgError(
        f"the chain reorganised below block {lowest}, the oldest of the {window.size} blocks "
        "kept for reorg detection: raise REORG_WINDOW_BLOCKS, or roll back by hand and restart"
    )


async def prune_blocks(conn: asyncpg.Connection, chain_id: int, below: int) -> None:
    """Forget stored block hashes older than the reorg window (they can no longer matter)."""
    await conn.execute(_PRUNE_BLOCKS_SQL, chain_id, below)
