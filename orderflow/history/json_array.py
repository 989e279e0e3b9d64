"""A JSON array of rows (a Gamma ``/markets`` reply saved as is), streamed element by element.

The file may be one line of several GB, so it is read in chunks, never whole: a scan that
skips strings and matches brackets (one regular expression) finds where each element ends —
the first ``,`` or ``]`` outside strings at its own depth — and hands its text on, to be
parsed like a JSON line (``row_batches.json_row``; ≈ 50 MB/s of Gamma rows on this machine). A
malformed element is therefore just that element's text: it becomes a dead letter and the next
element is read. The scan keeps the element's open brackets by kind, so one whose brackets do
not match resynchronises (``_resync``) instead of taking the elements after it along: a closer
of the wrong kind (``[2}``) closes up to the bracket it matches, and an object's ``,`` followed
by a bracket where a key belongs is the array's (the element never closed). Valid JSON takes
neither way out, so a valid element, however long, is never cut. (Before, brackets were only
counted: after ``[2}`` every later element sat inside the broken one, up to the size limit.)
A quote that cannot open a string of valid JSON — its string reaches a raw line end (JSON
escapes line ends inside strings), the end of the file, or closes followed by anything but
``:`` ``,`` ``]`` ``}`` — is stray (``_after_quote``): the scan goes on just after it, so an
unclosed quote (``{"a": "x}, {"b": 1}``) costs its element and not, quotes pairing the wrong
way from there on, every element after it. Several arrays one after the other (pages
appended to one file) are read as one; anything else after the last array is one more
element, at most ``MAX_ELEMENT_CHARS`` of it (a dead letter unless it is an object); when there
is more, ``Scan.unread`` says so and the import stops (until 7 Dec 2026 the rest of the file
was left unread without a word).

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
from typing import Protocol

from orderflow.history.errors import HistoryError

CHUNK_CHARS = 1 << 18
MAX_ELEMENT_CHARS = 16 * 1024 * 1024  # as csv.field_size_limit: Gamma rows are a few kB

# A whole string followed by what may follow a string in JSON (``:``, ``,``, ``]``, ``}``), or
# a quote the scan cannot take as such a string in the text at hand (``_after_quote`` decides),
# or a bracket/comma. A string never holds a raw line end (JSON escapes it as ``\n``).
_SCAN = re.compile(r'"[^"\\\n\r]*(?:\\[^\n\r][^"\\\n\r]*)*"(?=\s*[:,\]}])|["{}\[\],]')
_OPEN_STRING = re.compile(r'"[^"\\\n\r]*(?:\\[^\n\r][^"\\\n\r]*)*')
_AFTER_STRING = frozenset(":,]}")
_SPACE = re.compile(r"\s*")


@dataclass(slots=True)
class Scan:
    """How a scan of arrays ended: ``unclosed`` when the file ended inside one (cut short),
    after ``rows`` elements."""

    unclosed: bool = False
    rows: int = 0
    unread: bool = False
    """Text after the last array that is no array ran past ``MAX_ELEMENT_CHARS``: the rest of
    the file was not read (element ``rows`` is the dead letter of its start)."""


class Readable(Protocol):
    """What the scan reads from: a text file, or one with text read from it put back."""

    def read(self, size: int = -1, /) -> str: ...


def elements(
    text: Readable,
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
    start = pos = number = 0
    open_ = bytearray()  # the element's unclosed brackets, innermost last
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

    def following(at: int) -> str | None:
        """The first non-whitespace character from ``at`` ('' at the end of the file), None
        when the text at hand ends first."""
        at = _SPACE.match(buf, at).end()  # type: ignore[union-attr]
        return buf[at] if at < len(buf) else ("" if eof else None)

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
                scan.rows, scan.unread = number + 1, len(rest) > max_chars or bool(text.read(1))
                yield number + 1, rest[:max_chars].strip()
                return
            in_array, first = True, True
            pos += 1
            start = pos
            continue
        m = _SCAN.search(buf, pos)
        mark, end = ("", len(buf)) if m is None else (m.group(), m.end())
        ends: bool | None = None  # None: the element or a look-ahead goes on past the text
        if not mark:
            pass
        elif mark[0] == '"':
            if len(mark) > 1:  # a whole string
                ends = False
            else:  # a string cut by the chunk, at the end of the file, or a stray quote
                after = _after_quote(buf, end - 1, eof)
                if after is not None:
                    end, ends = after, False
        elif mark in "{[":
            open_.append(ord(mark))
            ends = False
        elif not open_:  # at the element's top level (a stray "}" is part of a broken one)
            ends = mark != "}"
        elif _CLOSES.get(mark) == open_[-1]:
            open_.pop()
            ends = False
        elif mark == "," and (open_[-1] == _SQUARE or buf[end : end + 1] == '"'):
            ends = False  # in an array, or a key follows
        else:  # the rare cases: a malformed element, or an object's comma before a space
            ends = _resync(mark, open_, following(end))
        if ends is None:
            if eof:  # the array is not closed (a truncated file): the rest is one element
                rest = buf[start:].strip()
                scan.unclosed, scan.rows = True, number + bool(rest)
                if rest:
                    yield number + 1, rest
                return
            pos = end - len(mark)
            dropped = refill(start)
            start, pos = 0, pos - dropped
            continue
        pos = end
        if not ends:
            continue
        element = buf[start : end - len(mark)].strip()
        start = pos
        if element or mark == "," or not first:
            number += 1
            yield number, element
        first = False
        in_array = mark == ","


def _after_quote(buf: str, at: int, eof: bool) -> int | None:
    """Where the scan goes on after the quote at ``at`` that ``_SCAN`` did not take as a whole
    string; None when that needs more text than ``buf`` holds.

    The string it opens may close after all, followed by the end of the text at hand (more
    text decides) or of the file: the scan goes on after the string. Otherwise the quote is
    stray — its string reaches a raw line end, the end of the file, or closes followed by
    something no string is followed by in JSON (``"x}, {"b"`` after ``{"a": "x}, {"b": 1}``) —
    and the scan goes on just after it, as if it were any other character: the element is
    malformed (a dead letter) and its brackets, not the quotes of the elements after it, say
    where it ends. Valid JSON has no such quote, so a valid element is never cut."""
    m = _OPEN_STRING.match(buf, at)
    end = m.end()  # type: ignore[union-attr]
    if end < len(buf) and buf[end] == '"':  # the string closes: what follows it?
        follows = _SPACE.match(buf, end + 1).end()  # type: ignore[union-attr]
        if follows == len(buf):
            return end + 1 if eof else None
        return end + 1 if buf[follows] in _AFTER_STRING else at + 1
    if end >= len(buf) - (buf[end : end + 1] == "\\") and not eof:
        return None  # the string goes on past the text at hand
    return at + 1  # a raw line end or the end of the file inside the string: stray


_SQUARE = ord("[")
_CLOSES = {"}": ord("{"), "]": _SQUARE}


def _resync(mark: str, open_: bytearray, after: str | None) -> bool | None:
    """Whether ``mark`` (``,``, ``}`` or ``]``) ends the element, updating its unclosed
    brackets ``open_``; None when that needs the character ``after`` it and the text at hand
    ends first (nothing is changed then).

    Valid JSON never takes either way out, so a valid element is never cut, however long:

    * a closer of the wrong kind closes up to the bracket it matches (those inside it never
      closed: ``[2}`` in ``{"b": [2}``); one matching no open bracket ends the element's
      brackets, and is the array's end unless a ``,`` follows (``{"a": 1]``, then ``, {…}``);
    * an object's ``,`` followed by a bracket where a key belongs is the array's ``,``: the
      element never closed its object (``{"a": 1, {…}``).
    """
    if mark == ",":
        if not open_:
            return True
        if open_[-1] == _SQUARE:
            return False
        if after is None:
            return None
        if after in ("{", "["):
            open_.clear()
            return True
        return False
    opener = _CLOSES[mark]
    if open_ and open_[-1] == opener:
        open_.pop()
        return False
    at = open_.rfind(opener)
    if at >= 0:
        del open_[at:]
        return False
    if mark == "}":  # a stray bracket: part of a broken element
        open_.clear()
        return False
    if not open_:
        return True  # the array's end
    if after is None:
        return None
    open_.clear()
    return after != ","
