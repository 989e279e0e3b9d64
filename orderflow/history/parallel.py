"""Parsing a fill or match file's batches in worker processes, in order, a bounded number ahead.

The main process reads (CSV lines into fields, JSON lines as text, Parquet record batches) and
hands each batch to a worker, which parses it exactly as ``RowDecoder.parse`` does in process
(the same code: column-wise identities and event fields, dead letters for rows that do not
parse) and sends back, per row, only its index, identity, own block hash and event fields. The
main process keeps what it read, so a row whose values are needed after all (a dead letter, a
row the shortcut does not take) is rebuilt from it. Results are consumed in file order; at most
twice as many batches as workers are in flight, so memory stays bounded by the batch size.

Block hashes, events, the taker-amount correction and storing stay in the main process (they
need the database and whole transactions); the workers take the parsing. That pays for JSON
lines (the JSON parsing moves too); for Parquet and CSV, handing a batch over and taking the
results back costs the main process about as much as parsing it (docs/benchmarks.md), so
``auto_workers`` leaves those in process.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from orderflow.chain.contracts import ChainAddresses
from orderflow.chain.events import DeadLetter
from orderflow.history.build import Prepared
from orderflow.history.events import Parsed, RowDecoder
from orderflow.history.layouts import Layout
from orderflow.history.memory import fewer_collections
from orderflow.history.row_batches import (
    Batch,
    ColumnarRow,
    FieldsRow,
    RecordRows,
    Row,
    json_row,
)
from orderflow.history.sources import RowReader

Item = tuple[Any, ...]
"""A parsed row as a worker returns it, one flat tuple: its index in the batch, tx hash, log
index, block, own hash, then the :class:`Prepared` fields if it has them (a flat tuple pickles
in about a microsecond; a NamedTuple, through its class, in fifteen)."""
_new = tuple.__new__

MIN_AUTO_BYTES = 64 * 1024 * 1024
"""Below this file size ``workers=None`` parses in process (starting workers costs seconds)."""

_DECODER: RowDecoder | None = None


def auto_workers(reader: RowReader, layout: Layout) -> int:
    """Workers for ``workers=None``: for fill and match files of JSON lines large enough to pay
    for starting them, one per core beyond the two the main process and PostgreSQL use (at most
    4). Parquet and CSV batches cost the main process about as much to hand over and take back
    as to parse (docs/benchmarks.md), so they are parsed in process unless asked."""
    if (
        layout.kind not in ("fills", "matches")
        or reader.format != "jsonl"
        or reader.size < MIN_AUTO_BYTES
    ):
        return 0
    return max(0, min(4, (os.cpu_count() or 1) - 2))


def _start(layout: Layout, source: str, unit: str, chain_id: int, addrs: ChainAddresses) -> None:
    global _DECODER
    fewer_collections()
    _DECODER = RowDecoder(layout, source, unit, chain_id, addrs)
    _DECODER._checked_id = True  # the main process checks the file's first batch


class _LineRow(Row):
    """A JSON line the main process kept as text (parsed again only if its values are needed)."""

    __slots__ = ("_text",)

    def __init__(self, number: int, text: str) -> None:
        super().__init__(number)
        self._text = text

    def _build(self) -> dict[str, Any]:
        row = json_row(self.number, self._text)
        assert isinstance(row, Row)
        return row.values


def _batch(columns: list[str], chunk: tuple[Any, ...]) -> Batch:
    """The batch a chunk stands for (the same in the worker and, lazily, in the main process)."""
    kind = chunk[0]
    if kind == "csv":
        _, numbers, fields, bad = chunk
        batch = Batch(columns, fields)
        batch.rows = [FieldsRow(n, columns, f) for n, f in zip(numbers, fields, strict=True)]
        batch.bad = list(bad)
    elif kind == "parquet":
        _, start, record_batch, bad = chunk
        batch = Batch(columns, record_batch)
        batch.bad = list(bad)  # an unreadable row group's rows (no record batch then)
        if record_batch is not None:
            rows = RecordRows(record_batch)
            batch.rows = [ColumnarRow(start + i + 1, rows, i) for i in range(record_batch.num_rows)]
    else:
        batch = Batch(columns)
        for number, text in chunk[1]:
            row = json_row(number, text)
            (batch.rows if isinstance(row, Row) else batch.bad).append(row)  # type: ignore[arg-type]
    return batch


def _parse(columns: list[str], chunk: tuple[Any, ...]) -> tuple[list[Item], list[DeadLetter]]:
    """In a worker: parse one chunk; rows come back by their index in the chunk."""
    assert _DECODER is not None
    batch = _batch(columns, chunk)
    parsed = _DECODER.parse(batch)
    index = {id(row): i for i, row in enumerate(_keyed_rows(chunk, batch))}
    items = [
        (index[id(row)], *identity, own, *(fields or ()))
        for row, identity, own, fields in parsed.rows
    ]
    return items, parsed.dead


def _keyed_rows(chunk: tuple[Any, ...], batch: Batch) -> list[Row]:
    """The rows by chunk index: JSON lines index the chunk's lines, bad ones included."""
    if chunk[0] != "jsonl":
        return batch.rows
    by_number = {row.number: row for row in batch.rows}
    return [by_number.get(number, _NOT_A_ROW) for number, _ in chunk[1]]


