"""One range of a backfill read: fetched whole, checked against its headers, timed, decoded.

``Backfiller`` (backfill.py) stores the ranges a :class:`RangeReader` reads, in order. Reading a
range fetches its logs (split and read again below a provider's result cap, ``capped_logs``),
fetches the headers of its blocks that can still reorganise *after* the logs and checks every
log against them (``backfill_headers.verified_headers``: a mismatch raises ``Reorganised`` and
the backfill reads the range again; so does an end block that is not the one read before the
logs), checks that the block just below it is still the one held,
gives every log its block's time and decodes the range (fills and matches rendered for COPY, in
a worker thread).

A reply can also be short without any reorg: a load-balanced provider may answer eth_getLogs
from a backend that lags the one answering the headers, and such a backend answers an empty or
partial list for the blocks it has not reached, without an error. So the headers of the run's
top :data:`LAG_CHECK_BLOCKS` blocks are fetched too, and a block whose ``logsBloom`` may hold a
log of the filter while the reply has none of it is read again by its hash (one eth_getLogs):
logs there mean the reply was short (``ReplyBehind``: the range is read again), none mean a
bloom false positive (counted, the range is taken).

A reply holding two versions of one log (``reply_versions``) is read again too
(``TwoVersions``); on the last try, every version is a dead letter and the rest is taken.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.trace import Tracer

from orderflow.chain.backfill_headers import (
    HeaderCache,
    Reorganised,
    block_of,
    fill_timestamps,
    is_hash,
    unflagged,
    verified_headers,
)
from orderflow.chain.bloom import may_match
from orderflow.chain.capped_logs import get_logs_whole
from orderflow.chain.contracts import TOPIC_CONDITION_PREPARATION, ChainAddresses
from orderflow.chain.decode import dead_letter
from orderflow.chain.decode_workers import Chunk, decode_raws
from orderflow.chain.events import DeadLetter
from orderflow.chain.fields import topic0_of
from orderflow.chain.reorg import BlockWindow
from orderflow.chain.reply_versions import split_versions
from orderflow.chain.rpc import EthClient, Header
from orderflow.errors import RangeTooLargeError

log = logging.getLogger(__name__)


@dataclass
class ReadRange:
    """A range read (fetched, checked, timed, decoded): what storing it needs."""

    start: int
    end: int
    logs: int  # as the node returned them
    ready: list[Mapping[str, Any]]  # with their times: decoded again if the rows are refused
    chunk: Chunk
    verified: dict[int, Header]  # recent blocks' headers, fetched after the logs, and ``end``'s
    used: list[Header]  # headers that gave logs their time
    splits: int = 0  # replies at a result cap that were split and read again
    narrowed_blocks: int = 0  # single blocks at a result cap, read by narrower filters
    capped_blocks: int = 0  # single blocks still at a result cap, taken as returned
    capped: list[DeadLetter] = field(default_factory=list)  # their dead letters
    bloom_false_positives: int = 0  # blocks whose bloom matched, read by hash: none of our logs
    outside: list[DeadLetter] = field(default_factory=list)  # logs of blocks not asked for
    versions: list[DeadLetter] = field(default_factory=list)  # logs the reply held twice, unalike

    @property
    def refused(self) -> list[DeadLetter]:
        """The dead letters of the reply itself (added again when its logs are decoded again)."""
        return self.capped + self.outside + self.versions


HeldElsewhere = Callable[[int, int, list[tuple[int, str]]], Awaitable[set[int]]]
"""The heights of [start, end] holding a stored row of the filter under another block hash than
the reply's logs name there (``store_forks.held_elsewhere``, given the reply's (block, hash)
pairs): their headers are fetched with the range's and stored with it, so that the node's batch
undoes those rows (``store_forks.drop_forked``)."""


def reply_blocks(raws: Sequence[Mapping[str, Any]]) -> list[tuple[int, str]]:
    """Each block of a reply's well-formed logs and the hash they name (once each)."""
    return list(
        dict.fromkeys(
            (n, str(r["blockHash"]).lower())
            for r in raws
            if (n := block_of(r)) is not None and is_hash(r.get("blockHash"))
        )
    )


LAG_CHECK_BLOCKS = 32
"""The top blocks of a backfill run whose headers are fetched and whose bloom is checked
against the reply: a backend lagging the head by up to this many blocks plus the confirmations
(64 s on Polygon) is caught whichever of those blocks hold our logs."""


