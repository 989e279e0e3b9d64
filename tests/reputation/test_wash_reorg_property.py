"""A randomized property: with wash pairs and rings, the incremental run equals a full recompute.

The world of ``test_incremental_property`` (three dozen wallets, eight binary markets, a neg-risk
event), with two wash pairs (one wallet buying from the other far off the market, others trading
around them at the market) and two round-trip rings (every member buying from the others at
the market and selling back). A random sequence of what the chain and the listener do: fills
(the honest population's, a pair's, a ring's), fills stamped hours before ones already stored,
resolutions stamped before fills already stored (both arriving late: blocks below the stored
ones), a reorg's rollback (``rollback_from``, some orphaned transactions stored again), a block
retracted (``retract_block``). After every step an incremental run on the first database and a
full recompute on the second store the same figures, scores, tiers, flags, problems and
counterparty evidence. The counterparty cells are updated, never rebuilt
(``wash_state.REBUILD_SHARE``). Fixed seeds: deterministic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import asyncpg
import pytest

from orderflow.reputation import wash_state
from tests.reputation.property_ops import compare, op_resolve, op_retract, op_rollback, op_trades
from tests.reputation.property_world import HOUR, Sim, block_of, make_world, trade
from tests.reputation.test_incremental_sums import assert_sums_match
from tests.reputation.test_wash_reorg import updated_runs

SEEDS = [1, 2, 3, 4]
STEPS = 16


@dataclass
class WashSim(Sim):
    pairs: list[tuple[str, str]] = field(default_factory=list)  # (showcase, partner)
    rings: list[list[str]] = field(default_factory=list)
    fair: dict[int, float] = field(default_factory=dict)  # a binary market's price


def _fair(sim: WashSim, market: int) -> float:
    """The market's price, drifting a little each time it is read."""
    p = sim.fair.get(market, sim.rng.uniform(0.2, 0.8))
    sim.fair[market] = min(0.9, max(0.1, p + sim.rng.uniform(-0.03, 0.03)))
    return sim.fair[market]


def _binary_open(sim: WashSim) -> list[int]:
    return [i for i in sim.open_markets() if i not in sim.legs]


def _at_market(sim: WashSim, t: float, market: int, who: str, **kw: object) -> None:
    """``who`` buys about 50 shares of outcome 0 at the market's price."""
    p = round(_fair(sim, market), 2)
    trade(sim, t, who, market, 0, sim.rng.uniform(20, 80), price=p, **kw)


def _wash(sim: WashSim, t: float, markets: list[int]) -> str | None:
    if not markets:
        return None
    showcase, partner = sim.rng.choice(sim.pairs)
    market = sim.rng.choice(markets)
    honest = [x for x in sim.wallets if x not in {showcase, partner}]
    n = sim.rng.randint(1, 2)  # around wash_min_fills (3) over a few steps
    for k in range(n):
        at = t + 300 * k
        _at_market(sim, at - 120, market, sim.rng.choice(honest))
        p = _fair(sim, market)
        off = round(min(0.95, p + 0.3) if p < 0.5 else max(0.05, p - 0.3), 2)
        size = sim.rng.uniform(100, 400)
        trade(sim, at, showcase, market, 0, size, price=off, maker=partner)
        _at_market(sim, at + 120, market, sim.rng.choice(honest))
    return f"wash pair {showcase[-4:]}/{partner[-4:]} x{n} in {market}"


def _ring(sim: WashSim, t: float, markets: list[int]) -> str | None:
    """A few fills between members of a ring at the market, most sold back; the sizes from a
    few round figures (pairs of equal volume: the top members' tie-break by address)."""
    if not markets:
        return None
    ring = sim.rng.choice(sim.rings)
    market = sim.rng.choice(markets)
    n = sim.rng.randint(2, 8)
    for k in range(n):
        taker, maker = sim.rng.sample(ring, 2)
        p = round(_fair(sim, market), 2)
        shares = float(sim.rng.choice((50, 100, 150, 200)))
        trade(sim, t + 90 * k, taker, market, 0, shares, price=p, maker=maker)
        if sim.rng.random() < 0.7:  # and sells it back
            trade(sim, t + 90 * k + 30, taker, market, 0, shares, price=p, maker=maker,
                   side="SELL")  # fmt: skip
    return f"ring {ring[0][-4:]} x{n} in {market}"


async def op_wash(sim: WashSim) -> str | None:
    did = _wash(sim, sim.tick(), _binary_open(sim))
    await sim.ingest()
    return did


async def op_ring(sim: WashSim) -> str | None:
    did = _ring(sim, sim.tick(), _binary_open(sim))
    await sim.ingest()
    return did


