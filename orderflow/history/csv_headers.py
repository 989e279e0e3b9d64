"""A CSV file's header repeated further down: files concatenated with their headers (``cat
a.csv b.csv``), pages of an export appended one after another.

Such a line is no row, and the rows after it are the second file's: read by *its* header, which
may name the same columns in another order, or spell them otherwise (``maker_amount_filled`` for
``makerAmountFilled``: the names match as the layouts match them, ``layouts.normalise``). Read by
the first header's positions, a second export that swaps two columns of one type — maker and
taker, the two amounts — stores every one of its rows wrong without a word. A header naming
other columns (another export concatenated) ends the file's rows: the rows before it are
imported, then the import stops naming its line (``check``, as a file cut short stops), no
checkpoint moved: no header of the file reads the rows after it.

The check costs one look at a row's first field (a hash, a number, a time is never a column
name); only a first field that is a column name has the whole line compared.
"""

from __future__ import annotations

from orderflow.history.errors import HistoryError
from orderflow.history.layouts import SPELLINGS, normalise

_COLUMN_NAMES = frozenset(spelling for spellings in SPELLINGS.values() for spelling in spellings)
_LONGEST_NAME = 64  # a column name is shorter; a hash (64 hex digits) is not one


class Headers:
    """The file's header, and how the last header read orders the rows after it."""

    __slots__ = ("_known", "_names", "_order", "_source", "other")

    def __init__(self, source: str, columns: list[str]) -> None:
        self._source = source
        self._names = [normalise(c) for c in columns]
        self._known = _COLUMN_NAMES | frozenset(self._names)
        self._order: list[int] | None = None  # the first header's columns in the current one
        self.other: tuple[int, str] | None = None  # (line, fields) of a header of other columns

    def is_header(self, number: int, fields: list[str]) -> bool:
        """True when line ``number`` is a header: of the file's columns (the rows after it are
        read by it), or of other columns (``other``: the file's rows end there, ``check``)."""
        first = fields[0] if fields else ""
        if len(first) >= _LONGEST_NAME or first.isdigit() or normalise(first) not in self._known:
            return False
        names = [normalise(f) for f in fields]
        if sorted(names) == sorted(self._names) and len(set(names)) == len(names):
            order = [names.index(name) for name in self._names]
            self._order = None if order == sorted(order) else order
            return True
        if 2 * sum(name in self._known for name in names) > len(names):
            self.other = (number, ", ".join(fields)[:300])
            return True
        return False

    def check(self) -> None:
        """HistoryError once the file's rows before a header of other columns are imported."""
        if self.other is not None:
            number, shown = self.other
            raise HistoryError(
                f"{self._source} line {number}: a header of other columns than the file's first "
                f"({shown}): files of two exports concatenated? The rows before it are imported, "
                "the rows after it are not read, no checkpoint was moved; import each export as "
                "a file of its own (nothing is stored twice)"
            )

    def arranged(self, fields: list[str]) -> list[str]:
        """A row's fields in the order of the file's first header."""
        order = self._order
        return fields if order is None else [fields[i] for i in order]
