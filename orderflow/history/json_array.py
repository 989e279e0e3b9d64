"""A JSON array of rows (a Gamma ``/markets`` reply saved as is), streamed element by element.

The file may be one line of several GB, so it is read in chunks, never whole: a scan that
skips strings and counts brackets (one regular expression) finds where each element ends —
the first ``,`` or ``]`` outside strings at its own depth — and hands its text on, to be
parsed like a JSON line (``row_batches.json_row``; ≈ 50 MB/s of Gamma rows on this machine). A
malformed element is therefore just that element's text: it becomes a dead letter and the next
element is read. Several arrays one after the other (pages appended to one file) are read as
one; anything else after the last array is one more element, at most ``MAX_ELEMENT_CHARS`` of
it (a dead letter unless it is an object).

A file that ends inside an array (no closing ``]``) was cut short: its last element is a dead
letter when partial, but when the cut fell between two elements nothing else would show the
rest is gone, so ``Scan.unclosed`` says so (``sources.RowReader.check_whole`` stops the
import, naming the file, before any hand-over).

Memory: the element being read plus one chunk. An element whose brackets never close would
grow without bound, so one longer than ``MAX_ELEMENT_CHARS`` stops the import.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from orderflow.history.errors import HistoryError

CHUNK_CHARS = 1 << 18
MAX_ELEMENT_CHARS = 16 * 1024 * 1024  # as csv.field_size_limit: Gamma rows are a few kB

# A whole string, or a quote whose string does not end in the text at hand, or a bracket/comma.
_SCAN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|["{}\[\],]', re.DOTALL)
_SPACE = re.compile(r"\s*")


@dataclass(slots=True)
class Scan:
    """How a scan of arrays ended: ``unclosed`` when the file ended inside one (cut short),
    after ``rows`` elements."""

    unclosed: bool = False
    rows: int = 0


def first_char(text: IO[str]) -> tuple[str, int]:
    """The first non-whitespace character of ``text`` ('' at the end) and how many newlines
    came before it (so a JSON-lines reader still numbers its lines from the file's first)."""
    newlines = 0
    while True:
        char = text.read(1)
        if not char or not char.isspace():
            return char, newlines
        newlines += char == "\n"


def elements(
    text: IO[str],
    name: str,
    *,
    chunk_chars: int = CHUNK_CHARS,
    max_chars: int = MAX_ELEMENT_CHARS,
    scan: Scan | None = None,
) -> Iterator[tuple[int, str]]:
    """(element number from 1, its text stripped) of the array whose ``[`` was just read;
    ``scan`` (when given) learns whether the file ended inside an array."""
    scan = Scan() if scan is None else scan
    buf = ""
    eof = False
    start = pos = depth = number = 0
    first = True  # no element of this array read yet (``[]`` holds none)
    in_array = True

    def refill(keep: int) -> int:
        """Drop the text before ``keep`` and read a chunk; returns how much was dropped."""
        nonlocal buf, eof
        if len(buf) - keep > max_chars:
            raise HistoryError(
                f"{name}: element {number + 1} of the JSON array is longer than "
                f"{max_chars:,} characters: its brackets or quotes do not close"
            )
        chunk = text.read(chunk_chars)
        eof = not chunk
        buf = buf[keep:] + chunk
        return keep

    while True:
        if not in_array:  # between arrays: whitespace, another array, or the end
            pos = _SPACE.match(buf, pos).end()  # type: ignore[union-attr]
            if pos == len(buf):
                if eof:
                    return
                pos -= refill(pos)
                continue
            if buf[pos] != "[":
                rest = buf[pos:] + text.read(max(0, max_chars - (len(buf) - pos)))
                yield number + 1, rest[:max_chars].strip()
                return
            in_array, first = True, True
            pos += 1
            start = pos
            continue
        m = _SCAN.search(buf, pos)
        if m is None or m.group() == '"':  # the element goes on past the text at hand
            if eof:  # the array is not closed (a truncated file): the rest is one element
                rest = buf[start:].strip()
                scan.unclosed, scan.rows = True, number + bool(rest)
                if rest:
                    yield number + 1, rest
                return
            pos = len(buf) if m is None else m.start()
            dropped = refill(start)
            start, pos = 0, pos - dropped
            continue
        mark = m.group()
        pos = m.end()
        if mark[0] == '"':
            continue
        if mark in "{[":
            depth += 1
            continue
        if depth > 0:  # inside the element
            depth -= mark != ","
            continue
        if mark == "}":  # a stray bracket at the top: part of a broken element
            continue
        element = buf[start : m.start()].strip()
        start = pos
        if element or mark == "," or not first:
            number += 1
            yield number, element
        first = False
        in_array = mark == ","
