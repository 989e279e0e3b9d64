"""Taker fills that are no decision (``evidence_sql.VOID``: after the market's resolution, or
against the wallet's own orders) stay no decision once their partition is detached
(``orderflow.reputation.detached_void``), in an incremental run and in a full run alike.

Fails on the tree before: the wallet that bought the winner from stale orders after the
resolution in 18 markets had no decision (NOVICE) before the detach; after it, a full run read
18 events at an edge of +0.67 a dollar (AVERAGE, 5.05), the incremental run kept NOVICE."""

from __future__ import annotations

import asyncpg
import pytest

from orderflow.reputation import run_reputation
from tests.reputation.population import World, noise_taker
from tests.reputation.test_cases import TOP, stats
from tests.reputation.test_incremental_run import close, persisted
from tests.reputation.test_wash_partitions import _detach

# Chain time of partition 2's first block (2 x 1,296,000 blocks of 2 s from block 1,000,000).
_PARTITION_2 = 2.0 * (2 * 1_296_000 - 1_000_000)


@pytest.mark.parametrize("by_hand", [False, True], ids=["cli", "by-hand"])
async def test_fills_after_the_resolution_stay_no_decisions(
    pool: asyncpg.Pool, by_hand: bool
) -> None:
    w = World(seed=21, markets=150)
    for _ in range(15):
        noise_taker(w, w.new_wallet(), 30)
    # the winner bought at 0.60 from stale orders once its market resolved, in partition 1
    late = w.new_wallet()
    swept = [s for s in w.specs if s.resolves + 600 < _PARTITION_2 - 3600]
    assert len(swept) >= 15
    for s in swept:
        w.take(s, s.resolves + 600, late, s.winner, 300.0, price=0.60)
    await w.finish(pool)
    assert not (await run_reputation(pool)).incremental
    before = await stats(pool, late)
    assert before["events_resolved"] == 0 and before["trader_tier"] == "NOVICE"

    await _detach(pool, by_hand)
    assert (await run_reputation(pool)).incremental
    incremental = await persisted(pool)
    assert not (await run_reputation(pool, full=True)).incremental
    after = await stats(pool, late)
    assert after["trader_tier"] not in TOP, (after["trader_tier"], after["events_resolved"])
    assert (after["events_resolved"], after["trader_tier"]) == (0, "NOVICE")
    close(await persisted(pool), incremental)

    # it sweeps a market of partition 2 too: rescored by the incremental run, its detached
    # sweeps stay no decisions, and a full run agrees
    s = next(s for s in w.specs if s.resolves > _PARTITION_2 + 3600 and s not in swept)
    w.take(s, s.resolves + 600, late, s.winner, 300.0, price=0.60)
    await w.chain.ingest(pool)
    assert (await run_reputation(pool)).incremental
    after = await stats(pool, late)
    assert (after["events_resolved"], after["trader_tier"]) == (0, "NOVICE")
    incremental = await persisted(pool)
    assert not (await run_reputation(pool, full=True)).incremental
    close(await persisted(pool), incremental)
