"""eth_getLogs that a provider may have truncated without an error: split and read again.

Hosted providers refuse an eth_getLogs with too many results (-32005 "query returned more than
10000 results", Ankr's "query exceeds max results 20000", Alchemy's "Log response size
exceeded"): :mod:`orderflow.chain.provider_errors` turns those into a smaller range. Some nodes
and relays instead return the first N logs of the range and no error (docs/listener.md,
"Truncated eth_getLogs replies", lists the cases found); the logs past N would be lost
silently, and the checkpoint would move past them.

The rule: a reply whose length is one of the known result caps (``GETLOGS_RESULT_CAPS``) is not
trusted, whatever its content, when the range spans more than one block: the range is split in
two halves, each read again (and split again while it is at a cap). A false alarm (a range that
really holds exactly a cap's number of logs) costs one split, never a log. Depth is bounded by
log2 of the range's length: nothing loops.

A single block at a cap cannot be split by range; it is read again with narrower filters
instead: one eth_getLogs per address of the filter, then, for an address whose reply is at a cap
again, one per topic0 (event signature). The union of those replies (deduplicated by
(transactionHash, logIndex), in log-index order) replaces the capped reply. When every narrower
reply is below the caps, the block is whole. An (address, topic0) pair still at a cap cannot be
narrowed further (a ``blockHash`` filter selects the same logs): its reply is taken as returned,
with a loud warning, a count (``orderflow_listener_getlogs_capped_blocks``) and a dead letter
naming the block and the filter (kept after the checkpoint moves on: the block is in doubt, and
only a node without that cap can settle it), as its completeness cannot be checked here. A
reply below every cap costs no extra request.

Such a dead letter is resolved by the first read of its block that is whole (``resolve_whole``:
every range a backfill stores, a re-read included): a reply below every cap, from a node
without that cap, under a filter that selects at least what the capped one did. It is deleted
then, with a log line naming the block; nobody has to find it by hand.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import asyncpg

from orderflow.chain.events import DeadLetter
from orderflow.chain.fields import MAX_LOG_INDEX, FieldError, log_index
from orderflow.chain.provider_errors import GetLogsTimeoutError
from orderflow.errors import RangeTooLargeError

if TYPE_CHECKING:  # the client's module imports httpx and websockets: no part of a file import
    from orderflow.chain.rpc import EthClient

log = logging.getLogger(__name__)

KNOWN_RESULT_CAPS: tuple[int, ...] = (1_000, 5_000, 10_000, 20_000)
"""Result caps of eth_getLogs seen in the wild (sources in docs/listener.md)."""

# The capped dead letters of [$2, $3] but the blocks still capped ($4) whose filter selects no
# more than the whole read's ($5 addresses, $6 topic0s): index orderflow_dead_letters_capped
# (migration 058).
_RESOLVE = """
DELETE FROM orderflow_dead_letters
 WHERE chain_id = $1 AND raw ? 'capped_eth_getLogs' AND block_number BETWEEN $2 AND $3
   AND NOT block_number = ANY($4::bigint[])
   AND $5::jsonb @> (raw -> 'capped_eth_getLogs' -> 'address')
   AND $6::jsonb @> (raw -> 'capped_eth_getLogs' -> 'topics' -> 0)
RETURNING block_number
"""


@dataclass
class CappedLogs:
    """The logs of a range, read whole, and what reading them took."""

    logs: list[dict[str, Any]] = field(default_factory=list)
    splits: int = 0  # replies at a cap that were split and read again
    narrowed: list[int] = field(default_factory=list)  # single blocks read by narrower filters
    capped_blocks: list[int] = field(default_factory=list)  # single blocks at a cap, taken
    capped: list[CappedReply] = field(default_factory=list)  # the replies taken at a cap

    def dead_letters(self, chain_id: int) -> list[DeadLetter]:
        """One dead letter per reply taken at a cap: the block stays in doubt, visibly (its
        number, filter and why), after the checkpoint moved past it and the warning scrolled
        away; the same reply read again is the same dead letter, seen again."""
        return [c.dead_letter(chain_id) for c in self.capped]


@dataclass(frozen=True)
class CappedReply:
    """A one-block reply at a result cap that no narrower filter could check: stored as
    returned, possibly short of logs the provider left out."""

    block: int
    log_filter: dict[str, Any]
    logs: int
    why: str

    def dead_letter(self, chain_id: int) -> DeadLetter:
        address, topics = self.log_filter.get("address"), self.log_filter.get("topics")
        one_address = address[0] if isinstance(address, list) and len(address) == 1 else None
        topic0 = topics[0] if isinstance(topics, list) and topics else None
        one_topic = topic0[0] if isinstance(topic0, list) and len(topic0) == 1 else None
        return DeadLetter(
            raw={
                "capped_eth_getLogs": {
                    "block": self.block,
                    "address": address,
                    "topics": topics,
                    "logs": self.logs,
                }
            },
            reason=(
                f"block {self.block}: eth_getLogs (address {address}, topics {topics}) returned "
                f"{self.logs} logs, a result cap, and {self.why}: the block may hold logs the "
                "provider left out, and they are not stored; read it again from a node without "
                "that cap"
            ),
            chain_id=chain_id,
            block_number=self.block,
            address=one_address if isinstance(one_address, str) else None,
            topic0=one_topic if isinstance(one_topic, str) else None,
        )


async def get_logs_whole(
    client: EthClient,
    start: int,
    end: int,
    log_filter: dict[str, Any],
    caps: Collection[int],
) -> CappedLogs:
    """The logs of [start, end], in block order; a reply at one of ``caps`` is split, and a
    single block at a cap is read again by narrower filters."""
    out = CappedLogs()
    todo = [(start, end)]  # a stack: the left half is read first, so the order is kept
    while todo:
        lo, hi = todo.pop()
        logs = await client.get_logs(lo, hi, log_filter)
        if len(logs) not in caps:
            out.logs += logs
            continue
        if lo < hi:
            out.splits += 1
            mid = (lo + hi) // 2
            todo += [(mid + 1, hi), (lo, mid)]
            continue
        out.narrowed.append(lo)
        block = _Block(client, lo, caps)
        out.logs += in_log_order(await block.read(log_filter, logs))
        if block.capped:
            out.capped_blocks.append(lo)
            out.capped += block.capped
    return out


def narrower(log_filter: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Filters that together select what ``log_filter`` does, each fewer logs: one per address,
    else one per topic0; None when it names one address and one topic0 (a filter without an
    address list or a topic0 list is not narrowed on that part)."""
    addresses = log_filter.get("address")
    if isinstance(addresses, list) and len(addresses) > 1:
        # A one-element list, not a string: the shape the node has just accepted.
        return [{**log_filter, "address": [a]} for a in addresses]
    topics = log_filter.get("topics")
    if isinstance(topics, list) and topics and isinstance(topics[0], list) and len(topics[0]) > 1:
        return [{**log_filter, "topics": [[t], *topics[1:]]} for t in topics[0]]
    return None


