"""Text after a file's JSON arrays that is no array is one more element, at most 16 M
characters of it (``json_array.MAX_ELEMENT_CHARS``): past that, the import stops naming the
file, no checkpoint moved. Before 7 Dec 2026 the rest was not read and nothing said so: a
pretty-printed array with JSON lines appended imported its array's rows, one dead letter of the
first 16 M characters after it, and ended as if the file were whole."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg
import pytest

from orderflow.history import HistoryError, import_file
from orderflow.history.json_array import MAX_ELEMENT_CHARS
from tests.history import dumps as d
from tests.history.test_exactly_once import sim_logs


async def test_more_text_after_the_arrays_than_an_element_stops_the_import(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    fills = [d.camel_row(f) for f in d.fills_of(sim_logs("v2", seed=7))]
    line = json.dumps(fills[2]) + "\n"
    path = tmp_path / "fills.json"
    with path.open("w") as out:
        out.write(json.dumps(fills[:2], indent=1) + "\n")
        out.write(line * (MAX_ELEMENT_CHARS // len(line) + 2))
    with pytest.raises(HistoryError, match=r"fills\.json: after its JSON arrays .* not read"):
        await import_file(pool, path, chain_id=137)
    assert await pool.fetchval("SELECT count(*) FROM orderflow_trades") == 2
    assert await pool.fetchval("SELECT count(*) FROM orderflow_dead_letters") == 1
    assert await pool.fetchval("SELECT count(*) FROM orderflow_sync_checkpoints") == 0


def test_text_read_back_reads_as_the_file_would() -> None:
    """The reader of a JSON file's head put back before the rest (``json_source._Prefixed``)
    gives ``read(n)`` n characters unless the file ends, as a text file does: the text after
    the arrays is read whole (before this, a read longer than what was put back gave that
    alone, and the text after it looked like more than an element)."""
    import io

    from orderflow.history.json_source import _Prefixed

    text = _Prefixed("abc", io.StringIO("defgh"))
    assert [text.read(2), text.read(4), text.read(5), text.read(1)] == ["ab", "cdef", "gh", ""]
    assert _Prefixed("abc", io.StringIO("de")).read() == "abcde"
