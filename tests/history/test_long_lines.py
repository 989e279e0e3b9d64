"""A line longer than the reader holds (``row_batches.MAX_LINE_CHARS``, 16 M characters) is a
dead letter of its first characters, read past without being held: memory stays bounded
whatever the file. Before 7 Dec 2026 a JSON-lines file's line was read whole (a 64 MB line took
64 MB and more; a file that is one line of several GB took as much)."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest

from orderflow.chain.line_rules import MAX_LINE_CHARS
from orderflow.history.row_batches import BadLine, Row
from orderflow.history.sources import RowReader


def test_a_huge_json_line_is_a_dead_letter_read_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "fills.jsonl"
    with path.open("w") as out:
        out.write(json.dumps({"a": 1}) + "\n")
        out.write('{"a": "' + "x" * (4 * MAX_LINE_CHARS) + '"}\n')
        out.write(json.dumps({"a": 3}) + "\n")
    batches = _read_in_bounded_memory(path)
    rows = [r.values for rows, _ in batches for r in rows]
    bad = [b for _, bad in batches for b in bad]
    assert rows == [{"a": 1}, {"a": 3}]
    assert [(b.number, b.reason, len(b.text)) for b in bad] == [
        (2, f"a line of more than {MAX_LINE_CHARS:,} characters: no row", 10_000)
    ]


@pytest.mark.parametrize("name", ["fills.csv", "fills.tsv"])
def test_a_huge_csv_line_is_a_dead_letter_read_in_bounded_memory(tmp_path: Path, name: str) -> None:
    """The same for CSV and TSV: a line longer than the reader holds is no row, in bounded
    memory (before, csv.field_size_limit bounded a field, but the line was read whole first)."""
    sep = "\t" if name.endswith(".tsv") else ","
    path = tmp_path / name
    with path.open("w") as out:
        out.write(f"a{sep}b\n1{sep}2\n")
        out.write("x" * (4 * MAX_LINE_CHARS) + "\n")
        out.write(f"3{sep}4\n")
    batches = _read_in_bounded_memory(path)
    assert [r.values for rows, _ in batches for r in rows] == [
        {"a": "1", "b": "2"},
        {"a": "3", "b": "4"},
    ]
    bad = [b for _, bad in batches for b in bad]
    assert [(b.number, b.reason) for b in bad] == [
        (3, f"a line of more than {MAX_LINE_CHARS:,} characters: no row")
    ]


def _read_in_bounded_memory(path: Path) -> list[tuple[list[Row], list[BadLine]]]:
    """The file's batches, its reading's peak memory below three times the longest line the
    reader holds (the file holding a line four times that)."""
    tracemalloc.start()
    try:
        with RowReader(path) as reader:
            batches = list(reader.batches(10))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3 * MAX_LINE_CHARS, f"peak {peak:,} bytes for a line of {4 * MAX_LINE_CHARS:,}"
    return batches
