"""PostgreSQL's COPY text format (``COPY … TO`` without CSV, ``psql \\copy``, pg_dump's data),
read by its own rules, in one place.

The format (PostgreSQL's docs, COPY, "Text Format") is one row a line, fields separated by a
tab, **never quoted**; ``\\N`` alone is NULL; a backslash escapes: ``\\b \\f \\n \\r \\t \\v`` (the
control characters), ``\\\\`` (a backslash), ``\\NNN`` (one to three octal digits) and ``\\xNN``
(``x`` and one or two hex digits) a byte of the text's encoding (UTF-8), any other character
after a backslash is that character (so ``\\<tab>`` is a tab of the value, not a separator); a
line ``\\.`` alone is the end-of-data marker pg_dump writes. Read as CSV (quoting on, no escapes)
a NULL was the text ``\\N`` and a field opening with ``"`` ran on over the fields and lines after
it (tests/history/test_copy_text_values.py).

Which ``.tsv`` is COPY text (``is_copy_text``): its header line and first ``SAMPLE_LINES`` lines
holding a field that is ``\\N`` alone (COPY's NULL) or a ``\\\\`` (an escaped backslash: every
``bytea`` value, ``\\\\x…``), unless those lines are rows of the header's width as CSV and not
as COPY text. A tab-separated export of other tools writes neither sign (NULL is an empty
field, a backslash is itself) but for a value that is that text, and is read as before, as CSV
with a tab.
"""

from __future__ import annotations

import csv
import itertools
import re
from collections.abc import Callable, Iterable, Iterator

from orderflow.chain.line_rules import LONG_LINE, CutLine
from orderflow.history.errors import LayoutError

SAMPLE_LINES = 1000
"""Lines after the header ``is_copy_text`` reads."""

_NULL = "\\N"
_END_OF_DATA = "\\."
_SIMPLE = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_ESCAPE = re.compile(r"\\(?:([0-7]{1,3})|x([0-9a-fA-F]{1,2})|(.))", re.DOTALL)
# a field with its backslash escapes (a tab after a backslash is the value's), then its end
_FIELD = re.compile(r"((?:[^\t\\]|\\.)*\\?)(\t|$)", re.DOTALL)


def _byte_char(code: int) -> str:
    """A byte of an octal or hex escape: ASCII as itself, a UTF-8 byte as a surrogate escape
    (joined with its neighbours into the character they encode, ``_bytes_joined``)."""
    code &= 0xFF
    return chr(code) if code < 0x80 else chr(0xDC00 + code)


def _unescaped(match: re.Match[str]) -> str:
    octal, hexa, other = match.groups()
    if octal is not None:
        return _byte_char(int(octal, 8))
    if hexa is not None:
        return _byte_char(int(hexa, 16))
    return _SIMPLE.get(other, other)


def _bytes_joined(text: str) -> str:
    """``\\xNN`` and ``\\NNN`` escapes (bytes, as lone surrogates) that form UTF-8 as its
    characters; bytes that do not stay lone surrogates, a row ``utf8.not_utf8`` refuses
    (until 7 Dec 2026 they read as U+FFFD)."""
    if any("\udc80" <= c <= "\udcff" for c in text):
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "surrogateescape")
    return text


def unescape(field: str) -> str | None:
    """One field's value: None for ``\\N``, its escapes resolved (the one place they are)."""
    if field == _NULL:
        return None
    if "\\" not in field:
        return field
    if "\\" not in field.replace("\\\\", ""):  # escaped backslashes alone: bytea hex
        return field.replace("\\\\", "\\")
    return _bytes_joined(_ESCAPE.sub(_unescaped, field))


def _only_nulls_and_backslashes(line: str) -> list[str] | None:
    """A line's fields when its only escapes are ``\\\\`` (a bytea's hex) and whole ``\\N``
    fields, found with a few replaces of the whole line (a dump's commonest escaped line), or
    None. An escaped backslash stands as a NUL meanwhile (no COPY text line holds one)."""
    if "\0" in line:
        return None
    marked = "\t" + line.replace("\\\\", "\0") + "\t"
    if "\\N" in marked:  # twice: two NULLs side by side share a tab
        marked = marked.replace("\t\\N\t", "\t\t").replace("\t\\N\t", "\t\t")
    if "\\" in marked:
        return None
    return marked[1:-1].replace("\0", "\\").split("\t")


