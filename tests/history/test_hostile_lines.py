"""Control: hostile lines in a JSON-lines or CSV fill dump — CRLF, NUL bytes, invalid UTF-8, a
10 MB line, blank lines, JSON arrays and scalars, a line without its line end — each a dead
letter naming its line where it is no row, every other fill stored (docs/history.md "Bad rows").
These held on main (7 Dec 2026): a control, not a fix (a BOM starting a line, a repeated
header and a bad first line were fixes: test_line_boms.py, test_csv_headers.py,
test_json_first_line.py)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest

from orderflow.history import HistoryError, import_file
from tests.history import dumps as d
from tests.history.test_exactly_once import sim_logs

Lines = list[bytes]
CASES: dict[str, tuple[Callable[[Lines], Lines], int, int]] = {  # mutation, lost fills, letters
    "crlf": (lambda L: [x + b"\r" for x in L], 0, 0),
    "nul line": (lambda L: [*L[:3], b"\x00\x00", *L[3:]], 0, 1),
    "nul in a value": (lambda L: [*L[:3], L[3][:10] + b"\x00" + L[3][10:], *L[4:]], 1, 1),
    "invalid utf-8 in a value": (
        lambda L: [*L[:3], L[3][:10] + b"\xff\xfe" + L[3][10:], *L[4:]],
        1,
        1,
    ),
    "invalid utf-8 line": (lambda L: [*L[:3], b"\xff\xfe\xfd", *L[3:]], 0, 1),
    "10 MB line": (lambda L: [*L[:3], b"x" * 10_000_000, *L[3:]], 0, 1),
    "blank lines": (lambda L: [*L[:3], b"", b"", *L[3:]], 0, 0),
}
JSON_ONLY: dict[str, tuple[Callable[[Lines], Lines], int, int]] = {
    "array line": (lambda L: [*L[:3], b"[1, 2]", *L[3:]], 0, 1),
    "scalars": (lambda L: [*L[:3], b"5", b'"x"', b"null", b"true", *L[3:]], 0, 4),
    "two objects on a line": (lambda L: [*L[:3], L[3] + b" " + L[4], *L[5:]], 2, 1),
}


def _lines(fills: list[dict[str, object]], shape: str) -> Lines:
    if shape == "jsonl":
        return [json.dumps(f).encode() for f in fills]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(list(fills[0]))
    writer.writerows(f.values() for f in fills)
    return [x.encode() for x in out.getvalue().splitlines()]


@pytest.mark.parametrize(
    ("shape", "case"),
    [(s, c) for s in ("jsonl", "csv") for c in CASES] + [("jsonl", c) for c in JSON_ONLY],
)
async def test_a_hostile_line_costs_its_line_only(
    pool: asyncpg.Pool, tmp_path: Path, shape: str, case: str
) -> None:
    fills = [d.camel_row(f) for f in d.fills_of(sim_logs("v2", seed=7))]
    mutate, lost, letters = {**CASES, **JSON_ONLY}[case]
    path = tmp_path / f"fills.{shape}"
    path.write_bytes(b"\n".join(mutate(_lines(fills, shape))) + b"\n")
    report = await import_file(pool, path, chain_id=137, hand_over=False)
    assert (report.stored.trades, report.dead_letters) == (len(fills) - lost, letters)
    reasons = await pool.fetch("SELECT reason FROM orderflow_dead_letters")
    assert all(r["reason"].startswith(f"fills.{shape} line ") for r in reasons)


@pytest.mark.parametrize("shape", ["jsonl", "csv"])
async def test_a_file_without_its_last_line_end(
    pool: asyncpg.Pool, tmp_path: Path, shape: str
) -> None:
    """JSON lines: the last line is read (cut inside, it is no JSON: a dead letter); a CSV file
    is refused at its end, its last row a dead letter (a cut field reads as whole)."""
    fills = [d.camel_row(f) for f in d.fills_of(sim_logs("v2", seed=7))]
    path = tmp_path / f"fills.{shape}"
    path.write_bytes(b"\n".join(_lines(fills, shape)))
    if shape == "jsonl":
        report = await import_file(pool, path, chain_id=137)
        assert (report.stored.trades, report.dead_letters) == (len(fills), 0)
        return
    with pytest.raises(HistoryError, match="ends inside its last row"):
        await import_file(pool, path, chain_id=137)
    assert await pool.fetchval("SELECT count(*) FROM orderflow_trades") == len(fills) - 1


async def test_two_objects_on_a_line_are_one_dead_letter_that_says_so(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """Two rows on one line (a line end lost where two files were joined) are one dead letter
    naming the line and what is wrong, not two rows (docs/history.md "Bad rows": JSON lines
    holds one value a line, and a row's dead letter names its own line). Before 7 Dec 2026 the
    reason was the parser's ``not JSON (Extra data: line 1 column 852 (char 851))``."""
    lines = _lines([d.camel_row(f) for f in d.fills_of(sim_logs("v2", seed=7))], "jsonl")
    path = tmp_path / "fills.jsonl"
    path.write_bytes(b"\n".join([*lines[:3], lines[3] + lines[4], *lines[5:]]) + b"\n")
    await import_file(pool, path, chain_id=137, hand_over=False)
    reason = await pool.fetchval("SELECT reason FROM orderflow_dead_letters")
    assert reason.startswith("fills.jsonl line 4: 2 JSON values where one row belongs (a line end")
