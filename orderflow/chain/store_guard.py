"""``store_batch`` that one refused value cannot defeat: the rest of the batch is stored.

Decoding checks every value against the ledger's columns first (``fields.py``: log indexes fit
INTEGER, block numbers BIGINT, amounts and prices their NUMERICs; ``storable.py``: dead letters
are valid ``jsonb``/``text``), so in the normal case a batch is ONE transaction with no extra
round trip. This module is the defence in depth behind those checks: when PostgreSQL (or
asyncpg's encoder) still refuses a batch because of its *data* — never for a lost connection,
which propagates so the caller retries — the batch is stored again in halves, recursively, and
each log that is refused on its own becomes a dead letter with the database's reason. The
checkpoint moves only with the last part, so a crash half-way repeats the parts (idempotent)
rather than skipping them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg

from orderflow.chain.block_times import BlockHeader
from orderflow.chain.checkpoints import Checkpoint
from orderflow.chain.contracts import MAINNET, ChainAddresses
from orderflow.chain.copy_render import CopyRows
from orderflow.chain.dead_letters import log_dead_letter
from orderflow.chain.events import (
    ConditionPreparation,
    ConditionResolution,
    DeadLetter,
    DecodedBatch,
    FeeRefund,
    Fill,
    Match,
    TokenRegistration,
)
from orderflow.chain.file_lines import Locate
from orderflow.chain.storable import storable_text
from orderflow.chain.store import StoreStats, store_batch

log = logging.getLogger(__name__)

# What "the database refuses these values" looks like: SQLSTATE classes 22 (data exception),
# 23 (integrity constraint, e.g. a domain CHECK), 54 (program limit, e.g. a row too big), and
# asyncpg's client-side encoding errors (a str that is not UTF-8, an int out of range).
REFUSED_DATA: tuple[type[BaseException], ...] = (
    asyncpg.DataError,
    asyncpg.IntegrityConstraintViolationError,
    asyncpg.ProgramLimitExceededError,
    UnicodeError,
    OverflowError,
)

Item = (
    Fill
    | Match
    | TokenRegistration
    | ConditionPreparation
    | ConditionResolution
    | FeeRefund
    | DeadLetter
)


def _items(batch: DecodedBatch) -> list[Item]:
    return [
        *batch.registrations,
        *batch.conditions,
        *batch.fills,
        *batch.matches,
        *batch.refunds,
        *batch.resolutions,
        *batch.dead_letters,
    ]


def _batch_of(items: Sequence[Item]) -> DecodedBatch:
    part = DecodedBatch()
    for item in items:
        part.add(item)
    return part


def _refused(item: Item, exc: BaseException, chain_id: int) -> DeadLetter:
    reason = f"refused by the database: {type(exc).__name__}: {exc}"
    if isinstance(item, DeadLetter):
        # The dead letter itself was refused: keep its text representation instead.
        return DeadLetter(
            raw={"unstorable": storable_text(repr(item.raw), 5000)},
            reason=storable_text(f"{item.reason}; then {reason}", 2000),
            chain_id=chain_id,
            file=item.file,
            line=item.line,
        )
    return log_dead_letter(item.ref, chain_id, storable_text(reason, 2000))


async def store_batch_isolating(
    conn: asyncpg.Connection,
    batch: DecodedBatch,
    *,
    chain_id: int,
    blocks: Sequence[BlockHeader] = (),
    checkpoint: Checkpoint | None = None,
    traceparent: str | None = None,
    synchronous_commit: bool = True,
    addresses: ChainAddresses = MAINNET,
    untimed_conditions: bool = False,
    bulk: bool = False,
    locate: Locate | None = None,
    authoritative: bool = False,
) -> StoreStats:
    """``store.store_batch``, except that values the database refuses cost only their own log
    (``locate``: a file import's, names the file and line of that dead letter too)."""

    async def store(part: DecodedBatch, at: Checkpoint | None) -> StoreStats:
        """``part`` stored with this call's options; ``at``: the checkpoint it advances to."""
        return await store_batch(
            conn,
            part,
            chain_id=chain_id,
            blocks=blocks,
            checkpoint=at,
            traceparent=traceparent,
            synchronous_commit=synchronous_commit,
            addresses=addresses,
            untimed_conditions=untimed_conditions,
            bulk=bulk,
            locate=locate,
            authoritative=authoritative,
        )

    try:
        return await store(batch, checkpoint)
    except REFUSED_DATA as exc:
        log.warning(
            "the database refused a batch; storing it in parts to isolate the bad log",
            extra={"reason": storable_text(str(exc), 500), "events": len(batch)},
        )
    stats = StoreStats()

    async def attempt(items: Sequence[Item], known_bad: bool, last: bool = False) -> None:
        """Store ``items``, or isolate what is refused; ``last``: ``items`` is the plainest
        dead letter of a refused dead letter, and if it is refused too, no value of a log is
        to blame (the batch's blocks or checkpoint are): the refusal is raised. Until 4 Dec
        2026 it was made a dead letter again, recursively, until RecursionError."""
        if not items:
            return
        if not known_bad:
            try:
                stats.add(await store(_batch_of(items), None))
                return
            except REFUSED_DATA as exc:
                if len(items) == 1:
                    if last:
                        raise
                    letter = _refused(items[0], exc, chain_id)
                    log.warning(
                        "log refused by the database kept as a dead letter",
                        extra={
                            "tx_hash": letter.tx_hash,
                            "log_index": letter.log_index,
                            "reason": letter.reason,
                        },
                    )
                    await attempt([letter], known_bad=False, last=isinstance(items[0], DeadLetter))
                    return
        middle = len(items) // 2
        await attempt(items[:middle], known_bad=False)
        await attempt(items[middle:], known_bad=False)

    if batch.removed:  # first, as store_batch does: they retract what came before them
        # Only the retraction: no blocks, checkpoint or writer options (those go with the rest).
        stats.add(
            await store_batch(
                conn,
                DecodedBatch(removed=list(batch.removed)),
                chain_id=chain_id,
                synchronous_commit=synchronous_commit,
                bulk=bulk,
            )
        )
    items = _items(batch)
    if items:
        await attempt(items, known_bad=len(items) > 1)
    stats.add(await store(DecodedBatch(ignored=list(batch.ignored)), checkpoint))
    return stats


async def store_rendered_isolating(
    conn: asyncpg.Connection,
    batch: DecodedBatch,
    rows: CopyRows | None,
    redecode: Callable[[], Awaitable[DecodedBatch]],
    **options: Any,
) -> StoreStats:
    """A batch whose fills and matches were rendered off the writer (``rows``, from
    ``decode_workers``; ``batch`` holds everything else), or decoded only (``rows`` None).

    If the database refuses the rendered batch, ``redecode`` gives the whole batch decoded again
    (the rendered rows do not say which log was refused) and it is stored as
    :func:`store_batch_isolating` stores any batch. ``options``: ``store_batch``'s."""
    if rows is not None:
        try:
            return await store_batch(conn, batch, rows=rows, **options)
        except REFUSED_DATA as exc:
            # Decoded values never get here; if one does, the guarded path isolates it.
            log.warning(
                "the database refused a rendered batch; storing it event by event",
                extra={"reason": storable_text(str(exc), 500)},
            )
        batch = await redecode()
    return await store_batch_isolating(conn, batch, **options)
