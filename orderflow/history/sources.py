"""Files of rows, streamed in batches: CSV, JSON (lines, or arrays of rows) and Parquet, each
optionally gzip'd.

Memory is bounded by the batch size: CSV and JSON lines are read line by line, a JSON array
element by element (``json_array``), Parquet row group by row group
(``ParquetFile.iter_batches``). Every row carries its position for dead letters: the line
number in a CSV or JSON-lines file (the header is line 1 of a CSV), the row number (from 1) in
a JSON array or a Parquet file. ``position()`` says how far through the file the reader is, in
``position_unit``, for ETAs: bytes consumed of the (compressed) file for text, rows read of the
metadata's count for Parquet; ``progress()`` is the same as a fraction (0..1). The rows and
batches it yields are ``row_batches``'.
"""

from __future__ import annotations

import bisect
import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Literal, cast

from orderflow.chain.line_rules import BOM, not_utf8, shown
from orderflow.history.copy_text import copy_fields, copy_rows, read_header
from orderflow.history.csv_headers import Headers
from orderflow.history.csv_rows import bounded_lines, csv_rows
from orderflow.history.errors import HistoryError, LayoutError
from orderflow.history.file_format import detect_format
from orderflow.history.gzip_stream import BreakingGzip, damage
from orderflow.history.json_array import MAX_ELEMENT_CHARS
from orderflow.history.json_source import JsonSource
from orderflow.history.row_batches import (
    BadLine,
    Batch,
    ColumnarRow,
    FieldsRow,
    RecordRows,
    Row,
    json_row,
)
from orderflow.history.utf8 import fields_not_utf8

# why the rows read are not the whole file (RowReader._break)
_Break = Literal["gzip", "unended", "unclosed", "unread", "unreadable", "header"]

