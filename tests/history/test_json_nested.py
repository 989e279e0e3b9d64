"""A JSON line nested deeper than the parser allows is a dead letter, not a crash of the import.

Until 7 Dec 2026 ``row_batches.json_row`` caught ``ValueError`` only: ``json.loads`` raised
``RecursionError`` out of ``orderflow import`` (the line rules are ``chain.line_rules`` now)."""

from __future__ import annotations

from orderflow.history.row_batches import BadLine, json_row


def test_a_line_nested_too_deep_is_a_dead_letter_not_a_crash() -> None:
    row = json_row(3, '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert isinstance(row, BadLine)
    assert (row.number, row.reason) == (3, "JSON nested deeper than the parser allows")


def test_values_one_after_another_nested_too_deep_are_not_counted() -> None:
    row = json_row(1, '{"a": 1} {"b": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert isinstance(row, BadLine) and row.reason.startswith("not JSON (Extra data")
