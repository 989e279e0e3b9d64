"""Hex text as dumps spell it, read in one place.

* ``0x…``: JSON-RPC, explorers, most exports;
* ``\\x…``: PostgreSQL's hex output of ``bytea``, as ``COPY … CSV`` writes it (a raw graph-node
  database dump's ``Bytes`` columns);
* ``\\\\x…``: the same in COPY's text format (``COPY … TO`` without CSV, ``psql \\copy``,
  pg_dump's data), which escapes the backslash: PostgreSQL 16 writes ``'\\\\x5b33ff'`` for the
  bytea ``'\\x5b33ff'`` (tests/history/test_copy_text_dumps.py checks it on its own file).
"""

from __future__ import annotations

_SHORT = frozenset({"0x", "0X", "\\x", "\\X"})
_COPY_TEXT = frozenset({"\\\\x", "\\\\X"})


def hex_body(text: str) -> str | None:
    """``text`` without its hex prefix (one of the spellings above), or None without one."""
    if text[:2] in _SHORT:
        return text[2:]
    if text[:3] in _COPY_TEXT:
        return text[3:]
    return None


def as_0x(value: object) -> object:
    """A bytea hex text (``\\x…``, ``\\\\x…``) as ``0x…``; any other value as it is."""
    if isinstance(value, str) and value[:1] == "\\" and (body := hex_body(value)) is not None:
        return "0x" + body
    return value
