"""Controls (they passed before 6 Dec 2026's audit too): Gamma's ``clobTokenIds`` and
``outcomePrices`` as JSON text (Gamma's own), as lists (a JSON file whose rows were parsed and
saved again, a Parquet list column), final prices spelt ``1.0`` / ``0.000``, and ``closed`` as
CSV's ``True``: the same verified tokens and resolution each way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from orderflow.history import import_file
from tests.history import dumps as d
from tests.history.test_markets import BTC, BTC_IDS, gamma

RESOLVED = {"closed": True, "closedTime": "2025-12-31 17:20:05+00"}


def _write(tmp_path: Path, shape: str) -> Path:
    if shape == "json text":
        return d.write_jsonl(tmp_path / "m.jsonl", [gamma(BTC, BTC_IDS, **RESOLVED,
                             outcomePrices='["1.0", "0.000"]')])  # fmt: skip
    if shape == "json lists":
        row = gamma(BTC, BTC_IDS, **RESOLVED, clobTokenIds=BTC_IDS, outcomePrices=["1", "0"])
        return d.write_json_array(tmp_path / "m.json", [row])
    if shape == "parquet lists":
        row = gamma(BTC, BTC_IDS, **RESOLVED, outcomePrices=["1", "0"])
        row.update(clobTokenIds=BTC_IDS, outcomes=["Up", "Down"])
        return d.write_parquet(tmp_path / "m.parquet", [row])
    row = gamma(BTC, BTC_IDS, **RESOLVED, outcomePrices=json.dumps(["1", "0"]))
    return d.write_csv(tmp_path / "m.csv", [row])  # closed / negRisk written True / False


@pytest.mark.parametrize("shape", ["json text", "json lists", "parquet lists", "csv"])
async def test_gamma_lists_as_text_or_lists_give_the_same_market(
    pool: asyncpg.Pool, tmp_path: Path, shape: str
) -> None:
    report = await import_file(pool, _write(tmp_path, shape), chain_id=137)
    assert (report.tokens, report.gamma_resolutions, report.dead_letters) == (2, 1, 0)
    tokens = await pool.fetch(
        "SELECT token_id::text, outcome_index FROM orderflow_tokens ORDER BY outcome_index"
    )
    assert [tuple(r) for r in tokens] == [(BTC_IDS[0], 0), (BTC_IDS[1], 1)]
    outcome: Any = await pool.fetchrow(
        "SELECT winning_outcome, source, resolved_at FROM orderflow_market_outcomes"
    )
    assert (outcome[0], outcome[1]) == (0, "gamma")
    assert outcome[2].isoformat() == "2025-12-31T17:20:05+00:00"
