"""Bytes of a text file that are no UTF-8: kept, found, and the row holding them refused.

A text file is decoded with ``errors="surrogateescape"``: a byte that is no part of valid UTF-8
becomes the lone surrogate U+DC80 to U+DCFF (a character no valid UTF-8 decodes to), not U+FFFD,
so a row holding one is told apart from a row holding a real U+FFFD and is a dead letter naming
the byte (``not_utf8``), never a row with a value silently altered. Before 7 Dec 2026 such bytes
were read as U+FFFD: a Gamma row whose text held one was imported as if whole, a fill's dead
letter showed U+FFFD instead of the bytes, and a COPY text ``\\xNN`` escape of no UTF-8 read as
U+FFFD too. A dead letter's text shows such a byte as ``\\xNN`` (``shown``). The rule is
``orderflow.chain.line_rules``, shared with ``listen --from-file``'s raw-log reader.
"""

from __future__ import annotations

from collections.abc import Iterable

from orderflow.chain.line_rules import not_utf8


def fields_not_utf8(fields: Iterable[str]) -> str | None:
    """``not_utf8`` of the first of ``fields`` that is no UTF-8."""
    for field in fields:
        why = not_utf8(field)
        if why is not None:
            return why
    return None
