"""The simulator's logs decode, through the listener's decoder, to exactly the intended trades."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from orderflow.chain import contracts as c
from orderflow.chain.decode import decode_batch
from orderflow.chain.ingest import ingest_file
from orderflow.sim import SimConfig, simulate
from orderflow.sim.emit import emit, write_logs
from orderflow.sim.engine import Conversion, Match, Merge, Preparation, Resolution, Split

CFG = {"markets": 6, "wallets": 30, "days": 3.0}


@pytest.mark.parametrize("exchange", ["v2", "v1"])
def test_decoded_fills_are_the_intended_trades(exchange: str) -> None:
    world = simulate(SimConfig(seed=11, exchange=exchange, **CFG))
    out = emit(world)
    batch = decode_batch(out.logs, 137)
    assert batch.dead_letters == []
    got = [
        (
            f.ref.tx_hash,
            f.ref.log_index,
            f.ref.address,
            f.exchange_version,
            f.order_hash,
            f.maker,
            f.taker,
            f.side,
            f.token_id,
            f.shares,
            f.collateral,
            f.fee,
            f.is_taker_aggregate,
        )
        for f in batch.fills
    ]
    meant = [
        (
            i.tx_hash,
            i.log_index,
            i.exchange,
            i.version,
            i.order_hash,
            i.maker,
            i.taker,
            i.side,
            i.token_id,
            i.shares,
            i.collateral,
            i.fee,
            i.is_taker_aggregate,
        )
        for i in out.fills
    ]
    assert got == meant
    assert len(got) > 150
    # The fee asset follows each generation's rule (V2 collateral; V1 shares on a BUY).
    if exchange == "v2":
        assert {f.fee_asset for f in batch.fills} == {"COLLATERAL"}
        assert any(f.fee > 0 for f in batch.fills if f.is_taker_aggregate)
        assert all(f.fee == 0 for f in batch.fills if not f.is_taker_aggregate)


@pytest.mark.parametrize("exchange", ["v2", "v1"])
def test_markets_tokens_and_resolutions_decode(exchange: str) -> None:
    world = simulate(SimConfig(seed=12, exchange=exchange, **CFG))
    batch = decode_batch(emit(world).logs, 137)
    by_id = {cond.condition_id: cond for cond in world.conditions}
    assert {p.condition_id for p in batch.conditions} == set(by_id)
    for prep in batch.conditions:
        cond = by_id[prep.condition_id]
        assert prep.neg_risk == cond.neg_risk
        assert (prep.oracle == c.NEG_RISK_ADAPTER) == cond.neg_risk
        assert tuple(t.token_id for t in prep.tokens) == cond.token_ids
    for res in batch.resolutions:
        assert res.payout_numerators == by_id[res.condition_id].payouts
    if exchange == "v1":
        # Each condition's pair registered twice, in both orders, on the right exchange.
        assert len(batch.registrations) == 2 * len(world.conditions)
        for reg in batch.registrations:
            cond = by_id[reg.condition_id]
            assert tuple(t.token_id for t in reg.tokens) == cond.token_ids
            expected = c.V1_NEG_RISK_CTF_EXCHANGE if cond.neg_risk else c.V1_CTF_EXCHANGE
            assert reg.ref.address == expected
    else:
        assert batch.registrations == []


def test_every_match_is_makers_then_taker_aggregate_then_orders_matched() -> None:
    world = simulate(SimConfig(seed=13, **CFG))
    out = emit(world)
    batch = decode_batch(out.logs, 137)
    fills_by_tx: dict[str, list[Any]] = {}
    kinds: Counter[str] = Counter()
    sizes: Counter[int] = Counter()
    for f in batch.fills:
        fills_by_tx.setdefault(f.ref.tx_hash, []).append(f)
    assert len(batch.matches) == sum(isinstance(e, Match) for e in world.events)
    for m in batch.matches:
        fills = fills_by_tx[m.ref.tx_hash]
        *makers, aggregate = fills
        assert aggregate.is_taker_aggregate and aggregate.taker == aggregate.ref.address
        assert aggregate.maker == m.taker_wallet and aggregate.side == m.side
        assert aggregate.ref.log_index == m.ref.log_index - 1
        assert all(not f.is_taker_aggregate and f.taker == m.taker_wallet for f in makers)
        # Every maker fills part of the taker order: shares add up (transfer, mint, merge).
        assert sum(f.shares for f in makers) == aggregate.shares == m.shares
        taker_collateral = 0
        for f in makers:
            if f.token_id == m.token_id:  # transfer: the opposite side of the same token
                assert f.side != m.side
                taker_collateral += f.collateral
            else:  # mint (BUY + BUY) or merge (SELL + SELL) of the complement at 1 - price
                assert f.side == m.side
                taker_collateral += f.shares - f.collateral
        # ... each at the maker's price: the taker's collateral is the sum over its makers.
        assert aggregate.collateral == taker_collateral
        kinds.update(
            "transfer" if f.token_id == m.token_id else "mint" if f.side == "BUY" else "merge"
            for f in makers
        )
        sizes.update([len(makers)])
    assert {"transfer", "mint", "merge"} <= set(kinds)
    assert max(sizes) >= 2  # some takers meet several makers


def test_blocks_are_two_seconds_apart_and_in_order() -> None:
    world = simulate(SimConfig(seed=14, **CFG))
    logs = emit(world).logs
    keys = [(int(x["blockNumber"], 16), int(x["logIndex"], 16)) for x in logs]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    start = int(world.config.start_time.timestamp())
    for x in logs:
        block, ts = int(x["blockNumber"], 16), int(x["blockTimestamp"], 16)
        assert ts == start + (block - world.config.first_block) * 2
    kinds = Counter(type(e).__name__ for e in world.events)
    assert kinds[Preparation.__name__] == len(world.conditions)
    assert 0 < kinds[Resolution.__name__] <= len(world.conditions)
    first = datetime.fromtimestamp(int(logs[0]["blockTimestamp"], 16), tz=UTC)
    assert first >= world.config.start_time


async def test_listener_file_path_stores_every_intended_trade(
    pool: asyncpg.Pool, tmp_path: object
) -> None:
    from pathlib import Path

    world = simulate(SimConfig(seed=15, **CFG))
    out = emit(world)
    path = Path(str(tmp_path)) / "logs.jsonl"
    write_logs(out.logs, path)
    report = await ingest_file(pool, path, chain_id=137)
    assert report.stored.dead_letters == 0
    # Market makers' splits and merges (and the CTF side of conversions: one split per leg
    # whose YES the wallet receives) are on the chain, recognised and ignored.
    splits = sum(isinstance(e, Split | Merge) for e in world.events)
    converted = sum(len(e.yes_legs) for e in world.events if isinstance(e, Conversion))
    assert splits and report.stored.ignored == splits + converted
    rows = await pool.fetch(
        "SELECT tx_hash, log_index, wallet_address, side, token_id, size, usdc_size, fee, "
        "is_taker_aggregate, market_id, outcome_index FROM orderflow_trades "
        "ORDER BY block_number, log_index"
    )
    assert len(rows) == len(out.fills)
    cond_of = {
        t: (cond.condition_id, i) for cond in world.conditions for i, t in enumerate(cond.token_ids)
    }
    for row, meant in zip(rows, out.fills, strict=True):
        assert (row["tx_hash"], row["log_index"]) == (meant.tx_hash, meant.log_index)
        assert row["wallet_address"] == meant.maker and row["side"] == meant.side
        assert int(row["token_id"]) == meant.token_id
        assert row["size"] * 1_000_000 == meant.shares
        assert row["usdc_size"] * 1_000_000 == meant.collateral
        assert row["fee"] * 1_000_000 == meant.fee
        assert row["is_taker_aggregate"] == meant.is_taker_aggregate
        assert (row["market_id"], row["outcome_index"]) == cond_of[meant.token_id]
    outcomes = await pool.fetchval("SELECT count(*) FROM orderflow_market_outcomes")
    assert outcomes == sum(isinstance(e, Resolution) for e in world.events)


def test_neg_risk_conversions_and_adapter_events() -> None:
    """Conversions happen on neg-risk events; with adapter_events the adapter's own logs are
    added (the only logs from the adapter), and every other log stays as it was."""
    cfg = SimConfig(seed=16, markets=10, wallets=40, days=10.0, neg_risk_share=0.6)
    world = simulate(cfg)
    conversions = [e for e in world.events if isinstance(e, Conversion)]
    assert conversions
    legs: dict[int, list[int]] = {}
    for cond in world.conditions:
        if cond.neg_risk:
            legs.setdefault(cond.event, []).append(cond.index)
    for e in conversions:
        event_legs = legs[world.conditions[e.condition].event]
        assert bin(e.index_set).count("1") >= 2 and e.index_set >> len(event_legs) == 0
        assert e.yes_legs == tuple(
            li for i, li in enumerate(event_legs) if not e.index_set >> i & 1
        )
        # NegRiskIdLib: question id = market id + index
        first = world.conditions[event_legs[0]]
        assert first.question_id == e.market_id and int(e.market_id, 16) & 0xFF == 0
    plain = emit(world).logs
    with_adapter = emit(simulate(cfg.model_copy(update={"adapter_events": True}))).logs
    adapter_logs = [x for x in with_adapter if x["address"] == c.NEG_RISK_ADAPTER]
    neg_splits = sum(
        isinstance(e, Split | Merge) and world.conditions[e.condition].neg_risk
        for e in world.events
    )
    assert len(adapter_logs) == neg_splits + len(conversions)

    def strip(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in x.items() if k != "logIndex"} for x in logs]

    others = [x for x in with_adapter if x["address"] != c.NEG_RISK_ADAPTER]
    assert strip(others) == strip(plain)
