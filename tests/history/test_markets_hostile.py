"""Gamma ``/markets`` rows a broken or hostile source writes: a final price of ``sNaN`` (a
signalling NaN: comparing it raises), a ``closedTime`` no timestamp can hold (past datetime's
and PostgreSQL's range, past BIGINT). Their verified tokens and every other row are imported:
on main the first stopped the whole import with ``decimal.InvalidOperation``, the others failed
the batch's store (``timestamp out of range``, ``value out of int64 range``: every row of it
lost). A price of sNaN is no exact price, as NaN is not (no resolution, nothing to report); a
time out of range is that row's resolution refused, a dead letter naming the row."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg
import pytest

from orderflow.history import import_file
from tests.history import dumps as d
from tests.history.test_markets import BTC, BTC_IDS, NEG, NEG_IDS, gamma

HOSTILE = [
    {"outcomePrices": '["1", "0"]', "closedTime": "99999999999999"},
    {"outcomePrices": '["1", "0"]', "closedTime": "9" * 30},
    {"outcomePrices": '["1", "0"]', "closedTime": "0x" + "f" * 70},
]


@pytest.mark.parametrize("bad", HOSTILE, ids=lambda b: str(b)[:60])
async def test_a_hostile_resolution_is_refused_and_the_rest_imported(
    pool: asyncpg.Pool, tmp_path: Path, bad: dict[str, str]
) -> None:
    rows = [
        gamma(BTC, BTC_IDS, closed=True, outcomePrices='["0", "1"]', closedTime="2026-06-23"),
        gamma(NEG, NEG_IDS, negRisk=True, closed=True, **bad),
    ]
    path = d.write_jsonl(tmp_path / "markets.jsonl", rows)
    report = await import_file(pool, path, chain_id=137)
    assert report.tokens == 4 and report.gamma_resolutions == 1
    outcomes = await pool.fetch("SELECT market_id FROM orderflow_market_outcomes")
    assert [r["market_id"] for r in outcomes] == [BTC]
    [reason] = [r[0] for r in await pool.fetch("SELECT reason FROM orderflow_dead_letters")]
    assert reason.startswith("markets.jsonl line 2: "), reason
    assert "resolution not stored" in reason, reason


async def test_a_signalling_nan_price_is_no_resolution(pool: asyncpg.Pool, tmp_path: Path) -> None:
    rows = [
        gamma(BTC, BTC_IDS, closed=True, outcomePrices='["0", "1"]', closedTime="2026-06-23"),
        gamma(NEG, NEG_IDS, negRisk=True, closed=True, outcomePrices='["sNaN", "1"]',
              closedTime="2026-06-20T00:00:00Z"),
    ]  # fmt: skip
    path = d.write_jsonl(tmp_path / "markets.jsonl", rows)
    report = await import_file(pool, path, chain_id=137)
    assert (report.tokens, report.gamma_resolutions, report.dead_letters) == (4, 1, 0)


@pytest.mark.parametrize("prices", ['["0", "0", "1"]', '["1"]'])
async def test_final_prices_not_one_per_token_are_no_resolution(
    pool: asyncpg.Pool, tmp_path: Path, prices: str
) -> None:
    """A binary market (two verified tokens) whose final prices are three, or one: stored, the
    resolution named a winner the condition does not have (outcome 2 of 2: every trade of the
    market scored a loss, for good where no chain resolution follows: a dump of fills brings
    none) or a payout for one outcome only. Its tokens are stored, the resolution is a dead
    letter naming the row, and the other rows are imported."""
    rows = [
        gamma(BTC, BTC_IDS, closed=True, outcomePrices='["0", "1"]', closedTime="2026-06-23"),
        gamma(NEG, NEG_IDS, negRisk=True, closed=True, outcomePrices=prices,
              closedTime="2026-06-20T00:00:00Z"),
    ]  # fmt: skip
    path = d.write_jsonl(tmp_path / "markets.jsonl", rows)
    report = await import_file(pool, path, chain_id=137)
    outcomes = await pool.fetch("SELECT market_id, payouts FROM orderflow_market_outcomes")
    assert [r["market_id"] for r in outcomes] == [BTC], [tuple(r) for r in outcomes]
    assert (report.tokens, report.gamma_resolutions, report.dead_letters) == (4, 1, 1)
    [reason] = [r[0] for r in await pool.fetch("SELECT reason FROM orderflow_dead_letters")]
    n = len(json.loads(prices))
    assert reason == (
        f"markets.jsonl line 2: {n} outcomePrices for 2 clobTokenIds: resolution not stored"
    )


async def test_token_ids_that_are_no_json_list_are_a_dead_letter_naming_the_field(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """``clobTokenIds`` written as a Python list (pandas' ``to_csv`` of the parsed lists: single
    quotes) are no JSON list: the row is a dead letter that names the field. Until 6 Dec 2026
    it named a placeholder: ``markets.csv line 3: x is not a JSON list: …``."""
    rows = [
        gamma(BTC, BTC_IDS),
        gamma(NEG, NEG_IDS, negRisk=True, clobTokenIds=str(NEG_IDS)),
    ]
    report = await import_file(pool, d.write_csv(tmp_path / "markets.csv", rows), chain_id=137)
    assert (report.tokens, report.dead_letters) == (2, 1)
    [reason] = [r[0] for r in await pool.fetch("SELECT reason FROM orderflow_dead_letters")]
    assert reason.startswith(
        f"markets.csv line 3: clobTokenIds is not a JSON list: \"['{NEG_IDS[0]}"
    ), reason
