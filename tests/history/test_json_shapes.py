"""A JSON file in a shape the import does not take says what to do with it.

A Gamma /markets reply saved as is (a JSON array, one line or pretty-printed) imports
(test_json_array.py). Three saves that are not rows refuse with the command that makes them
rows: a Gamma /events reply (the markets are nested in each event), an object wrapping the rows
(``{"data": [...], "next_cursor": …}``), and one object pretty-printed over several lines.
Before 4 Dec 2026 each said only ``not a layout orderflow imports (columns: …)``.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import asyncpg
import pytest

from orderflow.history import LayoutError, import_file
from tests.history.test_markets import BTC, BTC_IDS, gamma

ROW = gamma(BTC, BTC_IDS)


@pytest.mark.parametrize(
    ("text", "advice"),
    [
        (
            json.dumps([{"id": "1", "title": "e", "slug": "s", "markets": [ROW]}]),
            "a Gamma /events reply: its markets are nested in each event; import the markets "
            "themselves (jq -c '.[].markets[]' markets.json > markets.jsonl) or a /markets reply",
        ),
        (
            json.dumps({"data": [ROW], "next_cursor": "LTE="}),
            'an object wrapping rows under "data"; import the rows themselves '
            "(jq -c '.data[]' markets.json > markets.jsonl)",
        ),
        (
            json.dumps(ROW, indent=2),
            "one JSON object over several lines, neither JSON lines nor an array; import it as "
            "JSON lines (jq -c '.' markets.json > markets.jsonl)",
        ),
    ],
    ids=["events", "wrapped", "pretty-object"],
)
async def test_a_json_file_not_of_rows_says_what_to_do(
    pool: asyncpg.Pool, tmp_path: Path, text: str, advice: str
) -> None:
    path = tmp_path / "markets.json"
    path.write_text(text)
    with pytest.raises(LayoutError) as exc:
        await import_file(pool, path, chain_id=137)
    assert advice in str(exc.value)


async def test_a_pretty_printed_gamma_reply_imports(pool: asyncpg.Pool, tmp_path: Path) -> None:
    path = tmp_path / "markets.json"
    path.write_text(json.dumps([ROW], indent=2))
    report = await import_file(pool, path, chain_id=137)
    assert report.kind == "markets" and report.tokens == 2 and report.dead_letters == 0


@pytest.mark.parametrize(
    ("name", "rows"),
    [("markets.jsonl", "markets.rows.jsonl"), ("markets.jsonl.gz", "markets.jsonl")],
)
async def test_the_advice_never_writes_over_the_file_it_reads(
    pool: asyncpg.Pool, tmp_path: Path, name: str, rows: str
) -> None:
    """`jq … markets.jsonl > markets.jsonl` would empty the file before jq reads it."""
    path = tmp_path / name
    text = json.dumps(ROW, indent=2).encode()
    path.write_bytes(gzip.compress(text) if name.endswith(".gz") else text)
    with pytest.raises(LayoutError) as exc:
        await import_file(pool, path, chain_id=137)
    command = str(exc.value).rsplit("(", 1)[1].rstrip(")")
    source, out = command.split(" > ")
    assert out == rows and name in source
