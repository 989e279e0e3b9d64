"""A JSON object that names one key twice: which of its values is meant cannot be told.

JSON parsers keep the last value of a repeated key (``json``, ``orjson``), others the first
(RFC 8259 leaves it open), so a log or row spelt so reads as whichever fill the reader picks:
a file's line with a second ``topics`` (another maker) or ``makerAmountFilled`` stored that one,
silently. Both file readers (``listen --from-file``'s ``file_lines``, the history import's
``row_batches``) make such a line a dead letter naming the key, through :func:`duplicate_key`.

Cheap in the common case: each key of an object is followed by a colon, so an object text
holding no more colons (or no more ``"`` + whitespace + ``:``) than its top-level keys repeats
none, at any level. Only a text holding more (a colon in a string, nested objects) is parsed
again, keeping every key.
"""

from __future__ import annotations

import json
import re
from typing import Any

_KEY_END = re.compile(r'"[ \t\r\n]*:')
_KEY_END_BYTES = re.compile(rb'"[ \t\r\n]*:')

REASON = "the key {key!r} appears twice in one object: which of its values is meant cannot be told"


def duplicate_key(text: str | bytes, value: dict[str, Any]) -> str | None:
    """The first key ``text`` (the JSON of the object ``value``) names twice, at any level of
    nesting; None when it names none (or when ``text`` cannot be parsed again)."""
    keys = len(value)
    if isinstance(text, bytes):
        if text.count(b":") == keys or len(_KEY_END_BYTES.findall(text)) == keys:
            return None
    elif text.count(":") == keys or len(_KEY_END.findall(text)) == keys:
        return None
    return _first_repeated(text)


def _first_repeated(text: str | bytes) -> str | None:
    found: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        if not found:
            seen: set[str] = set()
            for key, _ in items:
                if key in seen:
                    found.append(key)
                    break
                seen.add(key)
        return dict(items)

    try:
        json.loads(text, object_pairs_hook=pairs, parse_int=_kept, parse_constant=_kept)
    except (ValueError, RecursionError):
        return None
    return found[0] if found else None


def _kept(text: str) -> str:
    """A number or constant as its text: only the keys are of interest here."""
    return text
