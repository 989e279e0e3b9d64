"""Dead letters: logs that cannot be stored, kept with their reason in ``orderflow_dead_letters``.

A dead letter's identity is the sha256 of its raw log's canonical JSON (``dead_letter_key``), so
a replay upserts the same row. ``store.store_batch`` writes them in its transaction
(``insert_dead_letters``), including logs whose time is unknown (``untimed_dead_letter``). A
Parquet row's or JSON-array element's dead letter stored before migration 038 had another
identity (no ``row_number`` in ``raw``): the new one takes it over
(``store_sql.MERGE_PRE_038_DEAD_LETTERS``), so a re-import does not record the row twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

from orderflow.chain import store_sql as sql
from orderflow.chain.events import DeadLetter, LogRef
from orderflow.chain.fields import MAX_BLOCK_NUMBER, MAX_LOG_INDEX, topic0_of
from orderflow.chain.storable import storable_key, storable_text


def dead_letter_key(raw: Mapping[str, Any]) -> tuple[str, str]:
    """(sha256 of the canonical JSON, that JSON): identity and payload of a dead letter.

    Whatever the raw object holds (NaN, lone surrogates, NUL, huge or deep values) the JSON is
    made storable (``storable.storable_json``) so a hostile log cannot abort its batch.
    """
    return storable_key(raw)


def stored_place(row: Mapping[str, Any]) -> dict[str, Any]:
    """Where a stored row sits (its transaction, log index, block and block hash), for the
    ``raw`` of the dead letter that says it was refused or replaced."""
    return {k: row[k] for k in ("tx_hash", "log_index", "block_number", "block_hash")}


def row_dead_letter(
    chain_id: int,
    row: Mapping[str, Any],
    raw: Mapping[str, Any],
    reason: str,
    *,
    block: str = "block_number",
    address: str | None = "exchange",
) -> DeadLetter:
    """The dead letter of a stored or staged row the store refused, replaced or removed: placed
    at the row's transaction and log index, its ``block`` and (unless None) ``address`` read
    from the columns of those names."""
    return DeadLetter(
        raw=raw,
        reason=reason,
        chain_id=chain_id,
        tx_hash=row["tx_hash"],
        log_index=row["log_index"],
        block_number=row[block],
        address=None if address is None else row[address],
    )


def log_dead_letter(ref: LogRef, chain_id: int, reason: str) -> DeadLetter:
    """The dead letter of a decoded log: its raw log (or, built by hand without one, its ref's
    text) and where it is — transaction, index, block, emitter and event (topic0)."""
    return DeadLetter(
        raw=ref.raw if ref.raw is not None else {"ref": repr(ref)},
        reason=reason,
        chain_id=chain_id,
        tx_hash=ref.tx_hash,
        log_index=ref.log_index,
        block_number=ref.block_number,
        address=ref.address,
        topic0=topic0_of(ref.raw) if ref.raw is not None else None,
    )


def untimed_dead_letter(ref: LogRef, chain_id: int, kind: str) -> DeadLetter:
    return log_dead_letter(
        ref,
        chain_id,
        f"{kind} has no blockTimestamp and block {ref.block_number} ({ref.block_hash}) is "
        "neither in orderflow_blocks nor among the batch's headers",
    )


def _opt_text(value: object, limit: int) -> str | None:
    return None if value is None else storable_text(value, limit)


def _opt_int(value: int | None, maximum: int) -> int | None:
    return value if value is not None and 0 <= value <= maximum else None


async def insert_dead_letters(
    conn: asyncpg.Connection, chain_id: int, letters: Sequence[DeadLetter]
) -> None:
    args = []
    for d in letters:
        digest, text = dead_letter_key(d.raw)
        args.append(
            (
                digest,
                chain_id,
                _opt_text(d.tx_hash, 100),
                _opt_int(d.log_index, MAX_LOG_INDEX),
                _opt_int(d.block_number, MAX_BLOCK_NUMBER),
                _opt_text(d.address, 100),
                _opt_text(d.topic0, 100),
                storable_text(d.reason, 2000),
                text,
                _opt_text(d.file, 1000),
                _opt_int(d.line, MAX_BLOCK_NUMBER),  # a BIGINT, as a block number
            )
        )
    await conn.executemany(sql.UPSERT_DEAD_LETTER, args)
    rows = [  # a row-numbered file's (history/dead.py), with its file and row
        a
        for a, d in zip(args, letters, strict=True)
        if a[9] is not None and a[10] is not None and "row_number" in d.raw
    ]
    if rows:
        await conn.execute(
            sql.MERGE_PRE_038_DEAD_LETTERS,
            chain_id,
            [a[9] for a in rows],
            [a[10] for a in rows],
            [a[8] for a in rows],
        )
