"""A reorg that lowers a wash pair's volume: the incremental run equals a full recompute.

A host trades only with four partners, the first one's pair topped up by fills in the newest
blocks; an incremental run counts them; then the listener's rollback (``rollback_from``) takes
some of those blocks back, so the first partner falls out of the host's top members and the
fourth comes in. The next incremental run (the counterparty cells updated, not rebuilt) and a
full recompute on the same data store the same counterparty evidence and the same statistics.
"""

from __future__ import annotations

import math

import asyncpg
import pytest

from orderflow.chain.rollback import rollback_from
from orderflow.reputation import ReputationSettings, compute_scores, run_reputation, wash_state
from tests.reputation.chainbook import Market
from tests.reputation.population import World
from tests.reputation.property_world import DAY, HOUR, block_of
from tests.reputation.test_incremental_run import _ISSUES, close, persisted
from tests.reputation.test_incremental_sums import same_scores

_WASH = "SELECT * FROM orderflow_reputation_wash ORDER BY 1, 2"


def _pair(w: World, m: Market, t: float, taker: str, maker: str, fills: int, shares: float) -> None:
    """``taker`` buys from ``maker`` (minting) ``fills`` times, a minute apart, at 0.40 / 0.60."""
    for k in range(fills):
        outcome = k % 2
        price = 0.4 if outcome == 0 else 0.6
        w.chain.trade(m, t + 60 * k, taker, "BUY", outcome, shares, price, maker, mint=True)


