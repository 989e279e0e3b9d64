"""A row holding bytes that are no UTF-8 is a dead letter naming the byte, never a row with a
value silently altered (``orderflow.history.utf8``). Before 7 Dec 2026 the reader decoded them
as U+FFFD: a Gamma market whose question held a Latin-1 ``é`` was imported as if whole (its
tokens stored, nothing said), and a CSV fill's dead letter showed U+FFFD, not the bytes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import asyncpg
import pytest

from orderflow.history import import_file
from tests.history import dumps as d
from tests.history.test_exactly_once import sim_logs
from tests.history.test_markets import BTC, BTC_IDS, USDC, USDC_IDS, gamma


def _market(question: str, condition: str = BTC, ids: list[str] = BTC_IDS) -> bytes:
    return json.dumps(gamma(condition, ids, question=question), ensure_ascii=False).encode()


@pytest.mark.parametrize("name", ["markets.jsonl", "markets.json"])
async def test_a_gamma_row_with_a_byte_of_no_utf8_is_a_dead_letter(
    pool: asyncpg.Pool, tmp_path: Path, name: str
) -> None:
    """Its first row, so the file's columns come from the next."""
    row = _market("Caf\u00e9?").replace("\u00e9".encode(), b"\xe9")  # Latin-1, not UTF-8
    other = _market("Yes?", USDC, USDC_IDS)
    path = tmp_path / name
    array = name.endswith(".json")
    path.write_bytes(b"[" + row + b", " + other + b"]\n" if array else row + b"\n" + other + b"\n")
    report = await import_file(pool, path, chain_id=137, hand_over=False)
    assert (report.tokens, report.dead_letters) == (2, 1)
    reason, raw = await pool.fetchrow("SELECT reason, raw FROM orderflow_dead_letters")
    unit = "row" if name.endswith(".json") else "line"
    assert reason.startswith(f"{name} {unit} 1: not UTF-8: byte 0xe9 at character ")
    assert '"question": "Caf\\xe9?"' in raw["text"]


async def test_a_real_replacement_character_is_a_value_like_any_other(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """The control: U+FFFD written as UTF-8 (EF BF BD) is a character of the text."""
    path = tmp_path / "markets.jsonl"
    path.write_bytes(_market("Caf\ufffd?") + b"\n")
    report = await import_file(pool, path, chain_id=137, hand_over=False)
    assert (report.tokens, report.dead_letters) == (2, 0)


async def test_a_csv_fill_with_a_byte_of_no_utf8_names_it(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    fills = [d.camel_row(f) for f in d.fills_of(sim_logs("v2", seed=7))]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(list(fills[0]))
    writer.writerows(f.values() for f in fills)
    lines = out.getvalue().encode().splitlines()
    lines[3] = lines[3][:10] + b"\xff" + lines[3][10:]
    path = tmp_path / "fills.csv"
    path.write_bytes(b"\n".join(lines) + b"\n")
    report = await import_file(pool, path, chain_id=137, hand_over=False)
    assert (report.stored.trades, report.dead_letters) == (len(fills) - 1, 1)
    reason, raw = await pool.fetchrow("SELECT reason, raw FROM orderflow_dead_letters")
    assert reason.startswith("fills.csv line 4: not UTF-8: byte 0xff at character 11")
    assert "\\xff" in raw["text"] and "\ufffd" not in raw["text"]
