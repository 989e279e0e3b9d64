"""The rows a ``sources.RowReader`` yields, and batches of them.

A ``Row`` is one row of a file with its position (line or row number) for dead letters; rows
read by column (CSV fields, a Parquet record batch) build their values dict only when asked. A
``Batch`` holds rows read together with their values by column, what the import's column-wise
parsing reads; a ``BadLine`` is a line that is not a row at all. The parallel parser
(``parallel.py``) builds the same rows in its workers.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from orderflow.chain.json_keys import REASON as REPEATED_KEY
from orderflow.chain.json_keys import duplicate_key
from orderflow.history.utf8 import not_utf8, shown


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


MAX_LINE_CHARS = 1 << 24
"""Characters of a line of JSON lines held, at most (as a JSON array's element and a CSV field:
Gamma rows are a few kB)."""


KEPT_CHARS = 10_000
"""Characters of a line longer than ``MAX_LINE_CHARS`` kept for its dead letter."""
LONG_LINE = f"a line of more than {MAX_LINE_CHARS:,} characters: no row"


class CutLine(str):
    """The first characters of a line longer than ``MAX_LINE_CHARS``: no row (``LONG_LINE``)."""

    __slots__ = ()


@dataclass(slots=True)
class BadLine:
    """A line that is not a row at all (not JSON, not an object): a dead letter as it is."""

    number: int
    text: str
    reason: str

    def __post_init__(self) -> None:
        self.text = shown(self.text)  # bytes that are no UTF-8 as \xNN


def json_row(number: int, text: str) -> Row | BadLine:
    """One JSON line as a row, or the reason it is not one."""
    if type(text) is CutLine:
        return BadLine(number, text, LONG_LINE)
    if (why := not_utf8(text)) is not None:
        return BadLine(number, text, why)
    try:
        value = json.loads(text)
    except ValueError as exc:
        values = _values(text) if exc.args[0].startswith("Extra data") else 0
        if values > 1:
            return BadLine(number, text, SEVERAL_VALUES.format(values=values))
        return BadLine(number, text, f"not JSON ({exc})")
    if isinstance(value, dict):
        key = duplicate_key(text, value)
        if key is None:
            return Row(number, value)
        return BadLine(number, text, REPEATED_KEY.format(key=key))
    return BadLine(number, text, f"a JSON {type(value).__name__}, not a row")


SEVERAL_VALUES = (
    "{values} JSON values where one row belongs (a line end, or a comma, lost where they were "
    "joined?): none of them imported; write each on a line of its own (jq -c .) and import again"
)
_SPACE = re.compile(r"\s*")
_DECODER = json.JSONDecoder()


def _values(text: str) -> int:
    """How many JSON values ``text`` holds one after another (0 when it is not only those; at
    most 1,000 are counted)."""
    at, count = _SPACE.match(text).end(), 0  # type: ignore[union-attr]
    while at < len(text) and count < 1_000:
        try:
            _, at = _DECODER.raw_decode(text, at)
        except ValueError:
            return 0
        at, count = _SPACE.match(text, at).end(), count + 1  # type: ignore[union-attr]
    return count
