"""A CSV file's rows with the line each starts on, a stray quote costing one line, not the rest.

A quote at the start of a field makes ``csv.reader`` take everything up to the next quote as that
field, line ends included (a Gamma market's description holds line ends that way). A quote that
opens a field by mistake — a stray ``"``: a hand edit, a damaged copy — so took the rest of a fill
dump, which quotes nothing, as one field of one row: one dead letter, and every later row gone
without a word (past the reader's field limit, a ``csv.Error`` naming no file). Here a row that
spans several lines and is not a row of the header's width, or that the reader refuses, is its
first line alone, a dead letter, and the lines after it are read again as rows.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from typing import IO

from orderflow.chain.line_rules import KEPT_CHARS, LONG_LINE, MAX_LINE_CHARS, CutLine

_ENDS = ("\n", "\r")

STRAY_QUOTE = (
    "a quote opens a field that its line does not close ({how}): this line is not a row; the "
    "lines after it are read as rows of their own"
)


def bounded_lines(text: IO[str], max_chars: int = MAX_LINE_CHARS) -> Iterator[str]:
    """The lines of ``text`` (opened with ``newline=""``) with their ends, each held up to
    ``max_chars``: a longer one is a :class:`CutLine` of its first characters and its rest is
    read past unkept (until 7 Dec 2026 a line was read whole before ``csv.field_size_limit``
    saw it: a 64 M-character line peaked at 201 MB). Read ``_PIECE`` characters at a time."""
    while line := text.readline(_PIECE):
        if len(line) < _PIECE or line.endswith(_ENDS):
            yield line
            continue
        parts, held = [line], len(line)
        while held <= max_chars and not parts[-1].endswith(_ENDS):
            more = text.readline(_PIECE)
            if not more:
                break
            parts.append(more)
            held += len(more)
        if held <= max_chars:
            yield "".join(parts)
            continue
        head, line = "".join(parts[:2])[:KEPT_CHARS], parts[-1]
        del parts
        while line and not line.endswith(_ENDS):
            line = text.readline(_PIECE)
        yield CutLine(head)


_PIECE = 1 << 18


class _Lines:
    """A text's lines for ``csv.reader``, the lines of the row being read kept, so that a row
    that ran on over the lines after its first can give them back to be read again."""

    __slots__ = ("_back", "_text", "cut", "number", "taken")

    def __init__(self, text: Iterator[str]) -> None:
        self._text = text
        self._back: list[str] = []  # lines given back, the next one last
        self.taken: list[str] = []  # the lines of the row being read
        self.number = 1  # the last line handed out: the header is line 1
        self.cut: str | None = None  # a line of the row being read was cut (``bounded_lines``)

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self._back.pop() if self._back else next(self._text)
        self.taken.append(line)
        self.number += 1
        if type(line) is CutLine:
            self.cut = line
            return "\n"  # read as a blank line: the row is a dead letter (``csv_rows``)
        return line

    def start_row(self) -> int:
        """The line the next row starts on."""
        self.taken.clear()
        self.cut = None
        return self.number + 1

    def give_back(self, starts: int) -> str:
        """The row's first line, the row starting on line ``starts``; its other lines are read
        again."""
        first, rest = self.taken[0], self.taken[1:]
        self._back.extend(reversed(rest))
        self.number = starts
        self.taken.clear()
        return first.rstrip("\r\n")


def csv_rows(
    text: Iterator[str], delimiter: str, width: int, cut_short: Callable[[], bool]
) -> Iterator[tuple[int, list[str], str | None]]:
    """(line it starts on, fields, why it is no row or None) of each non-blank row after the
    header, one row behind the reader: the last is no row either when ``cut_short()`` says the
    file broke off inside it (a CSV row cut in its last field reads as whole, with a shortened
    value). A row of another width than the header's is no row (its reason says so). A row's
    line is the one it starts on, where an editor shows it (``csv.reader.line_num`` is the one
    it ends on: a quoted field may hold line ends)."""
    lines = _Lines(text)
    reader = csv.reader(lines, delimiter=delimiter)
    pending: tuple[int, list[str], str | None] | None = None
    while True:
        starts = lines.start_row()
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # a field past the reader's limit: a quote ran on
            how = str(exc)
            row: tuple[int, list[str], str | None] = (
                starts,
                [lines.give_back(starts)],
                STRAY_QUOTE.format(how=how),
            )
        else:
            if lines.cut is not None:
                row = (starts, [lines.cut], LONG_LINE)
            elif not fields:  # a blank line
                continue
            elif len(fields) == width:
                row = (starts, fields, None)
            elif len(lines.taken) > 1:
                how = f"{len(fields)} fields up to line {lines.number}"
                row = (starts, [lines.give_back(starts)], STRAY_QUOTE.format(how=how))
            else:
                row = (starts, fields, f"{len(fields)} fields where the header has {width}")
        if pending is not None:
            yield pending
        pending = row
    if pending is not None:
        if cut_short():
            pending = (pending[0], pending[1], "cut off where the compressed file breaks")
        yield pending
