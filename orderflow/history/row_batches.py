"""The rows a ``sources.RowReader`` yields, and batches of them.

A ``Row`` is one row of a file with its position (line or row number) for dead letters; rows
read by column (CSV fields, a Parquet record batch) build their values dict only when asked. A
``Batch`` holds rows read together with their values by column, what the import's column-wise
parsing reads; a ``BadLine`` is a line that is not a row at all. The parallel parser
(``parallel.py``) builds the same rows in its workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orderflow.chain.line_rules import (
    judged,
    shown,
)


class Row:
    """One row of a file: its position (line or row number) and its values by column name.

    Rows the import reads by column (Parquet, CSV) build their ``values`` dict only when asked
    (a dead letter, a row the fast path does not take)."""

    __slots__ = ("_values", "number")

    def __init__(self, number: int, values: dict[str, Any] | None = None) -> None:
        self.number = number
        self._values = values

    @property
    def values(self) -> dict[str, Any]:
        if self._values is None:
            self._values = self._build()
        return self._values

    def _build(self) -> dict[str, Any]:
        return {}


class FieldsRow(Row):
    """A CSV line's fields, by position in the header."""

    __slots__ = ("_columns", "_fields")

    def __init__(self, number: int, columns: list[str], fields: list[str]) -> None:
        super().__init__(number)
        self._columns, self._fields = columns, fields

    def _build(self) -> dict[str, Any]:
        return dict(zip(self._columns, self._fields, strict=True))


class RecordRows:
    """A Parquet record batch's rows as dicts, decoded all at once on the first request (no
    reference to the rows that use it: no cycle, so a batch is freed as soon as it is done
    with, whatever the cyclic collector does)."""

    __slots__ = ("_dicts", "record_batch")

    def __init__(self, record_batch: Any) -> None:
        self.record_batch = record_batch
        self._dicts: list[dict[str, Any]] | None = None

    def row(self, index: int) -> dict[str, Any]:
        if self._dicts is None:
            self._dicts = self.record_batch.to_pylist()
        return self._dicts[index]


class ColumnarRow(Row):
    """Row ``index`` of a Parquet record batch."""

    __slots__ = ("_index", "_rows")

    def __init__(self, number: int, rows: RecordRows, index: int) -> None:
        super().__init__(number)
        self._rows, self._index = rows, index

    def _build(self) -> dict[str, Any]:
        return self._rows.row(self._index)


class Batch:
    """Rows read together, with their values by column (``column(name)``, aligned with
    ``rows``): what the import's column-wise parsing reads."""

    __slots__ = ("_cache", "_source", "bad", "names", "rows")

    def __init__(self, names: list[str], source: Any = None) -> None:
        self.names = names
        self.rows: list[Row] = []
        self.bad: list[BadLine] = []
        self._source = source  # a pyarrow RecordBatch, a list of CSV field lists, or None
        self._cache: dict[str, list[Any]] = {}

    def column(self, name: str) -> list[Any]:
        try:
            return self._cache[name]
        except KeyError:
            pass
        src = self._source
        if src is None:  # JSON objects
            return self._cache.setdefault(name, [r.values.get(name) for r in self.rows])
        at = len(self.names) - 1 - self.names[::-1].index(name)  # a repeated name: the last,
        if isinstance(src, list):  # CSV field lists, one per row      # as in the row's dict
            values = [fields[at] for fields in src]
        else:
            values = src.column(at).to_pylist()
        self._cache[name] = values
        return values


@dataclass(slots=True)
class BadLine:
    """A line that is not a row at all (not JSON, not an object): a dead letter as it is."""

    number: int
    text: str
    reason: str

    def __post_init__(self) -> None:
        self.text = shown(self.text)  # bytes that are no UTF-8 as \xNN


def json_row(number: int, text: str) -> Row | BadLine:
    """One JSON line as a row, or the reason it is not one (``line_rules.judged``)."""
    value, why = judged(text)
    if why is not None:
        return BadLine(number, text, why)
    return Row(number, value)
