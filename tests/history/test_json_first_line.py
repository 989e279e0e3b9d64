"""A JSON-lines file whose first line is no row (not JSON, a scalar: a damaged head, a line a
script printed first) has that line a dead letter, like any other
line, and its columns from the first line that is a row. Before, the whole file was refused,
told it "looks like one JSON object over several lines", and none of its rows imported."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg
import pytest

from orderflow.history import LayoutError, import_file
from tests.history import dumps as d
from tests.history.test_exactly_once import sim_logs


@pytest.mark.parametrize("head", ["garbage", "5", '"x"', "null"])
async def test_a_first_line_that_is_no_row_is_a_dead_letter(
    pool: asyncpg.Pool, tmp_path: Path, head: str
) -> None:
    fills = [d.camel_row(f) for f in d.fills_of(sim_logs("v2", seed=7))]
    path = tmp_path / "fills.jsonl"
    path.write_text("\n".join([head, *(json.dumps(f) for f in fills)]) + "\n")
    report = await import_file(pool, path, chain_id=137, hand_over=False)
    assert (report.stored.trades, report.dead_letters) == (len(fills), 1)
    reason = await pool.fetchval("SELECT reason FROM orderflow_dead_letters")
    assert reason.startswith("fills.jsonl line 1: ")


@pytest.mark.parametrize("head", ["[1, 2]", "[]", "[ROW]"])
async def test_a_first_line_that_is_an_array_is_a_dead_letter(
    pool: asyncpg.Pool, tmp_path: Path, head: str
) -> None:
    """A whole array on the first line and a line that is no array after it: JSON lines, the
    array line a dead letter like one further down (test_hostile_lines.py). Until 7 Dec 2026
    the file was read as a JSON array whose text after it was one more element: a scalar's
    file refused as "one JSON object over several lines", and where the array held a row the
    rest of the file (up to 16 M characters; the rest not read at all) was one dead letter."""
    fills = [json.dumps(d.camel_row(f)) for f in d.fills_of(sim_logs("v2", seed=7))]
    first = head.replace("ROW", fills.pop(0))
    path = tmp_path / "fills.jsonl"
    path.write_text("\n".join([first, *fills]) + "\n")
    report = await import_file(pool, path, chain_id=137, hand_over=False)
    assert (report.stored.trades, report.dead_letters) == (len(fills), 1)
    reason = await pool.fetchval("SELECT reason FROM orderflow_dead_letters")
    assert reason == "fills.jsonl line 1: a JSON list, not a row"


async def test_an_object_over_several_lines_is_still_refused(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """The control: a file that opens an object on its first line is one object over several
    lines (its inner objects on a line of their own are no rows of it), refused as before."""
    fills = [d.camel_row(f) for f in d.fills_of(sim_logs("v2", seed=7))]
    path = tmp_path / "reply.jsonl"  # its last element a line that is an object on its own
    path.write_text('{"data": [\n' + ",\n".join(json.dumps(f) for f in fills[:3]) + "\n]}\n")
    with pytest.raises(LayoutError, match="one JSON object over several lines"):
        await import_file(pool, path, chain_id=137)
    assert await pool.fetchval("SELECT count(*) FROM orderflow_dead_letters") == 0
