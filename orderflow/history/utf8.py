"""Bytes of a text file that are no UTF-8: kept, found, and the row holding them refused.

A text file is decoded with ``errors="surrogateescape"``: a byte that is no part of valid UTF-8
becomes the lone surrogate U+DC80 to U+DCFF (a character no valid UTF-8 decodes to), not U+FFFD,
so a row holding one is told apart from a row holding a real U+FFFD and is a dead letter naming
the byte (``not_utf8``), never a row with a value silently altered. Before 7 Dec 2026 such bytes
were read as U+FFFD: a Gamma row whose text held one was imported as if whole, a fill's dead
letter showed U+FFFD instead of the bytes, and a COPY text ``\\xNN`` escape of no UTF-8 read as
U+FFFD too. A dead letter's text shows such a byte as ``\\xNN`` (``shown``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_ESCAPED = re.compile("[\udc80-\udcff]")

REASON = (
    "not UTF-8: byte 0x{byte:02x} at character {at:,}: a damaged copy, or a file in another "
    "encoding (convert it: iconv -t UTF-8); not imported"
)


def not_utf8(text: str) -> str | None:
    """Why ``text`` (decoded with ``surrogateescape``) is no UTF-8, or None when it is."""
    if text.isascii():
        return None
    found = _ESCAPED.search(text)
    if found is None:
        return None
    return REASON.format(byte=ord(found.group()) - 0xDC00, at=found.start() + 1)


def fields_not_utf8(fields: Iterable[str]) -> str | None:
    """``not_utf8`` of the first of ``fields`` that is no UTF-8."""
    for field in fields:
        why = not_utf8(field)
        if why is not None:
            return why
    return None


def shown(text: str) -> str:
    """``text`` with each byte that is no UTF-8 written ``\\xNN``."""
    if text.isascii():
        return text
    return _ESCAPED.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", text)