_NOT_A_ROW = Row(0)


def _rows_of(columns: list[str], chunk: tuple[Any, ...]) -> list[Row]:
    """In the main process: the chunk's rows, values built only when asked."""
    kind = chunk[0]
    if kind == "jsonl":
        return [_LineRow(number, text) for number, text in chunk[1]]
    return _batch(columns, chunk).rows


def _chunks(reader: RowReader, size: int) -> Iterator[tuple[Any, ...]]:
    if reader.format == "jsonl":
        for lines in reader.line_chunks(size):
            yield ("jsonl", lines)
        return
    for batch in reader.column_batches(size):
        if reader.format == "csv":
            fields = batch._source
            yield ("csv", [r.number for r in batch.rows], fields, batch.bad)
        else:
            start = batch.rows[0].number - 1 if batch.rows else 0
            yield ("parquet", start, batch._source, batch.bad)


def parsed_in_workers(
    reader: RowReader, decoder: RowDecoder, size: int, workers: int
) -> Iterator[tuple[Parsed, tuple[int, int | None]]]:
    """``(decoder.parse(batch), reader position)`` for every batch, parsed by ``workers``
    processes; the first batch's ids are checked here (a refused layout raises before any work)."""
    columns = reader.columns
    context = multiprocessing.get_context("spawn")  # no fork of a threaded, async process
    pool = ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_start,
        initargs=(decoder.layout, decoder.source, decoder.unit, decoder.chain_id,
                  decoder.encoder.addresses),
    )  # fmt: skip
    pending: deque[tuple[tuple[Any, ...], Future[Any], tuple[int, int | None]]] = deque()
    try:
        for chunk in _chunks(reader, size):
            if not decoder._checked_id:
                decoder.check_first_ids(_batch(columns, chunk).rows)  # its lines that are rows
            pending.append((chunk, pool.submit(_parse, columns, chunk), reader.position()))
            if len(pending) > 2 * workers:
                yield _finish(columns, *pending.popleft())
        while pending:
            yield _finish(columns, *pending.popleft())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _finish(
    columns: list[str], chunk: tuple[Any, ...], future: Future[Any], at: tuple[int, int | None]
) -> tuple[Parsed, tuple[int, int | None]]:
    items, dead = future.result()
    rows = _rows_of(columns, chunk)
    if chunk[0] == "jsonl":
        read = len(chunk[1])
    elif chunk[0] == "csv":
        read = len(chunk[1]) + len(chunk[3])
    else:  # a record batch's rows, or an unreadable row group's dead letter
        read = (chunk[2].num_rows if chunk[2] is not None else 0) + len(chunk[3])
    out = Parsed(read=read)
    out.dead.extend(dead)
    out.rows.extend(
        (rows[t[0]], (t[1], t[2], t[3]), t[4], _new(Prepared, t[5:]) if len(t) > 5 else None)
        for t in items
    )
    return out, at
