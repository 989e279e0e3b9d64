"""A JSON file's rows as text: JSON lines, or JSON arrays of rows (``json_array``).

Opening reads the file's head for its columns, the keys of its first row; the items read for
that are kept and handed out first. Lines of JSON lines before the first row that are no object
(not JSON, a scalar: a damaged head, a line a script printed first) are kept too, each a dead
letter, at most ``HEAD_LINES`` lines and ``HEAD_CHARS`` characters; a first line opening an
object that does not close on it is one object over several lines: no columns (refused with
advice, ``layouts``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO

from orderflow.chain.line_rules import line_end, line_text, not_utf8
from orderflow.history.json_array import Scan, elements
from orderflow.history.json_lines import CHUNK_CHARS, first_char, lines

HEAD_LINES, HEAD_CHARS = 1_000, 1 << 24
"""Lines (and characters) of a JSON-lines file read for its first row, at most, before it is
taken for no rows at all."""

ARRAY_LINE_CHARS = CHUNK_CHARS
"""Characters of the first line read, at most, to tell a file of JSON arrays from JSON lines
whose first line is an array."""

Item = tuple[int, str]
"""A row's text and its number: the line of JSON lines, the element (from 1) of arrays."""


class JsonSource:
    """The items of a JSON file open as ``text``; ``columns`` after :meth:`open`."""

    def __init__(self, text: IO[str], name: str) -> None:
        self._text = text
        self._name = name
        self.columns: list[str] = []
        self.array = False
        """A file of JSON arrays of rows (not JSON lines): its rows are numbered, not lined."""
        self.empty = False
        """No item at all (nothing but whitespace)."""
        self.scan = Scan()  # an array's: whether the file ended inside it
        self._first: list[Item] = []  # the items read for the columns
        self._items: Iterator[Item] = iter(())

    def open(self) -> JsonSource:
        """Read the head for the columns (the keys of the first row; none when there is none
        or it is one object over several lines)."""
        char, ends = first_char(self._text)
        head = char + self._text.read(CHUNK_CHARS) if char else ""
        if char == "[":
            head, self.array = self._arrays(head)
        self._items = (
            elements(_Prefixed(head[1:], self._text), self._name, scan=self.scan)
            if self.array
            else lines(self._text, head, ends)
        )
        self.columns = self._head_columns()
        return self

    def _arrays(self, head: str) -> tuple[str, bool]:
        """Whether a file that opens with ``[`` is JSON arrays of rows (not JSON lines whose
        first line is an array: a whole one, then a line that is no array); ``head`` read
        further as far as that takes, at most ``ARRAY_LINE_CHARS`` (a longer first line is
        taken for arrays: a one-line reply of several GB is not held to tell)."""
        end = line_end(head)
        while (at := head.find(end)) < 0:
            more = self._text.read(CHUNK_CHARS) if len(head) < ARRAY_LINE_CHARS else ""
            if not more:
                return head, True  # one line, or longer than the head: arrays
            head += more
        try:
            whole = isinstance(json.loads(head[:at]), list)
        except ValueError:
            whole = False  # an array over several lines
        while whole and not line_text(head[at:]) and len(head) < 2 * ARRAY_LINE_CHARS:
            more = self._text.read(CHUNK_CHARS)
            if not more:
                break
            head += more
        return head, not whole or line_text(head[at:])[:1] in ("[", "")

    def _head_columns(self) -> list[str]:
        held = 0
        for number, text in self._items:
            self._first.append((number, text))
            held += len(text)
            damaged = not_utf8(text) is not None  # a dead letter like any other
            try:
                value = None if damaged else json.loads(text)
            except ValueError:
                value = None
            if isinstance(value, dict):
                return list(value)
            if (
                (text[:1] == "{" and not damaged and not self.array)
                or len(self._first) >= HEAD_LINES
                or held >= HEAD_CHARS
            ):
                return []  # an object over several lines (refused with advice), or no rows
        self.empty = not self._first
        return []

    def chunks(self, size: int) -> Iterator[list[Item]]:
        """The rows as text, ``size`` at a time: the non-blank lines of JSON lines, stripped,
        with their line numbers, or the elements of JSON arrays, numbered from 1."""
        items: list[Item] = []
        items.extend(self._first)
        for item in self._items:
            items.append(item)
            if len(items) >= size:
                yield items
                items = []
        if items:
            yield items


class _Prefixed:
    """``text`` with ``prefix`` (read from it already) before it, for ``read`` only: as a text
    file's, ``read(size)`` gives ``size`` characters unless the file ends first."""

    def __init__(self, prefix: str, text: IO[str]) -> None:
        self._prefix, self._text = prefix, text

    def read(self, size: int = -1) -> str:
        if not self._prefix:
            return self._text.read(size)
        if 0 <= size <= len(self._prefix):
            out, self._prefix = self._prefix[:size], self._prefix[size:]
            return out
        out, self._prefix = self._prefix, ""
        return out + self._text.read(size - len(out) if size >= 0 else -1)
