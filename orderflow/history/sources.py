"""Files of rows, streamed in batches: CSV, JSON lines and Parquet, each optionally gzip'd.

Memory is bounded by the batch size: CSV and JSON lines are read line by line, Parquet row
group by row group (``ParquetFile.iter_batches``). Every row carries its position for dead
letters: the line number in a text file (the header is line 1 of a CSV), the row number (from 1)
in a Parquet file. ``position()`` says how far through the file the reader is, in
``position_unit``, for ETAs: bytes consumed of the (compressed) file for text, rows read of the
metadata's count for Parquet; ``progress()`` is the same as a fraction (0..1).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, cast

from orderflow.history.errors import HistoryError, LayoutError

FileFormat = Literal["csv", "jsonl", "parquet"]
_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"

csv.field_size_limit(16 * 1024 * 1024)  # Gamma rows carry long descriptions


@dataclass(slots=True)
class Row:
    """One row of a file: its position (line or row number) and its values by column name."""

    number: int
    values: dict[str, Any]


@dataclass(slots=True)
class BadLine:
    """A line that is not a row at all (not JSON, not an object): a dead letter as it is."""

    number: int
    text: str
    reason: str


def detect_format(path: Path) -> tuple[FileFormat, bool]:
    """(format, gzipped) from the name (``.csv``, ``.jsonl``/``.ndjson``/``.json``, ``.parquet``,
    each optionally ``.gz``), checked against the file's first bytes."""
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise HistoryError(f"cannot read {path}: {exc.strerror or exc}") from None
    gz = head[:2] == _GZIP_MAGIC
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    if head == _PARQUET_MAGIC or name.endswith((".parquet", ".pq")):
        if gz:
            raise LayoutError(f"{path.name}: gzip'd Parquet is not supported (Parquet compresses)")
        return "parquet", False
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl", gz
    if name.endswith((".csv", ".tsv")):
        return "csv", gz
    raise LayoutError(
        f"{path.name}: cannot tell the format from the name "
        "(use .csv, .jsonl, .ndjson or .parquet, optionally .gz)"
    )


class RowReader:
    """Iterate a file's rows in batches; ``columns`` is known once the reader is opened."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.format, self.gzipped = detect_format(path)
        self.size = path.stat().st_size
        self.columns: list[str] = []
        self._raw: IO[bytes] | None = None
        self._text: IO[str] | None = None
        self._parquet: Any = None
        self._rows_read = 0
        self._total_rows: int | None = None
        self._first: dict[str, Any] | None = None

    # --- opening ------------------------------------------------------------------------------

    def open(self) -> RowReader:
        if self.format == "parquet":
            import pyarrow.parquet as pq

            self._parquet = pq.ParquetFile(self.path)
            self.columns = list(self._parquet.schema_arrow.names)
            self._total_rows = int(self._parquet.metadata.num_rows)
            return self
        self._raw = self.path.open("rb")
        stream = cast(IO[bytes], gzip.GzipFile(fileobj=self._raw) if self.gzipped else self._raw)
        self._text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
        if self.format == "csv":
            delimiter = "\t" if self.path.name.lower().removesuffix(".gz").endswith(".tsv") else ","
            header = self._text.readline()
            self.columns = next(csv.reader([header], delimiter=delimiter), [])
            self._delimiter = delimiter
        else:
            self.columns = self._peek_json_columns()
        return self

    def _peek_json_columns(self) -> list[str]:
        """Columns of a JSON-lines file: the keys of its first object (kept for iteration)."""
        assert self._text is not None
        self._line_no = 0
        while True:
            line = self._text.readline()
            if not line:
                return []
            self._line_no += 1
            text = line.strip()
            if not text:
                continue
            try:
                value = json.loads(text)
            except ValueError:
                value = None
            if isinstance(value, dict):
                self._first = value
                return list(value)
            self._first_bad = BadLine(self._line_no, text, "not a JSON object")
            return []

    def close(self) -> None:
        if self._text is not None:
            self._text.close()
        if self._raw is not None:
            self._raw.close()
        self._parquet = None

    def __enter__(self) -> RowReader:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- progress -----------------------------------------------------------------------------

    @property
    def position_unit(self) -> str:
        """The unit of ``position()``: rows for Parquet, bytes of the file for text."""
        return "rows" if self.format == "parquet" else "bytes"

    def position(self) -> tuple[int, int | None]:
        """(done, total) in ``position_unit``; total None when it cannot be told."""
        if self._total_rows is not None:
            return self._rows_read, self._total_rows
        if self._raw is not None and self.size:
            try:
                return min(self._raw.tell(), self.size), self.size
            except (OSError, ValueError):
                return 0, None
        return 0, None

    def progress(self) -> float | None:
        """Fraction of the file consumed so far (None when it cannot be told)."""
        done, total = self.position()
        if total is None:
            return None
        return done / total if total else 1.0

    @property
    def total_rows(self) -> int | None:
        return self._total_rows

    # --- batches ------------------------------------------------------------------------------

    def batches(self, size: int) -> Iterator[tuple[list[Row], list[BadLine]]]:
        if self.format == "parquet":
            yield from self._parquet_batches(size)
        elif self.format == "csv":
            yield from self._csv_batches(size)
        else:
            yield from self._json_batches(size)

    def _parquet_batches(self, size: int) -> Iterator[tuple[list[Row], list[BadLine]]]:
        for record_batch in self._parquet.iter_batches(batch_size=size):
            values = record_batch.to_pylist()
            start = self._rows_read
            self._rows_read += len(values)
            yield [Row(start + i + 1, v) for i, v in enumerate(values)], []

    def _csv_batches(self, size: int) -> Iterator[tuple[list[Row], list[BadLine]]]:
        assert self._text is not None
        reader = csv.reader(self._text, delimiter=self._delimiter)
        columns = self.columns
        width = len(columns)
        rows: list[Row] = []
        bad: list[BadLine] = []
        for fields in reader:
            number = reader.line_num + 1  # the header was line 1
            if not fields:
                continue
            if len(fields) != width:
                text = self._delimiter.join(fields)
                bad.append(
                    BadLine(number, text, f"{len(fields)} fields where the header has {width}")
                )
            else:
                rows.append(Row(number, dict(zip(columns, fields, strict=True))))
            if len(rows) + len(bad) >= size:
                yield rows, bad
                rows, bad = [], []
        if rows or bad:
            yield rows, bad

    def _json_batches(self, size: int) -> Iterator[tuple[list[Row], list[BadLine]]]:
        assert self._text is not None
        rows: list[Row] = []
        bad: list[BadLine] = []
        if self._first is not None:
            rows.append(Row(self._line_no, self._first))
        elif getattr(self, "_first_bad", None) is not None:
            bad.append(self._first_bad)
        number = getattr(self, "_line_no", 0)
        for line in self._text:
            number += 1
            text = line.strip()
            if not text:
                continue
            try:
                value = json.loads(text)
            except ValueError as exc:
                bad.append(BadLine(number, text, f"not JSON ({exc})"))
            else:
                if isinstance(value, dict):
                    rows.append(Row(number, value))
                else:
                    bad.append(BadLine(number, text, f"a JSON {type(value).__name__}, not a row"))
            if len(rows) + len(bad) >= size:
                yield rows, bad
                rows, bad = [], []
        if rows or bad:
            yield rows, bad
