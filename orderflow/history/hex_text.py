"""Hex text as dumps spell it, read in one place.

* ``0x…``: JSON-RPC, explorers, most exports;
* ``\\x…``: PostgreSQL's hex output of ``bytea``, as ``COPY … CSV`` writes it (a raw graph-node
  database dump's ``Bytes`` columns);
COPY's text format (``COPY … TO`` without CSV) writes the latter ``\\\\x…``, its backslash
escaped: the reader of that format unescapes every value (``copy_text``) before it gets here.
"""

from __future__ import annotations

_SHORT = frozenset({"0x", "0X", "\\x", "\\X"})


def hex_body(text: str) -> str | None:
    """``text`` without its hex prefix (one of the spellings above), or None without one."""
    if text[:2] in _SHORT:
        return text[2:]
    return None


def as_0x(value: object) -> object:
    """A bytea hex text (``\\x…``) as ``0x…``; any other value as it is."""
    if isinstance(value, str) and value[:1] == "\\" and (body := hex_body(value)) is not None:
        return "0x" + body
    return value
