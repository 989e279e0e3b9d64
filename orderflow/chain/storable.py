"""Making any value a node or a file can carry storable in PostgreSQL (dead letters, reasons).

A dead letter keeps the raw log for inspection, so the raw log itself must never be what
aborts a batch. PostgreSQL refuses, in ``jsonb`` or ``text``:

* NaN and ±Infinity (not JSON; Python's ``json`` reads and writes them);
* a lone UTF-16 surrogate (``"\\ud800"`` is valid Python and valid JSON escape syntax, but not
  Unicode text: asyncpg cannot encode it and ``jsonb`` rejects the escape);
* the NUL character (``text`` cannot hold it, ``jsonb`` rejects ``\\u0000``);
* integers past what a numeric literal may hold, nesting deeper than the parser's stack.

:func:`storable_json` rewrites such values into plain, visible text — a surrogate becomes the
six characters ``\\ud800``, NaN becomes the string ``"NaN"``, NUL becomes U+FFFD (as before, so
the identities of dead letters stored by earlier versions do not change) — and truncates what is
too long or too deep. Ordinary objects come out exactly as ``json.dumps(sort_keys=True)`` would
print them. :func:`storable_text` does the same for one string (reasons, addresses, topics).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

MAX_DEPTH = 32  # nesting kept in a dead letter's raw object
MAX_STRING = 20_000  # characters kept of one string value
MAX_JSON = 200_000  # characters of the whole raw object's JSON
MAX_INT_DIGITS = 1000  # larger integers are kept as strings
_REPLACEMENT = "\ufffd"


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def storable_text(value: object, limit: int = MAX_STRING) -> str:
    """``value`` as text PostgreSQL accepts: no NUL, no lone surrogate, at most ``limit`` chars."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > limit:
        text = f"{text[:limit]}…[{len(text) - limit} more characters]"
    if "\x00" in text:
        text = text.replace("\x00", _REPLACEMENT)
    if _has_surrogate(text):
        text = "".join(f"\\u{ord(ch):04x}" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text)
    return text


def _clean(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        return storable_text(value)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        # str(int) itself refuses past 4300 digits; bit_length is cheap and exact enough.
        if value.bit_length() > MAX_INT_DIGITS * 3:
            return f"<integer of {value.bit_length()} bits>"
        return value
    if isinstance(value, float):
        return (
            value
            if math.isfinite(value)
            else repr(value).replace("inf", "Infinity").replace("nan", "NaN")
        )
    if depth >= MAX_DEPTH:
        return f"<nested deeper than {MAX_DEPTH} levels>"
    if isinstance(value, Mapping):
        return {storable_text(str(k), 200): _clean(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v, depth + 1) for v in value]
    return storable_text(repr(value))


def storable_json(raw: object) -> str:
    """Canonical JSON text of ``raw`` that ``::jsonb`` accepts, whatever ``raw`` holds."""
    try:
        text = json.dumps(raw, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (ValueError, TypeError, RecursionError):
        text = None
    if text is None or "\\ud" in text or len(text) > MAX_JSON:
        # Something to rewrite (or a false alarm: an escaped backslash followed by "ud").
        text = json.dumps(_clean(raw, 0), sort_keys=True, separators=(",", ":"), allow_nan=False)
    if len(text) > MAX_JSON:
        text = json.dumps({"truncated_json": text[:MAX_JSON], "json_length": len(text)})
    # NUL: PostgreSQL's jsonb rejects the \u0000 escape (kept as U+FFFD, as earlier versions did).
    return text.replace("\\u0000", "\\ufffd")


def storable_key(raw: object) -> tuple[str, str]:
    """(sha256 of :func:`storable_json`, that JSON): the identity and payload of a dead letter."""
    text = storable_json(raw)
    return hashlib.sha256(text.encode()).hexdigest(), text
