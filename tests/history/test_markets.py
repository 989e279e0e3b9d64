"""Gamma /markets rows: token ids checked against the CTF derivation, exact resolutions only,
marked 'gamma' and replaced by the chain's ConditionResolution."""

from __future__ import annotations

import json
import logging
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from prometheus_client import generate_latest

from orderflow.chain import contracts as c
from orderflow.chain.ingest import ingest_file, ingest_logs
from orderflow.chain.rollback import rollback_from
from orderflow.chain.tokens import ctf_tokens
from orderflow.history import import_file
from orderflow.telemetry import setup_metrics
from tests.history import dumps as d
from tests.history.test_exactly_once import SAMPLE, sample_logs

# Real markets (docs: ../shared/polymarket.md test vectors): Gamma's clobTokenIds of "Bitcoin Up
# or Down - December 31, 12:00PM-12:15PM ET" and the subgraph tests' neg-risk condition.
BTC = "0x2e6af11e4b853b05ba7135239b21d77e808889b6ce1e735de856c94c4e5b5fce"
BTC_IDS = [
    "8851848546962572193739008211889046036776198486765606333032192644001246174440",
    "10181859819235412241349111952383458602722012323104397550162049365057126390549",
]
NEG = "0xbf5ba08b3a0c4dd741f00759282e38e9bfa9ad59aa623ed13d26a8786c1e5afc"
NEG_IDS = [
    "84121562275746951169805992721206824933074826856805500029198362509460400440947",
    "6492254133524731704185750998715576231739345323060925006131340263114065023619",
]
USDC = "0xfc690d5069b296bb9278af0cba42c02666e0999e4a4009ed97ea4a885f045457"
USDC_IDS = [
    "73716170047628147940237270507900673332129573201293655532643868111690843426372",
    "2890213445014127424511466931609154310536269586265875141655148162320150952197",
]
OTHER = "0x" + "5a" * 32


def gamma(condition: str, ids: list[str], **extra: Any) -> dict[str, Any]:
    row = {
        "id": "12345",
        "question": "?",
        "conditionId": condition,
        "outcomes": json.dumps(["Yes", "No"]),
        "clobTokenIds": json.dumps(ids),
        "negRisk": False,
        "closed": False,
        "outcomePrices": json.dumps(["0.5", "0.5"]),
        "closedTime": None,
        "questionID": "0x" + "a1".rjust(64, "0"),
        "resolvedBy": "0x6a9d222616c90fca5754cd1333cfd9b7fb6a4f74",
    }
    row.update(extra)
    return row


