"""Blocks rows into ``orderflow_blocks`` headers: the block hashes and times fill dumps lack.

A block orderflow already knows is never replaced by a file (see ``_new_headers``)."""

from __future__ import annotations

from collections.abc import Generator
from datetime import UTC, datetime
from typing import Any

import asyncpg

from orderflow.chain.contracts import MAINNET
from orderflow.chain.decode import DecodedBatch
from orderflow.chain.fields import FieldError, block_number
from orderflow.chain.store import BlockHeader, store_batch
from orderflow.history.events import RowDecoder
from orderflow.history.layouts import Layout
from orderflow.history.prefetch import Prefetch
from orderflow.history.report import ImportReport, advance, line_unit
from orderflow.history.row_batches import BadLine, Row
from orderflow.history.rows import RowError, hash32, timestamp, uint
from orderflow.history.sources import RowReader
from orderflow.progress import Progress


def _block_rows(
    layout: Layout, rows: list[Row], bad: list[BadLine], decoder: RowDecoder
) -> tuple[list[tuple[int, BlockHeader]], list[Any]]:
    col = layout.columns
    headers: list[tuple[int, BlockHeader]] = []
    dead = [decoder.dead(b.number, b.reason, text=b.text) for b in bad]
    for row in rows:
        v = row.values
        try:
            ts = timestamp(v.get(col["timestamp"]))
            if ts is None:
                raise RowError("timestamp is missing")
            try:
                when = datetime.fromtimestamp(ts, UTC)
            except (OverflowError, OSError, ValueError):  # e.g. milliseconds: past year 9999
                raise RowError(f"timestamp {ts} is not a valid time") from None
            parent = v.get(col["parent_hash"]) if "parent_hash" in col else None
            header = BlockHeader(
                block_number(uint(v.get(col["block_number"]), "block number")),  # a BIGINT
                hash32(v.get(col["block_hash"]), "block hash"),
                hash32(parent, "parent hash") if parent else None,
                when,
            )
            headers.append((row.number, header))
        except (RowError, FieldError) as exc:
            dead.append(decoder.dead(row.number, str(exc), values=v))
    return headers, dead


SELECT_KNOWN_BLOCKS = """
SELECT block_number, block_hash FROM orderflow_blocks
 WHERE chain_id = $1 AND block_number = ANY($2::bigint[])
"""


async def _new_headers(
    conn: asyncpg.Connection,
    chain_id: int,
    headers: list[tuple[int, BlockHeader]],
    dead: list[Any],
    decoder: RowDecoder,
) -> list[BlockHeader]:
    """Headers orderflow does not know yet, each block once. A known block is never replaced by
    a file: the same hash is skipped, a different one is reported (the listener's headers are
    the chain's); so is a block an earlier row of the batch holds (the first row's is stored:
    PostgreSQL's upsert takes no row twice in one statement)."""
    known = {
        r["block_number"]: r["block_hash"]
        for r in await conn.fetch(SELECT_KNOWN_BLOCKS, chain_id, [h.number for _, h in headers])
    }
    fresh: dict[int, BlockHeader] = {}
    for line, h in headers:
        stored = known.get(h.number)
        earlier = fresh.get(h.number)
        if stored is None and earlier is None:
            fresh[h.number] = h
        elif stored is not None and stored != h.hash:
            reason = f"block {h.number}: the file says {h.hash}, orderflow_blocks has {stored}"
            dead.append(decoder.dead(line, reason + "; not replaced"))
        elif earlier is not None and earlier.hash != h.hash:
            reason = (
                f"block {h.number}: the file says {h.hash}, an earlier row of it {earlier.hash}"
            )
            dead.append(decoder.dead(line, reason + "; not stored"))
    return list(fresh.values())


async def import_blocks(
    pool: asyncpg.Pool,
    reader: RowReader,
    layout: Layout,
    report: ImportReport,
    prog: Progress,
    chain_id: int,
    batch_size: int,
) -> None:
    decoder = RowDecoder(layout, reader.path.name, line_unit(reader), chain_id, MAINNET)

    def parsed() -> Generator[Any, None, None]:
        for rows, bad in reader.batches(batch_size):
            headers, dead = _block_rows(layout, rows, bad, decoder)
            yield headers, dead, len(rows) + len(bad), reader.position()

    ahead = Prefetch(parsed())
    async with pool.acquire() as conn:
        try:
            while (item := await ahead.get()) is not None:
                numbered, dead, read, at = item
                headers = await _new_headers(conn, chain_id, numbered, dead, decoder)
                await store_batch(
                    conn,
                    DecodedBatch(dead_letters=dead),
                    chain_id=chain_id,
                    blocks=headers,
                    synchronous_commit=False,
                )
                report.rows += read
                report.blocks += len(headers)
                report.dead_letters += len(dead)
                report.batches += 1
                advance(prog, report, read, len(dead), at)
        finally:
            await ahead.close()
