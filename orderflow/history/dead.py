"""A bad row's dead letter: the file, where in it (``line``: the line of a text file, the row of
a Parquet file or a JSON array) and why; one place for every history writer.

The file and number are fields of the dead letter (``orderflow_dead_letters.source_file``,
``source_line``, migration 038) and part of its ``raw`` object, so two identical bad rows are
two dead letters. ``raw`` reads as before: ``{"file", "line": n, "row": values}`` for a text file,
``{"file", "row": n, "text": …}`` for an element that is not a row; where a row-numbered file's
values take the ``row`` key, its number is ``row_number`` (before, the values overwrote it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orderflow.chain.events import DeadLetter
from orderflow.history.rows import jsonable

MAX_TEXT_IN_DEAD_LETTER = 10_000


def located_raw(
    source: str,
    unit: str,
    number: int,
    *,
    values: Mapping[str, Any] | None = None,
    text: str | None = None,
    log: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``raw`` object of a dead letter at ``unit`` (``line`` or ``row``) ``number``."""
    raw: dict[str, Any] = {"file": source, unit: number}
    if values is not None:
        if unit == "row":
            raw["row_number"] = number
        raw["row"] = jsonable(values)
    if text is not None:
        raw["text"] = text[:MAX_TEXT_IN_DEAD_LETTER]
    if log is not None:
        raw["log"] = dict(log)
    return raw


def dead_row(
    source: str,
    unit: str,
    number: int,
    reason: str,
    chain_id: int,
    *,
    values: Mapping[str, Any] | None = None,
    text: str | None = None,
    identity: tuple[str, int, int] | None = None,
) -> DeadLetter:
    """The dead letter of row ``number`` of ``source``: ``reason`` prefixed with where it is."""
    tx, index, block = identity if identity is not None else (None, None, None)
    return DeadLetter(
        raw=located_raw(source, unit, number, values=values, text=text),
        reason=f"{source} {unit} {number}: {reason}",
        chain_id=chain_id,
        tx_hash=tx,
        log_index=index,
        block_number=block,
        file=source,
        line=number,
    )


def locate(
    letter: DeadLetter, source: str, unit: str, number: int, values: Mapping[str, Any]
) -> None:
    """A dead letter the decoder made of row ``number``'s raw log: where it came from, too."""
    letter.reason = f"{source} {unit} {number}: {letter.reason}"
    letter.raw = located_raw(source, unit, number, values=values, log=letter.raw)
    letter.file, letter.line = source, number