async def test_gamma_rows_verified_resolved_and_replaced_by_the_chain(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    # The sample's fills first, without their conditions: no market yet.
    fills = [
        raw
        for raw in sample_logs()
        if raw["topics"][0] in (c.TOPIC_ORDER_FILLED_V1, c.TOPIC_ORDER_FILLED_V2)
    ]
    await ingest_logs(pool, fills, chain_id=137)
    assert await pool.fetchval("SELECT count(*) FROM orderflow_trades WHERE market_id IS NULL") > 0

    other_ids = [str(t.token_id) for t in ctf_tokens(OTHER, 2, neg_risk=False, source="t")]
    rows = [
        # BTC closed with exact final prices: a resolution (deliberately the chain's opposite)
        gamma(
            BTC,
            BTC_IDS,
            closed=True,
            outcomePrices='["0", "1"]',
            closedTime="2026-06-23 08:00:00+00",
        ),
        gamma(
            NEG,
            NEG_IDS,
            negRisk=True,
            closed=True,
            outcomePrices=["1", "0"],
            closedTime="2026-06-20T00:00:00Z",
        ),
        gamma(USDC, list(reversed(USDC_IDS))),  # line 4: ids in the wrong order
        gamma(NEG, NEG_IDS, negRisk=False),  # line 5: the wrong collateral for these ids
        gamma(
            OTHER,
            other_ids,
            closed=True,
            outcomePrices='["0.9995", "0.0005"]',
            closedTime="2026-06-21T00:00:00Z",
        ),  # not exact: tokens, no resolution
        gamma("0x" + "77" * 32, [], closed=True),  # an AMM-era market: no CLOB tokens
        gamma(OTHER, other_ids, closed=True, outcomePrices='["1", "0"]'),  # no closedTime
    ]
    path = d.write_jsonl(tmp_path / "markets.jsonl", rows)
    report = await import_file(pool, path, chain_id=137)

    assert (report.markets, report.markets_skipped, report.dead_letters) == (4, 1, 2)
    assert report.tokens == 6 and report.gamma_resolutions == 2
    assert report.trades_joined == await pool.fetchval(
        "SELECT count(*) FROM orderflow_trades WHERE market_id = ANY($1::text[])", [BTC, NEG]
    )
    assert report.trades_joined > 0
    reasons = sorted(r[0] for r in await pool.fetch("SELECT reason FROM orderflow_dead_letters"))
    assert reasons[0].startswith(
        f"markets.jsonl line 3: clobTokenIds do not match the CTF position ids of condition {USDC}"
    )
    assert reasons[0].endswith("in the other order; not stored")
    assert reasons[1].startswith("markets.jsonl line 4: clobTokenIds do not match")
    assert "negRisk=False" in reasons[1]
    stored = await pool.fetch("SELECT condition_id FROM orderflow_tokens WHERE generation = 'CTF'")
    assert {r["condition_id"] for r in stored} == {BTC, NEG, OTHER}  # USDC row not stored

    outcomes = {
        r["market_id"]: r
        for r in await pool.fetch(
            "SELECT market_id, source, winning_outcome, payouts, block_number, resolved_at"
            " FROM orderflow_market_outcomes"
        )
    }
    assert set(outcomes) == {BTC, NEG}
    assert outcomes[BTC]["source"] == "gamma" and outcomes[BTC]["winning_outcome"] == 1
    assert outcomes[BTC]["payouts"] == [Decimal(0), Decimal(1)]
    assert outcomes[BTC]["block_number"] is None
    assert outcomes[BTC]["resolved_at"].isoformat() == "2026-06-23T08:00:00+00:00"

    # The chain's ConditionResolution (BTC resolves YES in the sample) replaces Gamma's.
    await ingest_file(pool, SAMPLE, chain_id=137)
    btc = await pool.fetchrow("SELECT * FROM orderflow_market_outcomes WHERE market_id = $1", BTC)
    assert (btc["source"], btc["winning_outcome"], btc["block_number"]) == ("chain", 0, 88_100_000)
    assert btc["payout_numerators"] == [Decimal(1), Decimal(0)]
    neg = await pool.fetchrow(
        "SELECT source FROM orderflow_market_outcomes WHERE market_id = $1", NEG
    )
    assert neg["source"] == "gamma"

    # Gamma never replaces the chain: importing the markets again changes nothing.
    again = await import_file(pool, path, chain_id=137)
    assert (again.tokens, again.gamma_resolutions) == (0, 0)
    still = await pool.fetchrow("SELECT * FROM orderflow_market_outcomes WHERE market_id = $1", BTC)
    assert dict(still) == dict(btc)


async def _token_sources(pool: asyncpg.Pool) -> dict[str, set[str]]:
    sources: dict[str, set[str]] = {}
    for r in await pool.fetch("SELECT condition_id, source FROM orderflow_tokens"):
        sources.setdefault(r["condition_id"], set()).add(r["source"])
    return sources


def _preparation(condition: str) -> dict[str, Any]:
    """The sample's ConditionPreparation of ``condition`` (BTC: block 40,000,000; NEG: 52M)."""
    (raw,) = (
        r
        for r in sample_logs()
        if r["topics"][0] == c.TOPIC_CONDITION_PREPARATION and r["topics"][1] == condition
    )
    return raw


async def test_the_chains_condition_preparation_takes_over_gamma_tokens(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    # NEG's preparation is stored before Gamma lists the market, BTC's after.
    await ingest_logs(pool, [_preparation(NEG)], chain_id=137)
    path = d.write_jsonl(
        tmp_path / "markets.jsonl", [gamma(BTC, BTC_IDS), gamma(NEG, NEG_IDS, negRisk=True)]
    )
    report = await import_file(pool, path, chain_id=137)
    assert report.tokens == 2  # BTC's; NEG's were known
    assert await _token_sources(pool) == {BTC: {"gamma"}, NEG: {"ConditionPreparation"}}
    before = {r["token_id"]: dict(r) for r in await pool.fetch("SELECT * FROM orderflow_tokens")}

    # The chain's ConditionPreparation, through the listener's store path: the authority.
    stored = await ingest_logs(pool, [_preparation(BTC)], chain_id=137)
    assert stored.stored.tokens == 0  # no new token: the known ones change hands
    assert await _token_sources(pool) == {
        BTC: {"ConditionPreparation"},
        NEG: {"ConditionPreparation"},
    }
    after = {r["token_id"]: dict(r) for r in await pool.fetch("SELECT * FROM orderflow_tokens")}
    for token, row in after.items():  # nothing else of a row changes
        assert {k: v for k, v in row.items() if k != "source"} == {
            k: v for k, v in before[token].items() if k != "source"
        }

    # Idempotent: the chain again, Gamma again — nothing changes, Gamma never takes a row back.
    await ingest_logs(pool, [_preparation(BTC), _preparation(NEG)], chain_id=137)
    again = await import_file(pool, path, chain_id=137)
    assert again.tokens == 0
    assert {r["token_id"]: dict(r) for r in await pool.fetch("SELECT * FROM orderflow_tokens")} == (
        after
    )

    # A reorg orphans both preparations: Gamma still lists both markets, so their tokens stay,
    # Gamma-sourced again (the chain no longer vouches for them); a condition only the chain
    # knew loses its tokens, as before.
    only_chain = {**_preparation(BTC), "logIndex": "0x4"}
    only_chain["topics"] = [only_chain["topics"][0], OTHER, *only_chain["topics"][2:]]
    await ingest_logs(pool, [only_chain], chain_id=137)
    assert (await _token_sources(pool))[OTHER] == {"ConditionPreparation"}
    async with pool.acquire() as conn:
        await rollback_from(conn, 137, 40_000_000)
    assert await _token_sources(pool) == {BTC: {"gamma"}, NEG: {"gamma"}}
    # The canonical chain's preparations (re-mined) make them chain-sourced once more.
    await ingest_logs(pool, [_preparation(BTC), _preparation(NEG)], chain_id=137)
    assert await _token_sources(pool) == {
        BTC: {"ConditionPreparation"},
        NEG: {"ConditionPreparation"},
    }


def _resolution(condition: str) -> dict[str, Any]:
    """The sample's ConditionResolution of BTC (block 88,100,000: YES wins), for ``condition``."""
    (raw,) = (r for r in sample_logs() if r["topics"][0] == c.TOPIC_CONDITION_RESOLUTION)
    if condition == BTC:
        return raw
    index = "0x" + format(int(condition[2:4], 16), "x")  # one log index per condition
    return {**raw, "logIndex": index, "topics": [raw["topics"][0], condition, *raw["topics"][2:]]}


async def _outcomes(pool: asyncpg.Pool) -> dict[str, dict[str, Any]]:
    rows = await pool.fetch("SELECT * FROM orderflow_market_outcomes")
    return {r["market_id"]: dict(r) for r in rows}


async def test_a_reorg_of_the_chains_resolution_gives_the_market_back_to_gamma(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    # BTC: Gamma resolves it (NO, deliberately the chain's opposite), then the chain (YES).
    # OTHER: the chain resolves it first, then Gamma lists it resolved (NO).
    # ONLY_CHAIN: a resolution Gamma never gave.
    only_chain = "0x" + "5b" * 32
    other_ids = [str(t.token_id) for t in ctf_tokens(OTHER, 2, neg_risk=False, source="t")]
    resolved = {"closed": True, "outcomePrices": '["0", "1"]'}
    path = d.write_jsonl(
        tmp_path / "markets.jsonl",
        [
            gamma(BTC, BTC_IDS, **resolved, closedTime="2026-06-23 08:00:00+00"),
            gamma(OTHER, other_ids, **resolved, closedTime="2026-06-24 08:00:00+00"),
            gamma(OTHER, other_ids, **resolved, closedTime="2026-06-25 08:00:00+00"),  # again
        ],
    )
    await ingest_logs(pool, [_resolution(OTHER), _resolution(only_chain)], chain_id=137)
    report = await import_file(pool, path, chain_id=137)
    assert report.gamma_resolutions == 1  # BTC's; OTHER's chain resolution stays
    gammas = await _outcomes(pool)
    assert gammas[BTC]["source"] == "gamma" and gammas[BTC]["winning_outcome"] == 1
    await ingest_logs(pool, [_resolution(BTC)], chain_id=137)
    chain = await _outcomes(pool)
    assert {m: r["source"] for m, r in chain.items()} == {
        BTC: "chain",
        OTHER: "chain",
        only_chain: "chain",
    }
    assert chain[BTC]["winning_outcome"] == chain[OTHER]["winning_outcome"] == 0
    await pool.execute("DELETE FROM orderflow_reputation_dirty_markets")

    # A reorg orphans the chain's resolutions: Gamma's stand again, the chain-only one is gone.
    async with pool.acquire() as conn:
        stats = await rollback_from(conn, 137, 88_100_000)
    assert stats.outcomes == 3
    back = await _outcomes(pool)
    assert set(back) == {BTC, OTHER}
    assert back[BTC] == gammas[BTC]  # exactly the row Gamma's import stored
    other = back[OTHER]
    assert (other["source"], other["winning_outcome"], other["payouts"]) == (
        "gamma",
        1,
        [Decimal(0), Decimal(1)],
    )
    assert other["resolved_at"].isoformat() == "2026-06-24T08:00:00+00:00"
    assert (other["block_number"], other["tx_hash"], other["log_index"]) == (None, None, None)
    # The reputation's change marks see every market whose outcome changed.
    marked = await pool.fetch("SELECT DISTINCT market_id FROM orderflow_reputation_dirty_markets")
    assert {r[0] for r in marked} >= {BTC, OTHER, only_chain}

    # The canonical chain's resolution (re-mined) replaces Gamma's once more.
    await ingest_logs(pool, [_resolution(BTC)], chain_id=137)
    assert (await _outcomes(pool))[BTC] == chain[BTC]


async def test_gamma_naming_another_winner_than_the_chain_is_counted_and_warned(
    pool: asyncpg.Pool, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The chain resolved OTHER and AGREES (YES, outcome 0). Gamma then says NO won OTHER, YES
    # won AGREES, and resolves BTC, which the chain has not: one disagreement, the chain's stands.
    setup_metrics("test")
    agrees = "0x" + "5c" * 32
    ids = {m: [str(t.token_id) for t in ctf_tokens(m, 2, neg_risk=False, source="t")]
           for m in (OTHER, agrees)}  # fmt: skip
    no_won, yes_won = '["0", "1"]', '["1", "0"]'
    when = {"closed": True, "closedTime": "2026-06-24 08:00:00+00"}
    path = d.write_jsonl(
        tmp_path / "markets.jsonl",
        [
            gamma(OTHER, ids[OTHER], **when, outcomePrices=no_won),
            gamma(agrees, ids[agrees], **when, outcomePrices=yes_won),
            gamma(BTC, BTC_IDS, **when, outcomePrices=no_won),
        ],
    )
    await ingest_logs(pool, [_resolution(OTHER), _resolution(agrees)], chain_id=137)
    counted = _disagreements_counted()
    with caplog.at_level(logging.WARNING, logger="orderflow.history"):
        report = await import_file(pool, path, chain_id=137)
    assert (report.gamma_resolutions, report.gamma_disagreements) == (1, 1)
    assert "1 resolutions from Gamma, 1 naming another winner than the chain's" in (
        report.summary()
    )
    (warning,) = [r for r in caplog.records if "another winner" in r.getMessage()]
    assert f"{OTHER} (chain: outcome 0, Gamma: outcome 1)" in warning.getMessage()
    assert agrees not in warning.getMessage() and BTC not in warning.getMessage()
    assert _disagreements_counted() == counted + 1
    outcomes = await _outcomes(pool)
    assert (outcomes[OTHER]["source"], outcomes[OTHER]["winning_outcome"]) == ("chain", 0)
    assert outcomes[OTHER]["gamma_payouts"] == [Decimal(0), Decimal(1)]  # noted beside it

    # Imported again: Gamma still disagrees, and the report says so again.
    again = await import_file(pool, path, chain_id=137)
    assert (again.gamma_resolutions, again.gamma_disagreements) == (0, 1)


def _disagreements_counted() -> float:
    """``orderflow_import_gamma_disagreements_total`` so far (the counter adds up per process)."""
    found = re.search(
        r'^orderflow_import_gamma_disagreements_total\{kind="markets"[^}]*\} (\S+)$',
        generate_latest().decode(),
        re.M,
    )
    return float(found.group(1)) if found else 0.0


async def test_a_later_gamma_file_naming_another_winner_is_counted_and_warned(
    pool: asyncpg.Pool, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The first resolution Gamma gave a market stays; before, a later Gamma file naming another
    winner was silently ignored."""
    when = {"closed": True, "closedTime": "2026-06-24 08:00:00+00"}
    first = d.write_jsonl(
        tmp_path / "first.jsonl", [gamma(BTC, BTC_IDS, **when, outcomePrices='["1", "0"]')]
    )
    later = d.write_jsonl(
        tmp_path / "later.jsonl",
        [
            gamma(BTC, BTC_IDS, **when, outcomePrices='["0", "1"]'),
            gamma(USDC, USDC_IDS, **when, outcomePrices='["1", "0"]'),
            gamma(USDC, USDC_IDS, **when, outcomePrices='["0", "1"]'),  # in the same batch
        ],
    )
    await import_file(pool, first, chain_id=137)
    with caplog.at_level(logging.WARNING, logger="orderflow.history"):
        report = await import_file(pool, later, chain_id=137)
    assert (report.gamma_resolutions, report.gamma_disagreements) == (1, 0)
    assert report.gamma_conflicts == 2
    assert "2 than an earlier Gamma import's (the earlier stands)" in report.summary()
    (warning,) = [r for r in caplog.records if "earlier Gamma" in r.getMessage()]
    assert f"{BTC} (earlier Gamma: outcome 0, this file: outcome 1)" in warning.getMessage()
    assert f"{USDC} (earlier Gamma: outcome 0, this file: outcome 1)" in warning.getMessage()
    outcomes = await _outcomes(pool)
    assert (outcomes[BTC]["source"], outcomes[BTC]["winning_outcome"]) == ("gamma", 0)
