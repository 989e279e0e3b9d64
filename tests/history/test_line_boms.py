"""Files appended with ``cat``, each part starting with a byte-order mark: a BOM starting any
line is removed, as ``listen --from-file`` removes it (``file_lines.line_text``), and the line is
read as the row it is. Before, such a line of a JSON-lines dump was a dead letter (``not JSON
(Unexpected UTF-8 BOM …)``) and of a CSV one too (``transaction hash is not 32 bytes of hex:
'\\ufeff0x…'``): a fill of the dump not stored."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import asyncpg
import pytest

from orderflow.history import import_file
from tests.history import dumps as d
from tests.history.compare import rows
from tests.history.test_exactly_once import sim_logs


def _parts(fills: list[dict[str, object]], shape: str) -> list[str]:
    if shape == "jsonl":
        return [
            "".join(json.dumps(f) + "\n" for f in fills[:20]),
            *(json.dumps(f) + "\n" for f in fills[20:]),
        ]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(list(fills[0]))
    writer.writerows(f.values() for f in fills[:20])
    second = io.StringIO()
    csv.writer(second, lineterminator="\n").writerows(f.values() for f in fills[20:])
    return [out.getvalue(), second.getvalue()]


@pytest.mark.parametrize("shape", ["jsonl", "csv"])
async def test_a_byte_order_mark_starting_a_line_mid_file_is_removed(
    pool: asyncpg.Pool, chain_pool: asyncpg.Pool, tmp_path: Path, shape: str
) -> None:
    fills = [d.camel_row(f) for f in d.fills_of(sim_logs("v2", seed=7))]
    await import_file(chain_pool, d.write_jsonl(tmp_path / "ref.jsonl", fills), chain_id=137)
    path = tmp_path / f"cat.{shape}"
    path.write_text("".join("\ufeff" + part for part in _parts(fills, shape)), encoding="utf-8")
    report = await import_file(pool, path, chain_id=137, hand_over=False)
    assert (report.stored.trades, report.dead_letters) == (len(fills), 0)
    assert await rows(pool, "orderflow_trades") == await rows(chain_pool, "orderflow_trades")