def copy_fields(line: str) -> list[str]:
    """A line's fields (its line end dropped), unescaped; a NULL is an empty field, as a CSV
    writes it (the import reads both as absent)."""
    line = line[:-1] if line.endswith("\n") else line
    line = line[:-1] if line.endswith("\r") else line
    if "\\" not in line:  # the fast path: no escape
        return line.split("\t")
    if (quick := _only_nulls_and_backslashes(line)) is not None:
        return quick
    if "\\\t" not in line:
        return [f if "\\" not in f else unescape(f) or "" for f in line.split("\t")]
    return general_fields(line)


def general_fields(line: str) -> list[str]:
    """A line's fields (without its line end) by the format's grammar, a tab after a backslash
    the value's: what ``copy_fields``' quicker paths must equal."""
    fields: list[str] = []
    for m in _FIELD.finditer(line):
        fields.append(unescape(m.group(1)) or "")
        if not m.group(2):
            break
    return fields


def copy_signs(line: str) -> bool:
    """Whether a line holds a sign of COPY text: a field ``\\N`` alone, a ``\\\\``."""
    return "\\\\" in line or _NULL in line.rstrip("\r\n").split("\t")


def _widths_fit(rows: Iterable[list[str]], width: int) -> bool:
    return all(len(fields) == width for fields in rows if fields != [""] and fields)


def _csv_fits(lines: list[str], width: int) -> bool:
    try:
        return _widths_fit(csv.reader(lines, delimiter="\t"), width)
    except csv.Error:
        return False


def is_copy_text(header: str, sample: list[str]) -> bool:
    """Whether a tab-separated file is COPY text: a sign of it (a ``\\N`` field, a ``\\\\``) in
    its header line or its first lines after it, unless those lines are rows of the header's
    width read as CSV and not as COPY text (a quoting TSV that holds such a value, and a value
    in quotes holding a tab or a line end)."""
    if not (copy_signs(header) or any(copy_signs(line) for line in sample)):
        return False
    width = len(copy_fields(header))
    if _widths_fit((copy_fields(line) for line in sample if line.strip()), width):
        return True
    return not _csv_fits(sample, width)


def read_header(name: str, header: str, lines: Iterator[str]) -> tuple[bool, Iterator[str]]:
    """(whether a ``.tsv`` is COPY text, its lines after the header, the sampled ones first);
    LayoutError if its first line is a row of COPY text (written without HEADER)."""
    sample = list(itertools.islice(lines, SAMPLE_LINES))
    if copy_signs(header):
        raise LayoutError(
            f"{name}: its first line is a row of PostgreSQL's COPY text format (a \\N or an "
            "escaped backslash), not a header: the import reads columns by name. Write it with "
            "COPY … TO … WITH (FORMAT text, HEADER), or put the table's column names first, one "
            "tab between them"
        )
    return is_copy_text(header, sample), itertools.chain(sample, lines)


def copy_rows(
    lines: Iterator[str], width: int, cut_short: Callable[[], bool]
) -> Iterator[tuple[int, list[str], str | None]]:
    """(line, fields, why it is no row or None) of each non-blank line after the header, as
    ``csv_rows.csv_rows`` gives them (the last held back for ``cut_short``); the end-of-data
    marker ``\\.`` is no row."""
    pending: tuple[int, list[str], str | None] | None = None
    for number, line in enumerate(lines, start=2):
        if not line.strip() or line.rstrip("\r\n") == _END_OF_DATA:
            continue
        fields: list[str]
        bad: str | None
        if type(line) is CutLine:
            fields, bad = [line], LONG_LINE
        else:
            fields = copy_fields(line)
            bad = (
                None
                if len(fields) == width
                else f"{len(fields)} fields where the header has {width}"
            )
        if pending is not None:
            yield pending
        pending = (number, fields, bad)
    if pending is not None:
        if cut_short():
            pending = (pending[0], pending[1], "cut off where the compressed file breaks")
        yield pending