csv.field_size_limit(16 * 1024 * 1024)  # Gamma rows carry long descriptions


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
        self._json: JsonSource | None = None  # a JSON file's rows as text
        self.array = False
        """A JSON file of arrays of rows (not JSON lines): its rows are numbered, not lined."""
        self.empty = False
        """A text file without a line that holds anything: no header, no row (Parquet files
        always have their schema)."""
        self._gzip: BreakingGzip | None = None
        # A plain CSV/TSV file whose last byte ends no line: its last row was cut short (a row
        # cut in its last field reads as whole, with a shortened value)
        self._unended = False
        self._headers: Headers | None = None  # a CSV file's headers, its first and repeated
        self._unreadable: list[str] = []  # a Parquet file's row groups that could not be read
        self.copy_text = False
        """A ``.tsv`` in PostgreSQL's COPY text format (``copy_text.is_copy_text``): read by its
        rules (escapes, ``\\N``, no quoting), not as CSV."""
        self._csv_lines: Iterator[str] = iter(())  # a CSV/TSV file's lines after its header
        self._not_utf8 = False  # a CSV/TSV line held a byte that is no UTF-8 (``utf8``)

    # --- opening ------------------------------------------------------------------------------

    def open(self) -> RowReader:
        if self.format == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            try:
                self._parquet = pq.ParquetFile(self.path)
            except (pa.ArrowException, OSError) as exc:  # its footer (schema, row count) is last
                raise HistoryError(
                    f"{self.path.name}: not a readable Parquet file, or one cut short ({exc}); "
                    "nothing of it imported"
                ) from None
            self.columns = list(self._parquet.schema_arrow.names)
            self._total_rows = int(self._parquet.metadata.num_rows)
            return self
        self._raw = self.path.open("rb")
        stream: IO[bytes] = self._raw
        if self.format == "csv" and not self.gzipped and self.size > 0:
            self._raw.seek(-1, io.SEEK_END)
            self._unended = self._raw.read(1) not in (b"\n", b"\r")
            self._raw.seek(0)
        if self.gzipped:
            self._refuse_damaged()
            self._gzip = BreakingGzip(self._raw)
            stream = cast(IO[bytes], io.BufferedReader(self._gzip))
        self._text = io.TextIOWrapper(
            stream, encoding="utf-8-sig", errors="surrogateescape", newline=""
        )
        if self.format == "csv":
            delimiter = "\t" if self.path.name.lower().removesuffix(".gz").endswith(".tsv") else ","
            text = bounded_lines(self._text)  # a line past MAX_LINE_CHARS not held
            header = next(text, "")
            if not header.strip():  # stops at the first line with text: refused below
                self.empty = not any(line.strip() for line in text)
            self._delimiter = delimiter
            self._csv_lines = text
            if delimiter == "\t":
                try:
                    self.copy_text, self._csv_lines = read_header(self.path.name, header, text)
                except LayoutError:
                    self.close()
                    raise
            self._csv_lines = self._without_boms(self._csv_lines)
            if self.copy_text:
                columns = copy_fields(header) if header.strip() else []
            else:
                columns = next(csv.reader([header], delimiter=delimiter), [])
            self.columns = [shown(c) for c in columns]  # a name no layout knows, printable
        else:
            self._json = JsonSource(self._text, self.path.name).open()
            self.columns, self.array = self._json.columns, self._json.array
            self.empty = self._json.empty
        return self

    def _refuse_damaged(self) -> None:
        """HistoryError, before any row is read, if the compressed stream is damaged
        (``gzip_stream.damage``): its rows after the damage read as rows with wrong values."""
        assert self._raw is not None
        why = damage(self._raw)
        if why is not None:
            self.close()
            raise HistoryError(
                f"{self.path.name}: the compressed data is damaged ({why}): deflate decodes "
                "damaged data into other bytes, so no row of it can be trusted; nothing of it "
                "imported. Get a good copy (`gzip -t` checks one)"
            )

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

    def _without_boms(self, lines: Iterator[str]) -> Iterator[str]:
        """A CSV file's lines, a byte-order mark starting one removed (parts appended with
        ``cat``: the file's own was read with the encoding ``utf-8-sig``); ``_not_utf8`` set
        once a line holds a byte that is no UTF-8 (its rows are checked from then on)."""
        for line in lines:
            if not self._not_utf8 and not_utf8(line) is not None:
                self._not_utf8 = True
            yield line[1:] if line[:1] == BOM else line

    @property
    def arrow_schema(self) -> Any:
        """A Parquet file's schema (``pyarrow.Schema``), read from its footer; None for text."""
        return None if self._parquet is None else self._parquet.schema_arrow

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
    def cut_short(self) -> bool:
        """The file broke off inside the last line read: that row is not whole (a compressed
        stream that broke off there, or a plain CSV/TSV file whose last byte ends no line)."""
        if self._unended:
            return True
        return self._gzip is not None and self._gzip.broken is not None and not self._gzip.ends_line

    def _break(self) -> _Break | None:
        """Why the rows read are not the whole file, checked in this order (None: whole):
        ``gzip`` (its compressed stream broke off), ``unended`` (a last line without its end),
        ``unclosed`` (a JSON array not closed), ``unread`` (text after its arrays not read),
        ``unreadable`` (a Parquet file's row groups), ``header`` (a header of other columns)."""
        if self._gzip is not None and self._gzip.broken is not None:
            return "gzip"
        if self._unended:
            return "unended"
        if self._json is not None and self._json.scan.unclosed:
            return "unclosed"
        if self._json is not None and self._json.scan.unread:
            return "unread"
        if self._unreadable:
            return "unreadable"
        if self._headers is not None and self._headers.other is not None:
            return "header"
        return None

    @property
    def ended_early(self) -> bool:
        """The rows read end before the file's own end: what :meth:`check_whole` refuses, but
        for a Parquet file's unreadable row groups (their rows are missing in the middle)."""
        return self._break() not in (None, "unreadable")

    def check_whole(self) -> None:
        """HistoryError if the file was cut short: its compressed stream broke off
        (``gzip_stream``), a plain CSV/TSV file ended without a line end (until 6 Dec 2026 its
        last row, cut in its last field, was stored with the shortened value: a fill at a tenth
        of its price and size) or it ended inside a JSON array (``json_array.Scan``). Called
        once its rows are imported (the one the cut split is a dead letter), before any
        hand-over."""
        why = self._break()
        if why is None:
            return
        if why == "header":
            assert self._headers is not None
            self._headers.check()
            return
        if why == "gzip":
            assert self._gzip is not None
            done, size = self.position()
            how = (
                f"the compressed file breaks off after {done:,} of {size or 0:,} bytes "
                f"({self._gzip.broken})"
            )
        elif why == "unended":
            how = "the file ends inside its last row, without a line end"
        elif why == "unclosed":
            assert self._json is not None
            rows = self._json.scan.rows
            how = f"the JSON array does not close: the file ends inside it, after row {rows:,}"
        elif why == "unread":
            assert self._json is not None
            raise HistoryError(
                f"{self.path.name}: after its JSON arrays the file goes on with text that is no "
                f"array, longer than {MAX_ELEMENT_CHARS:,} characters (row "
                f"{self._json.scan.rows:,}, a dead letter of its start): the rest was not read "
                'and no checkpoint was moved; make it JSON lines (jq -c \'if type == "array" '
                "then .[] else . end') and import that (nothing is stored twice)"
            )
        else:  # unreadable
            raise HistoryError(
                f"{self.path.name}: unreadable Parquet data ({'; '.join(self._unreadable)}): "
                "the other rows are imported and the unreadable ones are a dead letter each "
                "group, no checkpoint was moved; import a good copy of the file (nothing is "
                "stored twice)"
            )
        raise HistoryError(
            f"{self.path.name}: {how}: the rows before the cut are imported and a row it split "
            "is a dead letter, no checkpoint was moved; import the whole file again (nothing "
            "is stored twice)"
        )

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
        for batch in self.column_batches(size):
            yield batch.rows, batch.bad

    def column_batches(self, size: int) -> Iterator[Batch]:
        """Like ``batches``, with the batch's values by column (see :class:`Batch`)."""
        if self.format == "jsonl":
            for rows, bad in self._json_batches(size):
                batch = Batch(self.columns)
                batch.rows, batch.bad = rows, bad
                yield batch
        elif self.format == "csv":
            yield from self._csv_column_batches(size)
        else:
            for record_batch in self._record_batches(size):
                if isinstance(record_batch, BadLine):  # an unreadable row group's rows
                    batch = Batch(self.columns)
                    batch.bad.append(record_batch)
                    yield batch
                    continue
                batch = Batch(self.columns, record_batch)
                start = self._rows_read
                self._rows_read += record_batch.num_rows
                shared = RecordRows(record_batch)
                batch.rows = [
                    ColumnarRow(start + i + 1, shared, i) for i in range(record_batch.num_rows)
                ]
                yield batch

    def _record_batches(self, size: int) -> Iterator[Any]:
        """A Parquet file's record batches; a row group that cannot be read (a corrupt page
        while the footer is whole: pyarrow raises mid-file) becomes one :class:`BadLine` for
        its rows not read, the groups after it are read, and ``check_whole`` stops the import
        at its end without a checkpoint moved. The file is read whole (batches spanning row
        groups); after a failure, from the first row not read, the group holding it alone (the
        reader reads ahead: the failure may be a later group's), then whole again."""
        import pyarrow as pa

        meta = self._parquet.metadata
        groups = meta.num_row_groups
        starts = [0]  # the row count before each row group, and the file's
        for g in range(groups):
            starts.append(starts[-1] + meta.row_group(g).num_rows)
        group = 0
        while group < groups:
            try:
                yield from self._parquet.iter_batches(
                    batch_size=size, row_groups=range(group, groups)
                )
                return
            except (pa.ArrowException, OSError):
                group = bisect.bisect_right(starts, self._rows_read) - 1
            skip = self._rows_read - starts[group]  # its rows already read
            try:
                for record_batch in self._parquet.iter_batches(batch_size=size, row_groups=[group]):
                    if skip < record_batch.num_rows:
                        yield record_batch.slice(skip) if skip else record_batch
                    skip = max(0, skip - record_batch.num_rows)
            except (pa.ArrowException, OSError) as exc:
                first, end = self._rows_read + 1, starts[group + 1]
                where = f"row group {group + 1} of {groups}, rows {first:,}-{end:,}"
                self._unreadable.append(where)
                self._rows_read = end
                reason = f"unreadable Parquet data ({where}): {type(exc).__name__}: {exc}"
                yield BadLine(first, where, " ".join(reason.split()))
            group += 1

    def _csv_batches(self, size: int) -> Iterator[tuple[list[Row], list[BadLine]]]:
        for batch in self._csv_column_batches(size):
            yield batch.rows, batch.bad

    def _csv_column_batches(self, size: int) -> Iterator[Batch]:
        assert self._text is not None
        columns = self.columns
        fields_of: list[list[str]] = []
        batch = Batch(columns, fields_of)
        width, cut_short = len(columns), lambda: self.cut_short
        rows = (
            copy_rows(self._csv_lines, width, cut_short)
            if self.copy_text
            else csv_rows(self._csv_lines, self._delimiter, width, cut_short)
        )
        headers = self._headers = Headers(self.path.name, columns)
        for number, fields, bad in rows:
            if bad is None and (self._not_utf8 or self.copy_text):  # COPY's \xNN escapes too
                bad = fields_not_utf8(fields)
            if bad is not None:
                batch.bad.append(BadLine(number, self._delimiter.join(fields), bad))
            elif headers.is_header(number, fields):
                if headers.other is not None:
                    break  # another export's rows: check_whole stops the import
                continue
            else:
                fields = headers.arranged(fields)
                batch.rows.append(FieldsRow(number, columns, fields))
                fields_of.append(fields)
            if len(batch.rows) + len(batch.bad) >= size:
                yield batch
                fields_of = []
                batch = Batch(columns, fields_of)
        if batch.rows or batch.bad:
            yield batch

    def _json_batches(self, size: int) -> Iterator[tuple[list[Row], list[BadLine]]]:
        rows: list[Row] = []
        bad: list[BadLine] = []
        for lines in self.line_chunks(size):
            for number, text in lines:
                row = json_row(number, text)
                (rows if isinstance(row, Row) else bad).append(row)  # type: ignore[arg-type]
            yield rows, bad
            rows, bad = [], []

    def line_chunks(self, size: int) -> Iterator[list[tuple[int, str]]]:
        """A JSON file's rows as text, ``size`` at a time (``JsonSource.chunks``)."""
        assert self._json is not None
        yield from self._json.chunks(size)
