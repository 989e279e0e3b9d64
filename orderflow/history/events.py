"""Rows of a fill, match or raw-log file → a decoded batch, with bad rows as dead letters.

Each row's identity (tx hash, log index, block) is parsed first; its block hash comes from the
row, or else from the blocks orderflow already knows (``orderflow_blocks``: a listener's headers
or an imported blocks file). A fill or match row then becomes the event the listener's decoder
would produce from its raw log, built directly (``build.py``, held equal to the round trip by
the tests); a row the shortcut does not take, and every raw-log row, is encoded back into its raw
log and decoded by ``orderflow.chain.decode`` — the listener's decoder. A row whose values do not
parse, whose exchange is unknown, or that the decoder refuses, becomes a dead letter naming the
file, the line and the reason.

A row's time must be its block's where ``orderflow_blocks`` records that block (same hash): a
row whose time is another is a dead letter (``RowDecoder.off_time``) — its block number is
wrong, or the dump's times are in another zone. Stored, it would stay as it is for good: the
chain's backfill of those blocks keeps a stored fill (its time unchanged), or stores the real
fill at its real block beside the misplaced one.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

from orderflow.chain.amounts import correct_taker_amounts, correct_unmatched_takers
from orderflow.chain.contracts import ChainAddresses
from orderflow.chain.decode import DecodedBatch, decode_batch, decode_log
from orderflow.chain.events import DeadLetter, Decoded, Fill
from orderflow.chain.fields import FieldError, block_number
from orderflow.chain.file_lines import Locate, by_identity
from orderflow.history import columns
from orderflow.history.build import (
    Prepared,
    Times,
    check_position,
    checked_block_hash,
    event_of,
    prepare,
)
from orderflow.history.dead import dead_row, locate
from orderflow.history.errors import HistoryError
from orderflow.history.layouts import Layout, refuse_other_exchange, refuse_underived_id
from orderflow.history.log_ids import read_log_id
from orderflow.history.row_batches import Batch, Row
from orderflow.history.rows import MAX_SECONDS, OtherExchange, RowEncoder, RowError, timestamp

SELECT_BLOCKS = """
SELECT block_number, block_hash, extract(epoch FROM timestamp)::bigint AS epoch
  FROM orderflow_blocks
 WHERE chain_id = $1 AND block_number = ANY($2::bigint[])
