"""A JSON line nested deeper than the parser's stack is read, not a crash of the import.

Until 7 Dec 2026 ``row_batches.json_row`` parsed with ``json.loads`` and caught ``ValueError``
only: ``RecursionError`` came out of ``orderflow import``. Lines are judged by
``chain.line_rules.judged`` now, which parses as ``listen --from-file`` does
(``storable.loads_tolerant``: the part too deep reads as a string saying so)."""

from __future__ import annotations

from orderflow.history.row_batches import BadLine, Row, json_row

DEEP = "[" * 100_000 + "]" * 100_000


def test_a_line_nested_too_deep_is_read_not_a_crash() -> None:
    row = json_row(3, '{"a": ' + DEEP + ', "b": "x"}')
    assert isinstance(row, Row)
    assert row.values["b"] == "x" and "nested deeper than" in str(row.values["a"])


def test_a_line_that_is_only_nesting_is_a_dead_letter() -> None:
    row = json_row(4, DEEP)
    assert isinstance(row, BadLine) and row.reason.startswith("a JSON list, not a row")


def test_values_one_after_another_nested_too_deep_are_not_counted() -> None:
    row = json_row(1, '{"a": 1} {"b": ' + DEEP + "}")
    assert isinstance(row, BadLine) and row.reason.startswith("not JSON (Extra data")
