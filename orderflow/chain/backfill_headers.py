"""Block headers for a backfill: a bounded cache, the time a log without ``blockTimestamp``
takes from its block's header, and the check of a range's logs (and of the block below it)
against the headers read after them (:mod:`orderflow.chain.backfill`, the live session)."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from orderflow.chain.block_times import BlockHeader
from orderflow.chain.fields import FieldError, block_number, hash32
from orderflow.chain.rpc import EthClient, Header
from orderflow.errors import RetryableRpcError

log = logging.getLogger(__name__)


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
        if raw.get("blockTimestamp") is not None or not is_hash(raw.get("blockHash")):
            ready.append(raw)  # malformed logs go on to decode, which dead-letters them
            continue
        header = await headers.by_hash(raw["blockHash"])
        if header is None:
            orphans.append(raw)
            continue
        used[header.hash] = header
        ready.append({**raw, "blockTimestamp": hex(int(header.timestamp.timestamp()))})
    return ready, list(used.values()), orphans


def is_hash(value: Any) -> bool:
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


_HEADER_CONCURRENCY = 8  # header requests in flight at once


class Reorganised(Exception):
    """The logs of a range and the node's headers disagree: the chain moved while we read."""


async def headers_by_number(client: EthClient, numbers: Iterable[int]) -> dict[int, Header | None]:
    """The node's header of each block in ``numbers`` (None: it has none), a few at a time."""
    gate = asyncio.Semaphore(_HEADER_CONCURRENCY)

    async def one(number: int) -> tuple[int, Header | None]:
        async with gate:
            return number, await client.header_by_number(number)

    return dict(await asyncio.gather(*(one(n) for n in sorted(set(numbers)))))


def logs_on_headers(
    fetched: Mapping[int, Header | None], raws: Sequence[Mapping[str, Any]]
) -> dict[int, Header]:
    """``fetched`` (headers read after the logs ``raws``), checked against them: raises
    Reorganised when a block of a log is gone or a log's blockHash is not its block's hash."""
    headers: dict[int, Header] = {}
    for number, header in fetched.items():
        if header is None:
            raise Reorganised(f"block {number} of a log is gone")
        headers[number] = header
    for raw in raws:
        log_block = block_of(raw)
        held = headers.get(log_block) if log_block is not None else None
        if (
            held is not None
            and is_hash(raw.get("blockHash"))  # a malformed one is a dead letter, not a fork
            and str(raw.get("blockHash")).lower() != held.hash
        ):
            raise Reorganised(
                f"a log of block {held.number} names block hash {raw.get('blockHash')}, "
                f"the node now has {held.hash}"
            )
    return headers


async def verified_headers(
    client: EthClient,
    raws: Sequence[Mapping[str, Any]],
    *,
    start: int,
    end: int,
    with_end: bool,
    recent_from: int,
    below: Header | None,
    more: Iterable[int] = (),
    held: Mapping[int, Header] | None = None,
) -> dict[int, Header]:
    """Headers (fetched after the logs ``raws`` of [start, end]) of the blocks from
    ``recent_from`` up holding logs, and of ``end`` when ``with_end``.

    ``held``: headers held of every block from ``start - 1`` to ``end``, linked by their parent
    hashes (``BlockWindow.linked``). When the node's ``end``, fetched after the logs, is the held
    one, every held header is the node's block at its height (a block's hash commits to its
    parents): they stand for the others, none fetched. Otherwise they are all fetched.

    ``more``: further blocks of the range whose headers are wanted (their blooms are checked).
    ``below``: the header held for block ``start - 1`` (None: none can still reorganise); the
    node must still have it, else RetryableRpcError (what is stored below is of the old chain).
    Raises Reorganised when a log's blockHash is not its block's hash any more.
    """
    wanted = {n for r in raws if (n := block_of(r)) is not None and n >= recent_from}
    if with_end:
        wanted.add(end)
    wanted.update(more)
    if below is not None:
        wanted.add(below.number)
    fetched = await _held_chain(client, held, wanted, end, below)
    if fetched is None:
        fetched = await headers_by_number(client, wanted)
    if below is not None:
        now = fetched[below.number]
        if now is None or now.hash != below.hash:
            # Re-reading this range cannot help: what is stored (or read) below it is of
            # the old chain. The ranges read before it are stored, then the session ends,
            # and the next one finds the replaced block at start-up and rolls back.
            raise RetryableRpcError(
                f"the chain reorganised below block {start} while blocks up to it were "
                f"being stored: block {below.number} was {below.hash}, the node now has "
                f"{now.hash if now else 'no block'}; repairing before reading on"
            )
    if end in wanted and fetched[end] is None:
        raise RetryableRpcError(
            f"eth_getBlockByNumber on {client.endpoint}: block {end} not found "
            "(node behind its own eth_blockNumber?)"
        )
    return logs_on_headers(fetched, raws)


async def _held_chain(
    client: EthClient,
    held: Mapping[int, Header] | None,
    wanted: set[int],
    end: int,
    below: Header | None,
) -> dict[int, Header | None] | None:
    """The ``wanted`` headers from ``held`` (one linked chain up to ``end``), when the node's
    ``end`` fetched now is the held one and ``below`` is the chain's; None otherwise."""
    if held is None or end not in held or not wanted <= held.keys():
        return None
    if below is not None and ((h := held.get(below.number)) is None or h.hash != below.hash):
        return None
    now = await client.header_by_number(end)
    if now is None or now.hash != held[end].hash:
        return None
    found: dict[int, Header | None] = {n: held[n] for n in wanted}
    return found | {end: now}


async def unflagged(
    client: EthClient, raws: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """An eth_getLogs reply's logs, none of them a retraction.

    eth_getLogs answers from the canonical chain: a real node never flags a log of its reply
    ``removed: true``. One that does (a buggy or hostile provider) must not delete what is
    stored of the block, nor rewind a checkpoint, nor lose the log: each flagged log's block is
    fetched by number (one header per block, whatever its depth) and the log is kept, as a
    plain log, when it names that block's hash; it is dropped, retracting nothing, when the node
    now has another block there (a log of another fork). A flagged log whose block number or
    hash does not parse goes on, unflagged, to decode, which dead-letters it.
    """
    flagged = [r for r in raws if r.get("removed") is True]
    if not flagged:
        return list(raws)
    numbers = {n for r in flagged if (n := block_of(r)) is not None and is_hash(r.get("blockHash"))}
    fetched = await headers_by_number(client, numbers)
    kept: list[Mapping[str, Any]] = []
    dropped = 0
    for raw in raws:
        if raw.get("removed") is not True:
            kept.append(raw)
            continue
        number = block_of(raw)
        if number not in fetched or not is_hash(raw.get("blockHash")):  # decode's to judge
            kept.append({**raw, "removed": False})
            continue
        header = fetched[number]
        if header is None:
            raise Reorganised(f"block {number} of a log is gone")
        if str(raw["blockHash"]).lower() == header.hash:
            kept.append({**raw, "removed": False})
        else:
            dropped += 1
    log.warning(
        "eth_getLogs reply with logs flagged removed (a node never sends that there): "
        "%d kept as canonical after checking their block hash, %d of another fork dropped; "
        "nothing retracted",
        len(flagged) - dropped,
        dropped,
        extra={"endpoint": client.endpoint, "blocks": sorted(numbers)},
    )
    return kept