def within(
    raws: Sequence[Mapping[str, Any]], start: int, end: int, chain_id: int
) -> tuple[list[Mapping[str, Any]], list[DeadLetter]]:
    """An eth_getLogs reply for blocks [start, end] split into its logs of those blocks and
    dead letters for the logs of any other block (one the node has not mined, above its head,
    or one below the range): a node answers only what was asked, so such a log is corrupt or
    hostile, and taking it would store a fill nobody can check against its block, or read the
    range again forever as if the chain moved under it. A log whose block number does not
    parse goes on to decode, which dead-letters it."""
    inside: list[Mapping[str, Any]] = []
    outside: list[DeadLetter] = []
    for raw in raws:
        number = block_of(raw)
        if number is None or start <= number <= end:
            inside.append(raw)
            continue
        outside.append(
            dead_letter(
                raw,
                f"eth_getLogs of blocks {start}-{end} returned a log of block {number}, "
                "outside the range asked for: not stored (that block's own read stores its logs)",
                chain_id,
            )
        )
    return inside, outside


class TwoVersions(Reorganised):
    """An eth_getLogs reply held two versions of one log (``reply_versions``): read again."""


class ReplyBehind(Reorganised):
    """An eth_getLogs reply left out the logs of a block that holds some (read by its hash):
    a backend behind the chain's head answered. Read again, like a reorg."""


async def bloom_misses(
    client: EthClient,
    headers: Mapping[int, Header],
    with_logs: Collection[int],
    numbers: range,
    log_filter: dict[str, object],
) -> tuple[Header | None, int, int]:
    """The blocks ``numbers`` whose header (in ``headers``) has a bloom that may hold a log of
    ``log_filter`` while none of their logs came (not in ``with_logs``), each read by its hash
    (EIP-234) in turn: the first such block whose read found logs and how many (``None``, 0
    when none did), and how many read before it held none (bloom false positives).

    The one check behind an eth_getLogs reply short of a block's logs (``bloom_false_positives``)
    and a ``logs`` subscription that stopped sending them (``LiveStore``)."""
    suspects = [
        h
        for n in numbers
        if n not in with_logs
        and (h := headers.get(n)) is not None
        and h.logs_bloom is not None
        and may_match(h.logs_bloom, log_filter)
    ]
    for checked, header in enumerate(suspects):
        found = await _logs_of_block(client, header, log_filter)
        if found:
            return header, len(found), checked
    return None, 0, len(suspects)


async def _logs_of_block(
    client: EthClient, header: Header, log_filter: dict[str, object]
) -> list[dict[str, Any]]:
    """The logs of ``log_filter`` in the block of ``header``: read by its hash; from a node that
    refuses a read by hash (Polygon zkEVM's answered it "logs are limited to a 10000 block
    range", -32602: 0xPolygon/zkevm-node#3136), read by its number, a range of one block.
    Until 7 Dec 2026 that refusal went up as the range's own: the range shrank and was read
    again, refused again, and the backfill never got past a bloom false positive."""
    try:
        return await client.get_logs_of_block(header.hash, log_filter)
    except RangeTooLargeError as exc:
        log.info(
            "a read by hash was refused: reading the block by its number",
            extra={"block": header.number, "reason": str(exc)},
        )
        return await client.get_logs(header.number, header.number, log_filter)


async def bloom_false_positives(
    client: EthClient,
    headers: Mapping[int, Header],
    raws: Sequence[Mapping[str, Any]],
    numbers: range,
    log_filter: dict[str, object],
) -> int:
    """Check the reply ``raws`` against the blooms of ``headers`` (fetched after it) of the
    blocks ``numbers``: a block whose bloom may hold a log of ``log_filter`` and of which the
    reply has none is read by its hash. Raises ReplyBehind when that read finds logs; returns
    how many such blocks held none (bloom false positives)."""
    with_logs = {n for r in raws if (n := block_of(r)) is not None}
    missed, found, false_positives = await bloom_misses(
        client, headers, with_logs, numbers, log_filter
    )
    if missed is not None:
        raise ReplyBehind(
            f"the eth_getLogs reply had no log of block {missed.number}, which holds "
            f"{found} (read by its hash): the node that answered was behind"
        )
    return false_positives