async def updated_runs(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Record what each ``wash_state.update`` returned (True: the cells were updated)."""
    seen: list[bool] = []
    real = wash_state.update

    async def spy(*args: object, **kw: object) -> bool:
        out = await real(*args, **kw)  # type: ignore[arg-type]
        seen.append(out)
        return out

    monkeypatch.setattr(wash_state, "update", spy)
    return seen


async def _same_as_full(pool: asyncpg.Pool, settings: ReputationSettings | None = None) -> None:
    """The stored state after an incremental run equals a full recompute's on the same data."""
    wash = [tuple(r) for r in await pool.fetch(_WASH)]
    stats, issues = await persisted(pool), await pool.fetch(_ISSUES)
    scores = await compute_scores(pool, settings=settings)
    full = await run_reputation(pool, settings=settings, full=True)
    assert not full.incremental
    assert [tuple(r) for r in await pool.fetch(_WASH)] == wash
    close(await persisted(pool), stats)
    assert await pool.fetch(_ISSUES) == issues
    same_scores(await compute_scores(pool, settings=settings), scores)


async def test_reorg_brings_a_partner_into_the_top_members(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The host's stored top members are its top 20 (orderflow.reputation.wash_ring_sql.RING_MAX):
    17 fillers, each topped up in the newest blocks too, keep the fourth partner 21st until the
    reorg. So many members hold less of the host's volume than half (its top three: 0.21, then
    0.17): wash_min_share 0.15 here, so that the top three are still a closed group."""
    monkeypatch.setattr(wash_state, "REBUILD_SHARE", math.inf)  # updated, never rebuilt
    settings = ReputationSettings(wash_min_share=0.15)
    updated = await updated_runs(monkeypatch)
    w = World(seed=83, markets=0, neg_risk_events=0, makers=3)
    markets = [w.chain.market(10.0 + k) for k in range(4)]
    takers = [w.new_wallet() for _ in range(8)]
    for k, who in enumerate(takers):  # a market around the group
        for j in range(3):
            m = markets[(k + j) % 4]
            w.chain.trade(m, HOUR * (2 + k + 3 * j), who, "BUY", j % 2, 50.0, 0.5, w.maker())
    host, partners = w.new_wallet(), [w.new_wallet() for _ in range(4)]
    fillers = [w.new_wallet() for _ in range(17)]
    # the partners' volumes with the host: 60, 90, 80, 70 shares (the fourth out of the top 3);
    # the fillers' 65 each
    for n, (p, shares) in enumerate(zip(partners, (20.0, 30.0, 26.67, 23.33), strict=True)):
        _pair(w, markets[n % 2], DAY + HOUR * n, host, p, 3, shares)
    for n, f in enumerate(fillers):
        _pair(w, markets[n % 2], DAY + HOUR * (4 + n), host, f, 3, 21.67)
    for k in (0, 1):
        w.chain.resolve(markets[k], 3 * DAY + k, winner=k)
    await w.chain.ingest(pool)
    first = await run_reputation(pool, settings=settings)
    assert not first.incremental

    # the first partner's pair topped up in the newest blocks: 60 + 120 shares, the top pair;
    # each filler's by 10 shares (75: the fourth partner, 70, is 21st)
    late = 6 * DAY
    _pair(w, markets[2], late, host, partners[0], 2, 60.0)
    for n, f in enumerate(fillers):
        _pair(w, markets[3], late + HOUR + 60 * n, host, f, 1, 10.0)
    w.chain.trade(markets[3], late + 2 * HOUR, takers[0], "BUY", 0, 10.0, 0.5, w.maker())
    await w.chain.ingest(pool)
    second = await run_reputation(pool, settings=settings)
    assert second.incremental
    members = await pool.fetch(
        "SELECT cp FROM orderflow_wash_members WHERE w = $1 ORDER BY cp", host
    )
    cps = [r["cp"] for r in members]
    assert partners[0] in cps and partners[3] not in cps
    before = await pool.fetchrow(
        "SELECT * FROM orderflow_reputation_wash WHERE wallet_address = $1 AND token_id IS NULL",
        partners[3],
    )

    # a reorg takes back the newest blocks: the pair's late fills (60 shares again, below the
    # fourth partner's 70) and the fillers' (65 each)
    async with pool.acquire() as conn:
        assert (await rollback_from(conn, 137, block_of(late))).trades > 0
    third = await run_reputation(pool, settings=settings)
    assert third.incremental
    assert updated[-1] is True, "the counterparty cells were updated, not rebuilt"
    members = await pool.fetch("SELECT cp FROM orderflow_wash_members WHERE w = $1", host)
    cps = [r["cp"] for r in members]
    assert partners[3] in cps and partners[0] not in cps, "the fourth partner is a member now"
    after = await pool.fetchrow(
        "SELECT * FROM orderflow_reputation_wash WHERE wallet_address = $1 AND token_id IS NULL",
        partners[3],
    )
    assert after["host"] == host and (before is None or before["host"] != host)
    await _same_as_full(pool, settings)


async def test_reorg_next_to_a_group_that_is_not_a_ring(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wallet trades mostly with a host whose group is not closed (its two other top members
    make markets for everyone) and is the other side of a third wallet's off-market fills; a
    reorg moves that third wallet's pairs with others. The wallet's row is assembled again (an
    off-market counterparty of a wallet whose sums moved), and with it whether the host's
    group is a ring, which reads all three members' volumes."""
    monkeypatch.setattr(wash_state, "REBUILD_SHARE", math.inf)
    updated = await updated_runs(monkeypatch)
    w = World(seed=84, markets=0, neg_risk_events=0, makers=3)
    markets = [w.chain.market(10.0 + k) for k in range(5)]
    host, wallet, buyer, other = (w.new_wallet() for _ in range(4))
    partners = [w.new_wallet(), w.new_wallet()]
    makers = [w.new_wallet(), w.new_wallet()]
    takers = [w.new_wallet() for _ in range(10)]
    for k, who in enumerate(takers):  # the two makers make markets for everyone
        for j, mk in enumerate(makers):
            w.chain.trade(markets[j], HOUR * (2 + k), who, "BUY", 0, 100.0, 0.5, mk, mint=True)
    # the host's top members: the wallet (100 shares), each maker (150)
    _pair(w, markets[2], DAY, host, wallet, 4, 25.0)
    for j, mk in enumerate(makers):
        _pair(w, markets[3], DAY + HOUR * (1 + j), host, mk, 3, 50.0)
    # the wallet's other partners (20 shares each: its top members with the host)
    for j, p in enumerate(partners):
        _pair(w, markets[3], DAY + HOUR * (4 + j), wallet, p, 2, 10.0)
    # the buyer takes 15 shares from the wallet at 0.90 where the others trade at 0.40
    t = 2 * DAY
    for k in range(3):
        w.chain.trade(markets[4], t + 600 * k - 60, takers[k], "BUY", 0, 20.0, 0.4, w.maker())
        w.chain.trade(markets[4], t + 600 * k, buyer, "BUY", 0, 5.0, 0.9, wallet, mint=True)
        w.chain.trade(markets[4], t + 600 * k + 60, takers[k], "BUY", 0, 20.0, 0.4, w.maker())
    await w.chain.ingest(pool)
    first = await run_reputation(pool)
    assert not first.incremental
    row = await pool.fetchrow(
        "SELECT * FROM orderflow_reputation_wash WHERE wallet_address = $1 AND token_id IS NULL",
        host,
    )
    assert row["counterparty"] is not None and row["counterparty_share"] < 0.5, "not a ring"
    row = await pool.fetchrow(
        "SELECT * FROM orderflow_reputation_wash WHERE wallet_address = $1 AND token_id IS NULL",
        buyer,
    )
    assert row["off_fills"] == 3

    # the buyer trades with another wallet at the market in the newest blocks; a reorg takes
    # some of it back
    late = 6 * DAY
    _pair(w, markets[1], late, buyer, other, 3, 10.0)
    await w.chain.ingest(pool)
    assert (await run_reputation(pool)).incremental
    async with pool.acquire() as conn:
        assert (await rollback_from(conn, 137, block_of(late + 60))).trades > 0
    assert (await run_reputation(pool)).incremental
    assert updated[-1] is True, "the counterparty cells were updated, not rebuilt"
    await _same_as_full(pool)
