"""A fill deleted while an older partition holding fills of the same (wallet, token) is detached
(a reorg's rollback, a retracted block, the node's logs replacing an import) re-bounds its key's
sums from the attached fills only: the key's first fill (``first_at``, ``taker_first_at``), its
market and outcome. Attached again, the partition's fills are among the trades and the sums must
be theirs too (``orderflow.chain.partitions.attach`` takes the partition's bounds into them).

Found by ``test_incremental_property`` (seed 18 with deletes while detached: ``first_at``
23 May 22:11 in the trades, 24 May 14:48 stored)."""

from __future__ import annotations

import asyncpg

from orderflow.chain import partitions
from orderflow.chain.rollback import rollback_from
from orderflow.reputation import run_reputation
from tests.reputation.population import World
from tests.reputation.test_incremental_run import close, persisted
from tests.reputation.test_incremental_sums import assert_sums_match

# Chain time of partition 1's first block (1,296,000 blocks of 2 s from block 1,000,000).
_PARTITION_1 = 2.0 * (1_296_000 - 1_000_000)
_OLDER = "orderflow_trades_p0000"
_FIRST = """SELECT first_at, taker_first_at, last_at, fills FROM orderflow_position_sums
             WHERE wallet_address = $1 AND token_id = $2"""


async def test_a_delete_while_detached_leaves_the_sums_of_the_trades_once_attached(
    pool: asyncpg.Pool,
) -> None:
    w = World(seed=5, markets=0, neg_risk_events=0, favourites=0, makers=2)
    m = w.chain.market(100.0)
    kept, emptied, other = w.new_wallet(), w.new_wallet(), w.new_wallet()
    # in partition 0: each wallet's first fill of the token
    for k, who in enumerate((kept, emptied, other)):
        w.chain.trade(m, _PARTITION_1 - 5000 + k, who, "BUY", 0, 40.0, 0.40, w.maker(), mint=True)
    # in partition 1: one of ``kept`` the reorg leaves, then one of each it takes
    w.chain.trade(m, _PARTITION_1 + 600, kept, "BUY", 0, 10.0, 0.42, w.maker(), mint=True)
    for k, who in enumerate((kept, emptied, other)):
        w.chain.trade(m, _PARTITION_1 + 3600 + k, who, "BUY", 0, 30.0, 0.45, w.maker(), mint=True)
    await w.chain.ingest(pool)
    await run_reputation(pool)
    token = m.tokens[0]
    before = {who: dict(await pool.fetchrow(_FIRST, who, token)) for who in (kept, emptied)}

    async with pool.acquire() as conn:
        await partitions.detach(conn, _OLDER)
        block = await conn.fetchval(
            "SELECT min(block_number) FROM orderflow_trades WHERE wallet_address = $1", emptied
        )
        assert (await rollback_from(conn, 137, block)).trades > 0
        # re-bounded from the attached fills only: ``kept``'s first fill is partition 1's,
        # ``emptied`` has none
        assert (await conn.fetchrow(_FIRST, emptied, token))["first_at"] is None
        await partitions.attach(conn, _OLDER)
    await assert_sums_match(pool, counters=False)
    after = {who: dict(await pool.fetchrow(_FIRST, who, token)) for who in (kept, emptied)}
    for who in (kept, emptied):  # the first fill is partition 0's, as before the detach
        assert after[who]["first_at"] == before[who]["first_at"], who
        assert after[who]["taker_first_at"] == before[who]["taker_first_at"], who
    assert (after[kept]["fills"], after[emptied]["fills"]) == (2, 1)
    # and the run after the attach agrees with a full one
    await run_reputation(pool)
    incremental = await persisted(pool)
    assert not (await run_reputation(pool, full=True)).incremental
    close(await persisted(pool), incremental)
