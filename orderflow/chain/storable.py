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
import re
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


# --- reading: JSON a node or a file sends, parsed whatever it holds ----------------------------

_MAX_PARSE_DEPTH = 64
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


def _int_or_text(digits: str) -> int | str:
    # int() refuses more than 4300 digits (CVE-2020-10735 guard): keep those as text.
    return int(digits) if len(digits) <= 4000 else digits


def _flatten_deep(text: str, max_depth: int = _MAX_PARSE_DEPTH) -> str:
    """``text`` with every array/object nested deeper than ``max_depth`` replaced by a string.

    Linear in the text (one C-level regex pass over strings and brackets); used only after the
    plain parser ran out of stack, so its cost is never paid by ordinary replies.
    """
    out: list[str] = []
    depth = 0
    cut_from: int | None = None
    last = 0
    for m in _TOKENS.finditer(text):
        token = m.group()
        if token[0] == '"':
            continue
        if token in ("[", "{"):
            depth += 1
            if depth == max_depth + 1 and cut_from is None:
                cut_from = m.start()
        else:
            if depth == max_depth + 1 and cut_from is not None:
                out.append(text[last:cut_from])
                out.append(f'"<nested deeper than {max_depth} levels>"')
                last = m.end()
                cut_from = None
            depth -= 1
    out.append(text[last:])
    return "".join(out)


def loads_tolerant(raw: str | bytes) -> Any:
    """``json.loads`` that survives what a hostile peer can send inside otherwise valid JSON.

    Integers past 4000 digits stay strings, structures nested deeper than 64 levels become a
    string saying so (the rest of the document is kept), NaN/Infinity parse as floats (the
    decoder refuses them in any field it reads). Raises ValueError when it is not JSON at all.
    """
    try:
        return json.loads(raw, parse_int=_int_or_text)
    except RecursionError:
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        try:
            return json.loads(_flatten_deep(text), parse_int=_int_or_text)
        except RecursionError:
            raise ValueError("JSON nested deeper than the parser allows") from None
