"""A CSV row whose quoted field holds line ends (a Gamma market's description, as poly_data's
markets.csv keeps it) is named by the line it starts on, the line an editor or ``sed -n Np``
shows it at. Until 6 Dec 2026 a dead letter named the row's last line: ``markets.csv line 6``
for the row starting on line 3 (the rows after it were named right)."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg

from orderflow.history import import_file
from tests.history import dumps as d
from tests.history.test_markets import BTC, BTC_IDS, NEG, NEG_IDS, USDC, USDC_IDS, gamma


async def test_a_dead_letter_names_the_line_its_row_starts_on(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    rows = [
        gamma(BTC, BTC_IDS, description="One line."),
        gamma(USDC, BTC_IDS, description="Resolves Yes if …\n\nResolves No otherwise.\n"),
        gamma(NEG, NEG_IDS, negRisk=True, description="One line."),
        gamma(USDC, USDC_IDS[::-1], description="One line."),
    ]
    path = d.write_csv(tmp_path / "markets.csv", rows)
    lines = path.read_text().splitlines()
    assert [i + 1 for i, line in enumerate(lines) if line.startswith("12345,")] == [2, 3, 7, 8]
    report = await import_file(pool, path, chain_id=137)
    assert report.dead_letters == 2
    letters = await pool.fetch(
        "SELECT source_line, reason, raw FROM orderflow_dead_letters ORDER BY source_line"
    )
    # the second market starts on line 3 (its description runs to line 6), the fourth on 8
    assert [r["source_line"] for r in letters] == [3, 8], [r["reason"] for r in letters]
    assert letters[0]["reason"].startswith("markets.csv line 3: clobTokenIds do not match")
    raw = letters[0]["raw"]
    assert (json.loads(raw) if isinstance(raw, str) else raw)["line"] == 3