class RangeReader:
    """Reads the ranges of one backfill (:meth:`restart` before each ``Backfiller.run``).

    Every log of a block at or above the run's ``verify_from`` (the part of the chain that can
    still reorganise) is checked against that block's header; those headers and, with
    ``end_headers``, each range's end header come back with the range to be stored with it.
    ``untimed_conditions``: ConditionPreparation logs are taken without a time (the condition
    sync: no header request for a node that leaves ``blockTimestamp`` out). ``trust_window``: a
    range whose blocks the window holds as one linked chain is checked against those headers
    once its end is the node's (``backfill_headers.verified_headers``'s ``held``): the
    confirming read's, whose blocks the heads brought.
    """

    def __init__(
        self,
        client: EthClient,
        *,
        chain_id: int,
        addresses: ChainAddresses,
        headers: HeaderCache,
        log_filter: dict[str, object],
        window: BlockWindow | None,
        end_headers: bool,
        untimed_conditions: bool,
        result_caps: frozenset[int],
        tracer: Tracer,
        held: HeldElsewhere | None = None,
        trust_window: bool = False,
    ) -> None:
        self.client = client
        self.trust_window = trust_window
        self.chain_id = chain_id
        self.addresses = addresses
        self.headers = headers
        self.window = window
        self.end_headers = end_headers
        self.untimed_conditions = untimed_conditions
        self.result_caps = result_caps
        self._filter = log_filter
        self._tracer = tracer
        self._held = held
        self._verify_from = 0
        self._lag_from = 0
        self._previous_end: Header | None = None  # the end header of the range read last

    def restart(self, verify_from: int, lag_from: int | None = None) -> None:
        """A new run: blocks from ``verify_from`` up are checked, and from ``lag_from`` up
        (the run's top blocks, ``end_headers`` only) every block's bloom; no range read yet."""
        self._verify_from = verify_from
        self._lag_from = lag_from if lag_from is not None and self.end_headers else 1 << 62
        self._previous_end = None

    def _held_below(self, start: int) -> Header | None:
        """The header we hold for block ``start - 1``, when it can still reorganise: the end of
        the range read before this one, else the listener's (e.g. the checkpoint's block).

        A range's logs agree with the headers fetched after them, but that says nothing of
        the blocks below it, stored or read earlier from another chain: ``start - 1`` is
        fetched with this range's headers and must still be the block we hold.
        """
        number = start - 1
        if number < self._verify_from:
            return None
        if self._previous_end is not None and self._previous_end.number == number:
            return self._previous_end
        return self.window.get(number) if self.window is not None else None

    def _window_chain(self, start: int, end: int) -> dict[int, Header] | None:
        """The window's headers of ``start - 1`` to ``end`` as one chain, with ``trust_window``."""
        if not self.trust_window or self.window is None:
            return None
        return self.window.linked(start - 1, end)

    async def read(self, start: int, end: int, *, last_try: bool = False) -> ReadRange:
        """Fetch [start, end] once, check it against the headers, give every log its time and
        decode it (fills and matches rendered for COPY, in a worker thread). A reply with two
        versions of one log raises ``TwoVersions``; on the ``last_try``, they are dead letters."""
        with self._tracer.start_as_current_span(
            "backfill.read", attributes={"from_block": start, "to_block": end}
        ):
            # The end block, read before the logs as well as after them: a log names its
            # block, but nothing in the reply names the blocks without our logs. Only the end
            # block being the same before and after shows the reply is of that chain (a reorg
            # between the two that replaced blocks above the reply's last log, or a node that
            # had not reached ``end`` yet, reads the range again).
            checked = self.end_headers and end >= self._verify_from
            lag_checked = range(max(start, self._lag_from), end + 1)  # their blooms, below
            before = await self.client.header_by_number(end) if checked else None
            whole = await get_logs_whole(self.client, start, end, self._filter, self.result_caps)
            raws, outside = within(whole.logs, start, end, self.chain_id)
            replied = raws  # the blocks with logs, for the bloom check (their versions' too)
            raws, versions = split_versions(raws, self.chain_id)
            if versions and not last_try:
                raise TwoVersions(
                    f"the eth_getLogs reply of {start}-{end} held two versions of a log "
                    f"({versions[0].reason})"
                )
            raws = await unflagged(self.client, raws)  # never a retraction
            # heights where something is held under another hash than the reply's: their
            # headers are stored with the range, and the node's batch undoes what they contradict
            held = await self._held(start, end, reply_blocks(raws)) if self._held else set()
            verified = await verified_headers(
                self.client,
                raws,
                start=start,
                end=end,
                with_end=self.end_headers,
                recent_from=self._verify_from,
                below=self._held_below(start),
                more={*lag_checked, *held},
                held=self._window_chain(start, end),
            )
            if checked and (before is None or before.hash != verified[end].hash):
                raise Reorganised(
                    f"block {end} was {before.hash if before else 'not there'} before the "
                    f"eth_getLogs of {start}-{end} and is {verified[end].hash} after it"
                )
            false_positives = await bloom_false_positives(
                self.client,
                verified,
                replied,
                lag_checked,
                self._filter,
            )
            for header in verified.values():
                self.headers.put(header)
            self._previous_end = verified.get(end)
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
                raise Reorganised(f"{len(orphans)} log(s) name a block the node no longer has")
            chunk = await asyncio.to_thread(decode_raws, ready, self.chain_id, self.addresses)
            capped = whole.dead_letters(self.chain_id)  # blocks in doubt: stored with the range
            chunk.batch.dead_letters += capped + outside + versions
        return ReadRange(
            start,
            end,
            len(raws),
            ready,
            chunk,
            verified,
            used,
            whole.splits,
            len(whole.narrowed),
            len(whole.capped_blocks),
            capped,
            false_positives,
            outside,
            versions,
        )
