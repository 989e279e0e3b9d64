"""A row of a JSON file naming one key twice is a dead letter naming the key (which value is
meant cannot be told), the rest of the file imported. Before, the later value was stored: a
fill dump's row with a second ``makerAmountFilled`` stored the fill at that amount, silently."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg
import pytest

from orderflow.history import import_file
from tests.history import dumps as d
from tests.history.test_exactly_once import sim_logs


@pytest.mark.parametrize("shape", ["jsonl", "json"])
@pytest.mark.parametrize("workers", [0, 1])
async def test_a_row_naming_a_key_twice_is_a_dead_letter(
    pool: asyncpg.Pool, tmp_path: Path, shape: str, workers: int
) -> None:
    fills = [d.camel_row(f) for f in d.fills_of(sim_logs("v2", seed=7))]
    texts = [json.dumps(f) for f in fills]
    texts[3] = texts[3][:-1] + ', "makerAmountFilled": "1"}'
    path = tmp_path / f"fills.{shape}"
    path.write_text("\n".join(texts) + "\n" if shape == "jsonl" else f"[{','.join(texts)}]")
    report = await import_file(pool, path, chain_id=137, hand_over=False, workers=workers)
    assert (report.stored.trades, report.dead_letters) == (len(fills) - 1, 1)
    where = "line" if shape == "jsonl" else "row"
    reason = await pool.fetchval("SELECT reason FROM orderflow_dead_letters")
    assert reason.startswith(f"fills.{shape} {where} 4: the key 'makerAmountFilled' appears twice")
