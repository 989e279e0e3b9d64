"""Every market mapped whenever its trades were stored (issue 13, item 1), on a real anvil.

The listener starts AFTER a market's ConditionPreparation: its trades are stored with
``market_id`` NULL, and get their market and outcome once the market's ConditionResolution
arrives, or once the one-time condition sync has read the old ConditionPreparation. The sync
is resumable: stopped half-way (its node refuses part of the range), it resumes from its own
checkpoint, not from the start.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest
from aiohttp import web

from orderflow.chain import contracts as c
from orderflow.chain.backfill import STREAM
from orderflow.chain.checkpoints import Checkpoint, get_checkpoint
from orderflow.chain.conditions import CONDITIONS_STREAM, ConditionSync
from orderflow.chain.decode import decode_batch
from orderflow.chain.listener import Listener
from orderflow.chain.listener_metrics import IngestMetrics
from orderflow.chain.rpc import EthClient
from orderflow.chain.rpc_http import HttpTransport
from orderflow.chain.store import store_batch
from tests.chain_live.anvil_node import Anvil
from tests.chain_live.in_front import Forward, JsonRpc, node_in_front
from tests.chain_live.listener_runs import count_is, make_settings, running, streaming
from tests.chain_live.logs import (
    condition_of,
    condition_preparation,
    condition_resolution,
    order_filled_v2,
    token_of,
    wait_until,
)

pytestmark = pytest.mark.anvil


async def markets(pool: asyncpg.Pool) -> list[tuple[str | None, int | None]]:
    rows = await pool.fetch(
        "SELECT market_id, outcome_index FROM orderflow_trades ORDER BY block_number, log_index"
    )
    return [(r["market_id"], r["outcome_index"]) for r in rows]


def markets_are(pool: asyncpg.Pool, expected: list[tuple[str | None, int | None]]) -> Any:
    async def check() -> bool:
        return await markets(pool) == expected

    return check


async def test_a_resolution_maps_trades_of_a_market_created_before_the_listener(
    anvil: Anvil, pool: asyncpg.Pool
) -> None:
    await anvil.emit(condition_preparation(1))  # block 1, before the listener's first block
    await anvil.emit(condition_preparation(2, oracle=c.NEG_RISK_ADAPTER))  # block 2
    settings = make_settings(anvil.ws_url, START_BLOCK=3, CONDITION_SYNC=False)
    listener = Listener(pool, settings)
    async with running(listener) as task:
        await wait_until(streaming(listener), what="streaming")
        await anvil.emit(order_filled_v2(order_hash=1, token_id=token_of(1, 0)))
        await anvil.emit(order_filled_v2(order_hash=2, token_id=token_of(1, 1)))
        neg = token_of(2, 1, oracle=c.NEG_RISK_ADAPTER)
        await anvil.emit(order_filled_v2(order_hash=3, token_id=neg))
        await wait_until(count_is(pool, 3), what="three fills")
        assert await markets(pool) == [(None, None)] * 3

        await anvil.emit(condition_resolution(1, (0, 1)))
        plain = condition_of(1)
        await wait_until(
            markets_are(pool, [(plain, 0), (plain, 1), (None, None)]), what="market 1 mapped"
        )
        await anvil.emit(condition_resolution(2, (1, 0), oracle=c.NEG_RISK_ADAPTER))
        negc = condition_of(2, oracle=c.NEG_RISK_ADAPTER)
        await wait_until(
            markets_are(pool, [(plain, 0), (plain, 1), (negc, 1)]), what="market 2 mapped"
        )
        assert not task.done()
    outcomes = await pool.fetch(
        "SELECT market_id, winning_outcome FROM orderflow_market_outcomes ORDER BY block_number"
    )
    assert [tuple(r) for r in outcomes] == [(plain, 1), (negc, 0)]
    assert await pool.fetchval("SELECT count(*) FROM orderflow_conditions") == 0


@dataclass
class GatedNode:
    """HTTP JSON-RPC in front of anvil that answers 503 to condition-sync eth_getLogs
    starting at or above ``refuse_from`` (a provider failing part-way), and records them."""

    url: str = ""
    refuse_from: int | None = None
    ctf_ranges: list[tuple[int, int, bool]] = field(default_factory=list)  # (from, to, refused)
    methods: Counter[str] = field(default_factory=Counter)


@pytest.fixture
async def gated(anvil: Anvil) -> AsyncIterator[GatedNode]:
    node = GatedNode()

    async def steer(body: JsonRpc, forward: Forward) -> JsonRpc | web.StreamResponse:
        node.methods[body["method"]] += 1
        if body["method"] == "eth_getLogs" and body["params"][0]["address"] == [
            c.CONDITIONAL_TOKENS
        ]:
            low, high = (int(body["params"][0][k], 16) for k in ("fromBlock", "toBlock"))
            refused = node.refuse_from is not None and low >= node.refuse_from
            node.ctf_ranges.append((low, high, refused))
            if refused:
                return web.Response(status=503, text="upstream unavailable")
        return await forward(body)

    async with node_in_front(anvil, steer) as node.url:
        yield node


async def sync_checkpoint(pool: asyncpg.Pool) -> int | None:
    async with pool.acquire() as conn:
        cp = await get_checkpoint(conn, 137, CONDITIONS_STREAM)
    return cp.block_number if cp else None


async def test_the_condition_sync_maps_old_markets_and_resumes_after_a_stop(
    anvil: Anvil, gated: GatedNode, pool: asyncpg.Pool
) -> None:
    await anvil.emit(condition_preparation(1))  # block 1
    await anvil.mine(3)  # blocks 2-4
    await anvil.emit(condition_preparation(3))  # block 5
    await anvil.mine(1)  # block 6

    # The listener's first life: no sync, its stream starts at block 7.
    first = make_settings(anvil.ws_url, START_BLOCK=7, CONDITION_SYNC=False)
    listener = Listener(pool, first)
    async with running(listener):
        await wait_until(streaming(listener), what="streaming")
        await anvil.emit(order_filled_v2(order_hash=1, token_id=token_of(1, 0)))
        await anvil.emit(order_filled_v2(order_hash=2, token_id=token_of(3, 1)))
        await wait_until(count_is(pool, 2), what="two fills")
    assert await markets(pool) == [(None, None), (None, None)]

    # Second life with the sync, over a node that fails from block 4 on: it gets half-way.
    settings = make_settings(
        anvil.ws_url,
        START_BLOCK=7,
        POLYGON_HTTP_URL=gated.url,
        CONDITION_SYNC_FROM_BLOCK=0,
        CONDITION_SYNC_MAX_BLOCKS=2,
    )
    gated.refuse_from = 4
    listener = Listener(pool, settings)
    async with running(listener) as task:

        async def half_way() -> bool:
            return await sync_checkpoint(pool) == 3 and any(r for *_, r in gated.ctf_ranges)

        await wait_until(half_way, what="the sync to stop at block 3")
        await wait_until(
            markets_are(pool, [(condition_of(1), 0), (None, None)]), what="market 1 back-filled"
        )
        assert not task.done() and not listener.state.conditions_synced
    plan = await pool.fetchrow("SELECT from_block, to_block FROM orderflow_condition_sync")
    assert plan["from_block"] == 0 and plan["to_block"] >= 7

    # Third life: the node is fine again; the sync resumes at block 4, not at 0.
    gated.refuse_from = None
    gated.ctf_ranges.clear()
    listener = Listener(pool, settings)
    async with running(listener) as task:

        async def synced() -> bool:
            return listener.state.conditions_synced

        await wait_until(synced, what="the sync to complete")
        await wait_until(
            markets_are(pool, [(condition_of(1), 0), (condition_of(3), 1)]),
            what="market 3 back-filled",
        )
        assert not task.done()
    assert gated.ctf_ranges[0][:2] == (4, 5)
    assert await sync_checkpoint(pool) == plan["to_block"]
    assert await pool.fetchval("SELECT completed_at IS NOT NULL FROM orderflow_condition_sync")
    conditions = await pool.fetch("SELECT condition_id, timestamp FROM orderflow_conditions")
    assert {r["condition_id"] for r in conditions} == {condition_of(1), condition_of(3)}

    # A later start does nothing more.
    listener = Listener(pool, settings)
    async with running(listener):
        await wait_until(synced, what="the sync to find itself complete")
    assert gated.ctf_ranges[-1][:2] != (0, 1)


async def test_the_sync_costs_one_getlogs_per_range_and_headers_only_near_its_end(
    anvil: Anvil, gated: GatedNode, pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    """The request count docs/listener.md extrapolates to mainnet, measured."""
    for q in range(6):  # blocks 1-6: deep history as seen from the sync's end
        await anvil.emit(condition_preparation(10 + q))
    await anvil.mine(400)  # blocks 7-406
    await anvil.emit(condition_preparation(20))  # block 407: within the reorg window of the end
    await anvil.emit(condition_resolution(10))  # block 408
    target = await anvil.head()
    async with pool.acquire() as conn:  # the listener's stream starts at the target
        await store_batch(
            conn,
            decode_batch([], 137),
            chain_id=137,
            checkpoint=Checkpoint(STREAM, target),
        )
    settings = make_settings(
        anvil.ws_url, CONDITION_SYNC_FROM_BLOCK=0, CONDITION_SYNC_MAX_BLOCKS=100
    )
    transport = HttpTransport(gated.url)
    try:
        sync = ConditionSync(pool, EthClient(transport), settings, metrics=IngestMetrics())
        with caplog.at_level(logging.INFO, logger="orderflow.progress"):
            report = await sync.run()
    finally:
        await transport.aclose()
    assert report is not None
    # Its progress (orderflow.progress): a line after the first range, a final one at the end.
    lines = [r for r in caplog.records if r.name == "orderflow.progress"]
    assert lines[0].getMessage().startswith(f"condition sync: 100 / {target + 1:,} blocks (")
    assert (lines[0].__dict__["to_block"], lines[0].__dict__["done"]) == (99, 100)
    assert lines[-1].__dict__["done"] == lines[-1].__dict__["total"] == target + 1
    assert lines[-1].__dict__["eta_secs"] == 0 and "(100.0 %) in " in lines[-1].getMessage()
    assert (report.conditions, report.resolutions) == (7, 1)
    ranges = -(-(target + 1) // 100)  # blocks 0..target in ranges of 100
    assert gated.methods == Counter(eth_getLogs=ranges, eth_getBlockByNumber=2)
    assert await pool.fetchval("SELECT count(*) FROM orderflow_tokens") == 14


async def test_started_at_the_head_after_a_market_was_created_every_fill_gets_its_market(
    anvil: Anvil, pool: asyncpg.Pool
) -> None:
    """No START_BLOCK, default sync start: on a chain younger than the CTF's mainnet
    deployment block (a local node with the contracts deployed anew) the sync reads from 0."""
    await anvil.emit(condition_preparation(5))  # the market exists before the listener
    await anvil.emit(order_filled_v2(order_hash=1, token_id=token_of(5, 0)))  # never stored
    settings = make_settings(anvil.ws_url, START_BLOCK=None)
    assert settings.condition_sync_from_block == c.CTF_DEPLOY_BLOCK
    listener = Listener(pool, settings)
    async with running(listener) as task:
        await wait_until(streaming(listener), what="streaming")
        await anvil.emit(order_filled_v2(order_hash=2, token_id=token_of(5, 1)))
        await anvil.emit(order_filled_v2(order_hash=3, token_id=token_of(5, 0)))

        async def synced() -> bool:
            return listener.state.conditions_synced

        await wait_until(synced, what="the condition sync")
        market = condition_of(5)
        await wait_until(markets_are(pool, [(market, 1), (market, 0)]), what="both mapped")
        assert not task.done()
    plan = await pool.fetchrow("SELECT from_block, to_block FROM orderflow_condition_sync")
    assert plan["from_block"] == 0 and plan["to_block"] >= 2
