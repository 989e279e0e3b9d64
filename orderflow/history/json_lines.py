"""The lines of a JSON-lines file, read in chunks, by the rules of ``orderflow.chain.line_rules``
(``listen --from-file``'s raw-log reader follows the same ones).

A line ends at ``\\n`` (``\\r\\n`` too: its ``\\r`` is the line's trailing whitespace), as
jsonlines.org has it. A lone ``\\r`` inside a line is no line end: JSON's whitespace between
tokens, and inside a string a raw control character JSON does not allow (that line is one dead
letter, not two fragments). A file without a ``\\n`` in its first ``CHUNK_CHARS`` characters
but with a ``\\r`` has lone ``\\r`` line ends (an old Mac's): those end its lines.

A line is held up to ``MAX_LINE_CHARS``; a longer one is handed on as a :class:`CutLine` (its
first characters, a dead letter) and the rest of it is read past without being kept, so memory
stays bounded whatever the file holds (before 7 Dec 2026 a line was read whole: a file of one
line of several GB was held whole).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

from orderflow.chain.line_rules import (
    KEPT_CHARS,
    LINE_END_HEAD,
    MAX_LINE_CHARS,
    CutLine,
    line_end,
    line_text,
)

CHUNK_CHARS = LINE_END_HEAD  # the head read first decides the line end (``line_rules``)


def first_char(text: IO[str]) -> tuple[str, str]:
    """The first non-whitespace character of ``text`` ('' at the end) and the line ends (``\\r``
    and ``\\n``) of the whitespace before it, so that its lines are numbered from the file's
    first."""
    ends: list[str] = []
    while True:
        char = text.read(1)
        if not char or not char.isspace():
            return char, "".join(ends)
        if char in "\r\n":
            ends.append(char)


def lines(
    text: IO[str], head: str, ends_before: str, *, max_chars: int = MAX_LINE_CHARS
) -> Iterator[tuple[int, str]]:
    """(line number, the line stripped) of each non-blank line of ``head`` and the rest of
    ``text``; ``ends_before`` are the line ends before ``head`` (``first_char``'s)."""
    end = line_end(head)
    number = ends_before.count(end)
    pending: list[str] = []  # the start of the line being read
    held = 0
    skipping = False  # the line being read is longer than max_chars: its rest is not kept
    buf = head
    while buf:
        *whole, rest = buf.split(end)
        for part in whole:
            number += 1
            if skipping:
                skipping = False
                continue
            if pending:
                part, pending, held = "".join(pending) + part, [], 0
            if len(part) > max_chars:
                yield number, CutLine(part[:KEPT_CHARS])
                continue
            stripped = line_text(part)
            if stripped:
                yield number, stripped
        if rest and not skipping:
            pending.append(rest)
            held += len(rest)
            if held > max_chars:
                yield number + 1, CutLine(_head(pending))
                pending, held, skipping = [], 0, True
        buf = text.read(CHUNK_CHARS)
    if pending:
        stripped = line_text("".join(pending))
        if stripped:
            yield number + 1, stripped


def _head(parts: list[str]) -> str:
    """The first ``KEPT_CHARS`` characters of ``parts`` joined (without joining them all)."""
    out: list[str] = []
    left = KEPT_CHARS
    for part in parts:
        out.append(part[:left])
        left -= len(out[-1])
        if not left:
            break
    return "".join(out)
