"""The run after a trades partition is attached again is a full one (``RunSummary.reattached``),
by ``orderflow db partitions attach`` (migration 076's mark) and by hand (a partition new to the
counterparty cells' set holding old ids: ``wash_parts.came_back``).

While the partition was detached, a run read the closing line of a token that resolved
meanwhile from the attached fills alone (its first trade, and so its horizon, is a detached
one) and stored it; attached again, a full run reads it from every fill, and an incremental run
kept the stored line for every token it did not touch. Found by ``test_incremental_property``
(seeds 4, 6, 9, 18 of 1-21 with the partition operation)."""

from __future__ import annotations

import asyncpg
import pytest

from orderflow.chain import partitions
from orderflow.reputation import run_reputation
from tests.reputation.population import World
from tests.reputation.test_incremental_run import close, persisted

# Chain time of partition 1's first block (1,296,000 blocks of 2 s from block 1,000,000).
_P1 = 2.0 * (1_296_000 - 1_000_000)
_OLDER = "orderflow_trades_p0000"


async def _by_hand(pool: asyncpg.Pool, verb: str) -> None:
    async with pool.acquire() as conn:
        span = await partitions.span_blocks(conn)
        for table in partitions.TABLES:
            bounds = f" FOR VALUES FROM (0) TO ({span})" if verb == "ATTACH" else ""
            await conn.execute(f"ALTER TABLE {table} {verb} PARTITION {table}_p0000{bounds}")


@pytest.mark.parametrize("by_hand", [False, True], ids=["cli", "by-hand"])
async def test_the_run_after_an_attach_reads_every_fill(pool: asyncpg.Pool, by_hand: bool) -> None:
    w = World(seed=11, markets=0, neg_risk_events=0, favourites=0, makers=2)
    m = w.chain.market(100.0)
    holder, late = w.new_wallet(), w.new_wallet()
    # the token's first trades in partition 0; partition 1's: one before the full history's
    # horizon (0.8 of the way from the first trade to the resolution), one after it but before
    # the horizon of partition 1's trades alone
    w.chain.trade(m, _P1 - 50_000, holder, "BUY", 0, 200.0, 0.40, w.maker(), mint=True)
    w.chain.trade(m, _P1 + 10_000, late, "BUY", 0, 50.0, 0.50, w.maker(), mint=True)
    w.chain.trade(m, _P1 + 80_000, late, "BUY", 0, 50.0, 0.70, w.maker(), mint=True)
    await w.chain.ingest(pool)
    assert not (await run_reputation(pool)).incremental
    async with pool.acquire() as conn:
        if by_hand:
            await _by_hand(pool, "DETACH")
        else:
            await partitions.detach(conn, _OLDER)
    w.chain.resolve(m, _P1 + 100_000, 0)  # resolved while partition 0 is detached
    await w.chain.ingest(pool)
    assert (await run_reputation(pool)).incremental
    async with pool.acquire() as conn:
        if by_hand:
            await _by_hand(pool, "ATTACH")
        else:
            await partitions.attach(conn, _OLDER)

    run = await run_reputation(pool)
    after = await persisted(pool)
    assert not (await run_reputation(pool, full=True)).incremental
    close(after, await persisted(pool))
    assert run.reattached and run.switched and not run.incremental
    # the mark is taken: the next run is incremental again
    again = await run_reputation(pool)
    assert again.incremental and not again.reattached
