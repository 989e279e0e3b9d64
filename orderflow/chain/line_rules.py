"""What a line of a JSON-lines file is, and when it is a value: one set of rules for both readers.

``orderflow import`` (``orderflow.history.json_lines``, reading text) and ``orderflow listen
--from-file`` (``orderflow.chain.file_lines``, reading bytes) read lines by these rules and
judge each with :func:`judged`; ``tests/chain/test_line_rules.py`` feeds both the same hostile
files and asserts the same lines, numbers, values and reasons. Until 7 Dec 2026 the raw-log
reader had rules of its own (a lone ``\\r`` ended a line, invalid UTF-8 read as U+FFFD, no
bound on a line's length).

* **Line ends.** A line ends at ``\\n`` (``\\r\\n`` too: its ``\\r`` is the line's trailing
  whitespace), as jsonlines.org has it. A lone ``\\r`` inside a line is no line end: JSON's
  whitespace between tokens, and inside a string a raw control character JSON does not allow
  (that line is one dead letter, not two fragments). A file without a ``\\n`` in its first
  ``LINE_END_HEAD`` characters (bytes, for the bytes reader), after its leading whitespace, but
  with a ``\\r`` has lone ``\\r`` line ends (an old Mac's): those end its lines
  (:func:`line_end`).
* **A line's text** is stripped of surrounding whitespace and of a byte-order mark
  (:func:`line_text`): a file appended to another with ``cat`` holds one at the start of each
  part. Lines are numbered from 1, blank ones counted.
* **Bytes that are no UTF-8** are decoded with ``surrogateescape``: a lone surrogate U+DC80 to
  U+DCFF no valid UTF-8 gives. A line holding one is a dead letter naming the byte
  (:func:`not_utf8`), its text shown with the byte as ``\\xNN`` (:func:`shown`).
* **Long lines.** A line of more than ``MAX_LINE_CHARS`` characters (before stripping) is a dead
  letter of its first ``KEPT_CHARS`` characters (a :class:`CutLine`); its rest is read past
  without being held.
* **A line's value** (:func:`judged`): one JSON object, parsed as the listener parses what a
  node sends (``storable.loads_tolerant``: a part nested deeper than 64 levels, past the
  parser's stack, reads as a string saying so, an integer of more than 4,000 digits as its
  text; docs/listener.md "Hostile or corrupt values"). Not JSON, several JSON values one after
  another, any other JSON value, or an object naming a key twice: a dead letter saying which.
"""

from __future__ import annotations

import json
import re
from typing import Any

from orderflow.chain.json_keys import REASON as REPEATED_KEY
from orderflow.chain.json_keys import duplicate_key
from orderflow.chain.storable import loads_tolerant

LINE_END_HEAD = 1 << 18
"""Characters (bytes) of a file's head, after its leading whitespace, that decide its line end."""

MAX_LINE_CHARS = 1 << 24
"""Characters of a line held, at most (as a JSON array's element and a CSV field: Gamma rows
are a few kB, a raw log 1 to 2 kB)."""

KEPT_CHARS = 10_000
"""Characters of a line longer than ``MAX_LINE_CHARS`` kept for its dead letter."""

LONG_LINE = f"a line of more than {MAX_LINE_CHARS:,} characters: no row"

BOM = "\ufeff"

SEVERAL_VALUES = (
    "{values} JSON values where one row belongs (a line end, or a comma, lost where they were "
    "joined?): none of them imported; write each on a line of its own (jq -c .) and import again"
)

NOT_UTF8 = (
    "not UTF-8: byte 0x{byte:02x} at character {at:,}: a damaged copy, or a file in another "
    "encoding (convert it: iconv -t UTF-8); not imported"
)

_ESCAPED = re.compile("[\udc80-\udcff]")
_SPACE = re.compile(r"\s*")
_DECODER = json.JSONDecoder()


class CutLine(str):
    """The first characters of a line longer than ``MAX_LINE_CHARS``: no row (``LONG_LINE``)."""

    __slots__ = ()


def line_end(head: str) -> str:
    """The line end of a file whose first characters after its leading whitespace are ``head``:
    ``\\n`` unless they hold a ``\\r`` and no ``\\n``."""
    return "\r" if "\r" in head and "\n" not in head else "\n"


def line_text(text: str) -> str:
    """A line without surrounding whitespace and without a byte-order mark."""
    return text.strip().lstrip(BOM).strip()


def not_utf8(text: str) -> str | None:
    """Why ``text`` (decoded with ``surrogateescape``) is no UTF-8, or None when it is."""
    if text.isascii():
        return None
    found = _ESCAPED.search(text)
    if found is None:
        return None
    return NOT_UTF8.format(byte=ord(found.group()) - 0xDC00, at=found.start() + 1)


def shown(text: str) -> str:
    """``text`` with each byte that is no UTF-8 written ``\\xNN``."""
    if text.isascii():
        return text
    return _ESCAPED.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", text)


def judged(text: str, noun: str = "a row") -> tuple[Any, str | None]:
    """(the object, None) when the line ``text`` (stripped, a :class:`CutLine` if cut) is one
    JSON object, else (None, why not); ``noun`` names what the line should have been."""
    if type(text) is CutLine:
        return None, LONG_LINE
    if (why := not_utf8(text)) is not None:
        return None, why
    try:
        value = loads_tolerant(text)
    except ValueError as exc:
        values = _values(text) if exc.args[0].startswith("Extra data") else 0
        if values > 1:
            return None, SEVERAL_VALUES.format(values=values)
        return None, f"not JSON ({exc})"
    if not isinstance(value, dict):
        return None, f"a JSON {type(value).__name__}, not {noun}"
    if (key := duplicate_key(text, value)) is not None:
        return None, REPEATED_KEY.format(key=key)
    return value, None


def _values(text: str) -> int:
    """How many JSON values ``text`` holds one after another (0 when it is not only those; at
    most 1,000 are counted)."""
    at, count = _SPACE.match(text).end(), 0  # type: ignore[union-attr]
    while at < len(text) and count < 1_000:
        try:
            _, at = _DECODER.raw_decode(text, at)
        except (ValueError, RecursionError):
            return 0
        at, count = _SPACE.match(text, at).end(), count + 1  # type: ignore[union-attr]
    return count