async def op_late_fills(sim: WashSim) -> str | None:
    """Fills stamped up to a day and a half before the newest stored ones (a lagging source),
    in markets open then: blocks below stored ones, stored after them."""
    t = sim.clock - sim.rng.uniform(0.5, 36) * HOUR
    since = block_of(t)
    markets = [i for i in _binary_open(sim) if sim.made[i] < since]
    if not markets:
        return None
    kind = sim.rng.random()
    if kind < 0.4:
        did = _wash(sim, t, markets)
    elif kind < 0.7:
        did = _ring(sim, t, markets)
    else:
        for k in range(sim.rng.randint(1, 4)):
            _at_market(sim, t + 200 * k, sim.rng.choice(markets), sim.rng.choice(sim.wallets))
        did = "fills"
    await sim.ingest()
    return f"late ({(sim.clock - t) / HOUR:.1f} h): {did}"


async def op_cut(sim: WashSim) -> str | None:
    """A reorg from the block of one of the last day and a half's fills of a wash pair or ring
    (the listener's rollback; some of the orphaned transactions stored again)."""
    wash = {w for pair in sim.pairs for w in pair} | {w for ring in sim.rings for w in ring}
    recent = block_of(sim.clock - 36 * HOUR)
    blocks = sorted({f.block for f in sim.fills if f.who in wash and f.block >= recent})
    if not blocks:
        return None
    return await op_rollback(sim, since=sim.rng.choice(blocks))


async def op_late_resolve(sim: WashSim) -> str | None:
    """A binary market's resolution stamped before fills already stored (after its own last
    fill), stored now."""
    markets = _binary_open(sim)
    if not markets:
        return None
    market = sim.rng.choice(markets)
    last = max((f.block for f in sim.fills if f.market == market), default=sim.made[market])
    block = sim.rng.randint(last + 1, max(last + 1, block_of(sim.clock)))
    t = 2.0 * (block - 1_000_000)
    sim.w.chain.resolve(sim.markets[market], t, sim.rng.randrange(2))
    sim.resolved[market] = block_of(t)
    sim.did(("resolved", market, sim.resolved[market]))
    await sim.ingest()
    return f"late resolve {market} ({(sim.clock - t) / HOUR:.1f} h)"


OPS = [
    (op_trades, 3),
    (op_wash, 3),
    (op_ring, 3),
    (op_late_fills, 3),
    (op_resolve, 1),
    (op_late_resolve, 1),
    (op_rollback, 2),
    (op_cut, 3),
    (op_retract, 1),
]


async def _world(seed: int, pools: list[asyncpg.Pool]) -> WashSim:
    base = await make_world(seed, pools)
    sim = WashSim(**{f.name: getattr(base, f.name) for f in fields(Sim)})
    members = sim.rng.sample(sim.wallets, 13)
    # two wash pairs sharing a showcase (a third wallet its partner too), rings of 5 and 4
    # (more members than wash_top_k = 3: a pair's volume decides who is a top member)
    sim.pairs = [(members[0], members[1]), (members[0], members[2]), (members[3], members[1])]
    sim.rings = [members[4:9], members[9:13]]
    for k in range(6):  # the pairs and rings trade from the start
        t = sim.tick()
        (_wash if k % 2 == 0 else _ring)(sim, t, _binary_open(sim))
        for j in range(3):
            _at_market(sim, t + 900 + 60 * j, sim.rng.choice(_binary_open(sim)),
                       sim.rng.choice(sim.wallets))  # fmt: skip
    await sim.ingest()
    return sim


@pytest.mark.parametrize("seed", SEEDS)
async def test_wash_history_incremental_equals_full(
    pool: asyncpg.Pool, other_pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    monkeypatch.setattr(wash_state, "REBUILD_SHARE", math.inf)
    updated = await updated_runs(monkeypatch)
    sim = await _world(seed, [pool, other_pool])
    await compare(sim)
    ops, weights = zip(*OPS, strict=True)
    seen = [await _evidence(pool)]
    for step in range(STEPS):
        op = sim.rng.choices(ops, weights)[0]
        did = await op(sim) or await op_trades(sim) or "nothing open"
        sim.log.append(f"{step}: {did}")
        await compare(sim)
        seen.append(await _evidence(pool))
    # the incremental database's runs: the first a full one, the others updated the cells
    assert updated.count(True) >= STEPS - 1, (updated, sim.log)
    await assert_sums_match(pool, counters=False)
    # wash evidence compared: hosted members and off-market fills, at some steps
    assert max(h for h, _ in seen) > 0 and max(o for _, o in seen) > 0, (seen, sim.log)


async def _evidence(pool: asyncpg.Pool) -> tuple[int, int]:
    """The stored rows with a host, with off-market fills."""
    row = await pool.fetchrow(
        "SELECT count(*) FILTER (WHERE host IS NOT NULL) AS hosted,"
        " count(*) FILTER (WHERE off_fills > 0) AS off FROM orderflow_reputation_wash"
    )
    return int(row["hosted"]), int(row["off"])
