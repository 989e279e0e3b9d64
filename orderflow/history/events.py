"""Rows of a fill, match or raw-log file → a decoded batch, with bad rows as dead letters.

Each row's identity (tx hash, log index, block) is parsed first; its block hash comes from the
row, or else from the blocks orderflow already knows (``orderflow_blocks``: a listener's headers
or an imported blocks file). The row is then encoded back into its raw log and the whole batch
decoded by ``orderflow.chain.decode`` — the listener's decoder — so what is stored is exactly
what the listener would store. A row whose values do not parse, whose exchange is unknown, or
that the decoder refuses, becomes a dead letter naming the file, the line and the reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from orderflow.chain.contracts import ChainAddresses
from orderflow.chain.decode import DecodedBatch, decode_batch
from orderflow.chain.events import DeadLetter
from orderflow.history.errors import HistoryError
from orderflow.history.layouts import Layout, refuse_underived_id, split_log_id
from orderflow.history.rows import RowEncoder, RowError, jsonable
from orderflow.history.sources import BadLine, Row

MAX_TEXT_IN_DEAD_LETTER = 10_000
SELECT_BLOCK_HASHES = """
SELECT block_number, block_hash FROM orderflow_blocks
 WHERE chain_id = $1 AND block_number = ANY($2::bigint[])
"""


@dataclass(slots=True)
class Parsed:
    """A batch of rows with their identities, before block hashes are known."""

    rows: list[tuple[Row, tuple[str, int, int], str | None]] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    read: int = 0


@dataclass(slots=True)
class Encoded:
    batch: DecodedBatch
    top: tuple[int, str] | None  # highest block stored from this batch, and its hash


class RowDecoder:
    """Parses, encodes and decodes one file's rows (one instance per file)."""

    def __init__(
        self, layout: Layout, source: str, unit: str, chain_id: int, addresses: ChainAddresses
    ) -> None:
        self.layout = layout
        self.source = source
        self.unit = unit  # "line" for text files, "row" for Parquet
        self.chain_id = chain_id
        self.encoder = RowEncoder(layout, addresses)
        self.hashes: dict[int, str] = {}  # block number -> hash (bounded: cleared when large)
        self._checked_id = not layout.id_derives_log_index

    def dead(
        self,
        number: int,
        reason: str,
        *,
        values: Mapping[str, Any] | None = None,
        text: str | None = None,
        identity: tuple[str, int, int] | None = None,
    ) -> DeadLetter:
        raw: dict[str, Any] = {"file": self.source, self.unit: number}
        if values is not None:
            raw["row"] = jsonable(values)
        if text is not None:
            raw["text"] = text[:MAX_TEXT_IN_DEAD_LETTER]
        tx, index, block = identity if identity is not None else (None, None, None)
        return DeadLetter(
            raw=raw,
            reason=f"{self.source} {self.unit} {number}: {reason}",
            chain_id=self.chain_id,
            tx_hash=tx,
            log_index=index,
            block_number=block,
        )

    def parse(self, rows: Sequence[Row], bad: Sequence[BadLine]) -> Parsed:
        """Identities of a batch's rows (runs in the reader thread)."""
        out = Parsed(read=len(rows) + len(bad))
        out.dead.extend(self.dead(b.number, b.reason, text=b.text) for b in bad)
        for row in rows:
            if not self._checked_id:
                value = row.values.get(self.layout.columns["id"])
                if split_log_id(value) is None:
                    raise refuse_underived_id(self.source, self.layout, value)
                self._checked_id = True
            try:
                identity = self.encoder.identity(row.values)
                own_hash = self.encoder.row_block_hash(row.values)
            except RowError as exc:
                out.dead.append(self.dead(row.number, str(exc), values=row.values))
                continue
            out.rows.append((row, identity, own_hash))
        return out

    async def resolve_hashes(self, conn: asyncpg.Connection, parsed: Parsed) -> None:
        """Learn the hash of every block the batch needs; stop if one is unknown."""
        for _, (_, _, block), own in parsed.rows:
            if own is not None:
                self.hashes[block] = own
        missing = sorted({b for _, (_, _, b), own in parsed.rows if b not in self.hashes})
        if not missing:
            return
        if len(self.hashes) > 1_000_000:
            self.hashes.clear()
        for r in await conn.fetch(SELECT_BLOCK_HASHES, self.chain_id, missing):
            self.hashes[r["block_number"]] = r["block_hash"]
        unknown = [b for b in missing if b not in self.hashes]
        if unknown:
            raise HistoryError(
                f"{self.source}: the hash of block {unknown[0]} is unknown "
                f"({len(unknown)} blocks of this batch): the file has no block_hash column and "
                "orderflow_blocks does not have it. Import the blocks first (a CSV/JSONL/Parquet "
                "with block_number, block_hash, timestamp: `orderflow import BLOCKS_FILE`); "
                "nothing of this batch was stored"
            )

    def encode(self, parsed: Parsed) -> Encoded:
        """Raw logs for the parsed rows, decoded by the listener's decoder."""
        raws: list[dict[str, Any]] = []
        origin: dict[int, Row] = {}
        dead = list(parsed.dead)
        for row, identity, own in parsed.rows:
            block_hash = own if own is not None else self.hashes[identity[2]]
            try:
                raw = self.encoder.encode(row.values, identity, block_hash)
            except (RowError, ValueError) as exc:
                dead.append(self.dead(row.number, str(exc), values=row.values, identity=identity))
                continue
            raws.append(raw)
            origin[id(raw)] = row
        batch = decode_batch(raws, self.chain_id, self.encoder.addresses)
        for letter in batch.dead_letters:  # refused by the decoder: name the file and line
            src = origin.get(id(letter.raw))
            if src is not None:
                letter.reason = f"{self.source} {self.unit} {src.number}: {letter.reason}"
                letter.raw = {
                    "file": self.source,
                    self.unit: src.number,
                    "row": jsonable(src.values),
                    "log": dict(letter.raw),
                }
        batch.dead_letters.extend(dead)
        top: tuple[int, str] | None = None
        for group in (batch.fills, batch.matches, batch.conditions, batch.resolutions):
            for e in group:  # type: ignore[attr-defined]
                ref = e.ref
                if top is None or ref.block_number > top[0]:
                    top = (ref.block_number, ref.block_hash)
        for ref in (*batch.ignored, *(r.ref for r in batch.registrations)):
            if top is None or ref.block_number > top[0]:
                top = (ref.block_number, ref.block_hash)
        return Encoded(batch, top)