def in_log_order(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One block's logs, deduplicated by (transactionHash, logIndex), by log index; a log
    without a readable index (a dead letter to be) is kept, after the others."""
    seen: set[tuple[str, str]] = set()
    keyed: list[tuple[int, dict[str, Any]]] = []
    for raw in logs:
        tx, index = raw.get("transactionHash"), raw.get("logIndex")
        if isinstance(tx, str) and isinstance(index, str):
            if (tx, index) in seen:
                continue
            seen.add((tx, index))
        try:
            position = log_index(index)
        except FieldError:
            position = MAX_LOG_INDEX + 1
        keyed.append((position, raw))
    keyed.sort(key=lambda pair: pair[0])  # stable: unreadable indexes keep their order
    return [raw for _, raw in keyed]


@dataclass
class _Block:
    """One block whose reply is at a cap, read again by narrower filters."""

    client: EthClient
    number: int
    caps: Collection[int]
    capped: list[CappedReply] = field(default_factory=list)  # replies still at a cap: taken

    async def read(
        self, log_filter: dict[str, Any], reply: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The block's logs under ``log_filter``, whose ``reply`` is at a cap."""
        filters = narrower(log_filter)
        if filters is None:
            return self._taken(log_filter, reply, "they cannot be read by a narrower filter")
        logs: list[dict[str, Any]] = []
        for narrow in filters:
            try:
                part = await self.client.get_logs(self.number, self.number, narrow)
            except GetLogsTimeoutError:
                raise  # as any eth_getLogs timeout: the range shrinks and is read again
            except RangeTooLargeError as exc:
                # Refused by size where the wider filter was answered: narrowing cannot help
                # on this node. The wider reply is taken, as when nothing narrower exists.
                return self._taken(log_filter, reply, f"a narrower filter was refused: {exc}")
            logs += await self.read(narrow, part) if len(part) in self.caps else part
        return logs

    def _taken(
        self, log_filter: dict[str, Any], reply: list[dict[str, Any]], why: str
    ) -> list[dict[str, Any]]:
        self.capped.append(CappedReply(self.number, log_filter, len(reply), why))
        log.warning(
            "block %d has as many logs as an eth_getLogs result cap (address %s, topics %s): "
            "it may hold more logs than the provider returns, and %s; storing the %d "
            "returned (use a node without a result cap to be sure)",
            self.number,
            log_filter.get("address"),
            log_filter.get("topics"),
            why,
            len(reply),
            extra={"block": self.number, "logs": len(reply), "endpoint": self.client.endpoint},
        )
        return reply


async def resolve_whole(
    conn: asyncpg.Connection,
    chain_id: int,
    start: int,
    end: int,
    log_filter: dict[str, Any],
    still_capped: Iterable[int],
) -> list[int]:
    """Delete the result-cap dead letters of the blocks of [start, end] that were just read
    whole under ``log_filter`` (every block but ``still_capped``): their logs are all stored
    now. A dead letter of a filter ``log_filter`` does not cover stays. Returns their blocks."""
    addresses, topics = log_filter.get("address"), log_filter.get("topics")
    if not isinstance(addresses, list) or not isinstance(topics, list) or not topics:
        return []  # a filter without an address list or a topic0 list: not compared
    resolved: list[int] = [
        r["block_number"]
        for r in await conn.fetch(
            _RESOLVE,
            chain_id,
            start,
            end,
            sorted(set(still_capped)),
            addresses,  # jsonb: the pool's codec (orderflow.db) encodes them
            topics[0],
        )
    ]
    for block in sorted(set(resolved)):
        log.info(
            "block %d read whole: its result-cap dead letter is resolved (deleted)",
            block,
            extra={"block": block},
        )
    return resolved
