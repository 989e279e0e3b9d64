"""What ends a line of JSON lines: ``\\n`` (``\\r\\n`` too, its ``\\r`` the line's trailing
whitespace), as jsonlines.org has it. A lone ``\\r`` inside a line is no line end: JSON's
whitespace between tokens, and inside a string a raw control character JSON does not allow, so
that line is one dead letter. Before 7 Dec 2026 a lone ``\\r`` ended a line wherever it was:
a string holding one made two dead letters, the second a fragment, and every line after it was
numbered one too far. A file whose line ends are all a lone ``\\r`` (no ``\\n`` in its first
256 k characters: an old Mac's) is read with ``\\r`` as its line end, as before."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg
import pytest

from orderflow.history import import_file
from tests.history import dumps as d
from tests.history.test_exactly_once import sim_logs


def _lines() -> list[bytes]:
    return [json.dumps(d.camel_row(f)).encode() for f in d.fills_of(sim_logs("v2", seed=7))]


async def _letters(pool: asyncpg.Pool) -> list[str]:
    rows = await pool.fetch("SELECT reason FROM orderflow_dead_letters ORDER BY source_line")
    return [r["reason"] for r in rows]


async def test_a_raw_cr_in_a_string_is_one_dead_letter(pool: asyncpg.Pool, tmp_path: Path) -> None:
    lines = _lines()
    lines[3] = lines[3].replace(b'"0x', b'"\r0x', 1)
    lines[6] = b"not json"  # a later dead letter: its line is the file's seventh
    path = tmp_path / "fills.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    report = await import_file(pool, path, chain_id=137, hand_over=False)
    assert (report.stored.trades, report.dead_letters) == (len(lines) - 2, 2)
    first, second = await _letters(pool)
    assert first.startswith("fills.jsonl line 4: not JSON (Invalid control character")
    assert second.startswith("fills.jsonl line 7: not JSON")


@pytest.mark.parametrize(
    ("end", "inside"),
    [(b"\r", b""), (b"\r\n", b""), (b"\n", b"\r"), (b"\r\n", b"\r")],
    ids=["cr-ends", "crlf-ends", "lf-ends-cr-between-tokens", "crlf-ends-cr-between-tokens"],
)
async def test_line_ends_and_a_cr_between_tokens(
    pool: asyncpg.Pool, tmp_path: Path, end: bytes, inside: bytes
) -> None:
    """Controls: every fill of a file of CR, CRLF or LF line ends is stored; a lone CR where
    JSON allows whitespace (between tokens) is whitespace, its row stored."""
    lines = [line.replace(b", ", b"," + inside, 1) for line in _lines()]
    lines[5] = b"[1]"
    path = tmp_path / "fills.jsonl"
    path.write_bytes(end + end.join(lines) + end)  # a blank first line: numbering counts it
    report = await import_file(pool, path, chain_id=137, hand_over=False)
    assert (report.stored.trades, report.dead_letters) == (len(lines) - 1, 1)
    assert (await _letters(pool))[0].startswith("fills.jsonl line 7: a JSON list")