"""


@dataclass(slots=True)
class Parsed:
    """A batch of rows with their identities, before block hashes are known."""

    # (row, identity, its own block hash or None, its event fields when parsed column-wise)
    rows: list[tuple[Row, tuple[str, int, int], str | None, Prepared | None]] = field(
        default_factory=list
    )
    dead: list[DeadLetter] = field(default_factory=list)
    read: int = 0


@dataclass(slots=True)
class Encoded:
    batch: DecodedBatch
    top: tuple[int, str] | None  # highest block stored from this batch, and its hash
    # takers left as reported, makers of their transaction not in the batch (stored_makers)
    short: list[Fill] = field(default_factory=list)

    def top_without(self, unstored: Collection[tuple[str, int]]) -> tuple[int, str] | None:
        """``top`` leaving out the events of these (tx hash, log index): rows the writer made
        dead letters of (the database refused them), whose blocks the import did not store."""
        return self.batch.top(unstored) if unstored else self.top


class RowDecoder:
    """Parses, encodes and decodes one file's rows (one instance per file)."""

    def __init__(
        self, layout: Layout, source: str, unit: str, chain_id: int, addresses: ChainAddresses
    ) -> None:
        self.layout = layout
        self.source = source
        self.unit = unit  # "line" for text files, "row" for Parquet
        self.chain_id = chain_id
        self.encoder = RowEncoder(layout, addresses, chain_id)
        self.hashes: dict[int, str] = {}  # block number -> hash (bounded: cleared when large)
        # block number -> (hash, unix seconds) in orderflow_blocks, None when it has none
        self.recorded: dict[int, tuple[str, int] | None] = {}
        self._checked_id = not (layout.id_derives_log_index or layout.exchange is not None)
        self._times = Times()
        self._checked_hashes: dict[str, str] = {}

    def dead(
        self,
        number: int,
        reason: str,
        *,
        values: Mapping[str, Any] | None = None,
        text: str | None = None,
        identity: tuple[str, int, int] | None = None,
    ) -> DeadLetter:
        return dead_row(
            self.source,
            self.unit,
            number,
            reason,
            self.chain_id,
            values=values,
            text=text,
            identity=identity,
        )

    def check_first_ids(self, rows: Sequence[Row]) -> None:
        """The file's first batch, before anything of the file is stored. A layout whose
        ``id`` stands in for the log index: one row must show that it does (a spelling of
        ``log_ids.ID_SPELLINGS``), or the file is refused — its ids are another key (the
        orderbook subgraph's transactionHash_orderHash); a row among the others whose id derives
        none is a dead letter of its own. With ``--exchange``: a row naming another exchange
        refuses the file (a later one is a dead letter)."""
        if self.layout.id_derives_log_index:
            column = self.layout.columns["id"]
            ids = (read_log_id(row.values.get(column)) for row in rows)
            if rows and not any(i is not None and i.completes(self.layout) for i in ids):
                value = rows[0].values.get(column)
                raise refuse_underived_id(self.source, self.layout, value, len(rows))
        if self.layout.exchange is not None and "exchange" in self.layout.columns:
            self._check_exchanges(rows)
        self._checked_id = bool(rows)

    def _check_exchanges(self, rows: Sequence[Row]) -> None:
        column = self.layout.columns["exchange"]
        for row in rows:
            try:
                self.encoder.exchange(row.values.get(column))
            except OtherExchange as exc:
                raise refuse_other_exchange(
                    self.source, self.layout, column, exc.own, self.unit, row.number
                ) from None
            except RowError:
                continue  # an unknown exchange: a dead letter of its own

    def parse(self, batch: Batch) -> Parsed:
        """Identities of a batch's rows, and the event fields of fill and match rows (runs in
        the reader thread): column-wise (``columns.py``), the strict per-row parsers for a
        row the column-wise pass does not take."""
        rows = batch.rows
        out = Parsed(read=len(rows) + len(batch.bad))
        out.dead.extend(self.dead(b.number, b.reason, text=b.text) for b in batch.bad)
        if not self._checked_id:
            self.check_first_ids(rows)
        ids, owns = columns.identities(self.encoder, batch)
        fields: list[Prepared | None] = (
            [None] * len(rows)
            if self.layout.kind == "logs"
            else columns.prepared(self.encoder, batch)
        )
        add = out.rows.append
        for row, identity, own, prepared in zip(rows, ids, owns, fields, strict=True):
            if identity is None or own is columns.FAIL:
                try:
                    identity = self.encoder.identity(row.values)
                    own = self.encoder.row_block_hash(row.values)
                except RowError as exc:
                    out.dead.append(self.dead(row.number, str(exc), values=row.values))
                    continue
                try:  # its hash and time are looked up by number: one the ledger can hold
                    block_number(identity[2])
                except FieldError as exc:
                    dead = self.dead(row.number, str(exc), values=row.values, identity=identity)
                    out.dead.append(dead)
                    continue
            add((row, identity, own, prepared))
        return out

    async def resolve_hashes(self, conn: asyncpg.Connection, parsed: Parsed) -> None:
        """Learn the hash of every block the batch needs, and the hash and time
        ``orderflow_blocks`` records for each of its blocks; stop if a hash is unknown."""
        if len(self.hashes) > 1_000_000:
            self.hashes.clear()
        if len(self.recorded) > 1_000_000:
            self.recorded.clear()
        for _, (_, _, block), own, _ in parsed.rows:
            if own is not None:
                self.hashes[block] = own
        blocks = {b for _, (_, _, b), _, _ in parsed.rows}
        unread = sorted(b for b in blocks if b not in self.recorded)
        if unread:
            for r in await conn.fetch(SELECT_BLOCKS, self.chain_id, unread):
                self.recorded[r["block_number"]] = (r["block_hash"], r["epoch"])
            for b in unread:
                self.recorded.setdefault(b, None)
        unknown = []
        for b in sorted(blocks):
            if b not in self.hashes:
                header = self.recorded[b]
                if header is None:
                    unknown.append(b)
                else:
                    self.hashes[b] = header[0]
        if unknown:
            raise HistoryError(
                f"{self.source}: the hash of block {unknown[0]} is unknown "
                f"({len(unknown)} blocks of this batch): the file has no block_hash column and "
                "orderflow_blocks does not have it. Import the blocks first (a CSV/JSONL/Parquet "
                "with block_number, block_hash, timestamp: `orderflow import BLOCKS_FILE`); "
                "nothing of this batch was stored"
            )

    def off_time(self, parsed: Parsed) -> None:
        """Rows whose time is not the time ``orderflow_blocks`` records for their block (the
        same hash) become dead letters, in place: a wrong block number, or times in another
        zone (a time-less row, or one whose time does not parse, is left to the parsers)."""
        kept = []
        for item in parsed.rows:
            row, identity, own, p = item
            block = identity[2]
            header = self.recorded.get(block)
            if header is not None and (own or self.hashes[block]) == header[0]:
                seconds = p.timestamp if p is not None else self._time(row)
                if seconds is not None and seconds != header[1] and 0 <= seconds <= MAX_SECONDS:
                    ours, theirs = (datetime.fromtimestamp(t, UTC) for t in (seconds, header[1]))
                    reason = (
                        f"the row's time {ours} is not block {block}'s time {theirs} "
                        "(orderflow_blocks): a wrong block number, or times in another zone; "
                        "not stored"
                    )
                    parsed.dead.append(
                        self.dead(row.number, reason, values=row.values, identity=identity)
                    )
                    continue
            kept.append(item)
        if len(kept) < len(parsed.rows):
            parsed.rows[:] = kept

    def _time(self, row: Row) -> int | None:
        try:
            return timestamp(self.encoder.value(row.values, "timestamp"))
        except (ValueError, OverflowError, OSError):
            return None  # the parsers make it a dead letter of its own

    def locator(self, parsed: Parsed) -> Locate:
        """Names the file and row of a dead letter the writer makes of one of ``parsed``'s rows
        (a row without a known time, a row the store refuses): ``store_batch``'s ``locate``."""
        return by_identity(
            self.source,
            self.unit,
            lambda: ((tx, index, row.number) for row, (tx, index, _), _, _ in parsed.rows),
        )

    def encode(self, parsed: Parsed, *, via_raw_logs: bool = False) -> Encoded:
        """The decoded batch of the parsed rows (block hashes resolved).

        Fill and match rows are built directly (``build.py``); a row the shortcut does not
        take, every raw-log row, and every row when ``via_raw_logs`` (the reference path the
        tests and the benchmark compare with) is encoded into its raw log and decoded by the
        listener's decoder. A row whose time is not its block's is a dead letter first
        (:meth:`off_time`)."""
        self.off_time(parsed)
        if via_raw_logs or self.layout.kind == "logs":
            return self._via_raw_logs(parsed)
        return self._built(parsed)

    def _via_raw_logs(self, parsed: Parsed) -> Encoded:
        raws: list[dict[str, Any]] = []
        origin: dict[int, Row] = {}
        dead = list(parsed.dead)
        for row, identity, own, _ in parsed.rows:
            block_hash = own if own is not None else self.hashes[identity[2]]
            try:
                raw = self.encoder.encode(row.values, identity, block_hash)
            except (RowError, ValueError) as exc:
                dead.append(self.dead(row.number, str(exc), values=row.values, identity=identity))
                continue
            raws.append(raw)
            origin[id(raw)] = row
        batch = decode_batch(raws, self.chain_id, self.encoder.addresses)
        short = self._correct_unmatched(batch)
        for letter in batch.dead_letters:  # refused by the decoder: name the file and line
            src = origin.get(id(letter.raw))
            if src is not None:
                locate(letter, self.source, self.unit, src.number, src.values)
        batch.dead_letters.extend(dead)
        return Encoded(batch, batch.top(), short)

    def _built(self, parsed: Parsed) -> Encoded:
        """The shortcut, row by row; a row it does not take goes through its raw log alone
        (``decode_log``), in its place, so the batch is the one ``_via_raw_logs`` builds."""
        batch = DecodedBatch()
        refused: list[DeadLetter] = []  # by the decoder: first, as decode_batch returns them
        dead = list(parsed.dead)
        enc, chain_id, hashes, times = self.encoder, self.chain_id, self.hashes, self._times
        checked = self._checked_hashes
        fills, matches = batch.fills.append, batch.matches.append
        for row, identity, own, p in parsed.rows:
            block_hash = own if own is not None else hashes[identity[2]]
            try:
                try:
                    good_hash = checked[block_hash]
                except KeyError:
                    good_hash = checked[block_hash] = checked_block_hash(block_hash)
                check_position(identity)
                if p is None:
                    p = prepare(enc, row.values)
                when = times.of(p.timestamp)
            except (RowError, FieldError, ValueError, OverflowError, OSError):
                item: Decoded | None = self._one_via_raw_log(row, identity, block_hash, dead)
                if item is None:
                    continue
                if isinstance(item, DeadLetter):
                    refused.append(item)
                else:
                    batch.add(item)
                continue
            event = event_of(p, identity, good_hash, chain_id, when)
            if type(event) is Fill:
                fills(event)
            else:
                matches(event)  # type: ignore[arg-type]
        if len(checked) > 100_000:
            checked.clear()
        correct_taker_amounts(batch)
        short = self._correct_unmatched(batch)
        batch.dead_letters.extend(refused)
        batch.dead_letters.extend(dead)
        return Encoded(batch, batch.top(), short)

    def _correct_unmatched(self, batch: DecodedBatch) -> list[Fill]:
        """A file of OrderFilled rows holds no OrdersMatched: its takers get their executed
        amounts from their maker fills alone (``amounts.correct_unmatched_takers``), as the
        listener's match would give them; returns the takers whose makers are not all in the
        batch (``stored_makers`` reads the stored ones). Raw-log files carry their matches:
        the listener's own correction, in ``decode_batch``, is theirs."""
        short: list[Any] = []
        if self.layout.kind == "fills":
            correct_unmatched_takers(batch.fills, short)
        return short

    def _one_via_raw_log(
        self, row: Row, identity: tuple[str, int, int], block_hash: str, dead: list[DeadLetter]
    ) -> Decoded | None:
        try:
            raw = self.encoder.encode(row.values, identity, block_hash)
        except (RowError, ValueError) as exc:
            dead.append(self.dead(row.number, str(exc), values=row.values, identity=identity))
            return None
        item = decode_log(raw, self.chain_id, self.encoder.addresses)
        if isinstance(item, DeadLetter):
            locate(item, self.source, self.unit, row.number, row.values)
        return item
