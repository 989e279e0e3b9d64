"""The world of ``test_incremental_property`` (three dozen wallets, eight binary markets, a neg-risk
event of three legs) as the chain now holds it: :class:`Sim`, the model its operations
(:mod:`tests.reputation.property_ops`) draw valid steps from, applied to every database of
``pools``; :func:`trade` records a fill in the chain and in the model. Test helpers only."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from orderflow.chain.ingest import ingest_logs
from tests.reputation.chainbook import Market
from tests.reputation.population import World

HOUR = 3600.0
DAY = 86_400.0
EVENT = 77
OLDER = "orderflow_trades_p0000"
# Chain time of partition 1's first block (1,296,000 blocks of 2 s from block 1,000,000).
PARTITION_1 = 2.0 * (1_296_000 - 1_000_000)


def block_of(t: float) -> int:
    return 1_000_000 + int(t) // 2


@dataclass
class Fill:
    block: int
    who: str
    market: int
    outcome: int
    shares: float  # signed: a SELL negative


@dataclass
class Sim:
    """The world as the chain now holds it (what the model needs to draw valid operations)."""

    w: World
    pools: list[asyncpg.Pool]
    clock: float = 6.0 * DAY  # partition 1 starts at 6.85 days
    wallets: list[str] = field(default_factory=list)
    markets: list[Market] = field(default_factory=list)
    legs: list[int] = field(default_factory=list)  # indexes into markets
    made: dict[int, int] = field(default_factory=dict)  # market -> its preparation's block
    resolved: dict[int, int] = field(default_factory=dict)  # market -> resolution block
    fills: list[Fill] = field(default_factory=list)
    ingested: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (block, log)
    owed: list[list[dict[str, Any]]] = field(default_factory=list)  # the node's logs, not stored
    detached: bool = False
    deletes_detached: bool = False  # deletes of attached fills while a partition is detached
    log: list[str] = field(default_factory=list)
    # what each transaction did, to put back when a reorg's new branch holds it again
    by_tx: dict[str, list[Any]] = field(default_factory=dict)

    def did(self, effect: Any) -> None:
        tx = f"0x{0xF0000000 + self.w.chain._tx:064x}"
        self.by_tx.setdefault(tx, []).append(effect)

    @property
    def rng(self) -> random.Random:
        return self.w.rng

    def tick(self) -> float:
        self.clock += self.rng.uniform(0.5, 8.0) * HOUR
        return self.clock

    def open_markets(self) -> list[int]:
        return [i for i in self.made if i not in self.resolved]

    def held(self, who: str, market: int, outcome: int) -> float:
        return sum(
            f.shares for f in self.fills if (f.who, f.market, f.outcome) == (who, market, outcome)
        )

    async def ingest(self) -> None:
        logs = [log for _, log in sorted(self.w.chain.logs, key=lambda x: x[0])]
        self.w.chain.logs.clear()
        for pool in self.pools:
            report = await ingest_logs(pool, logs, chain_id=137)
            assert report.stored.dead_letters == 0, report.summary()
        self.ingested += [(int(log["blockNumber"], 16), log) for log in logs]

    async def each(self, fn: Callable[[asyncpg.Connection], Awaitable[Any]]) -> Any:
        out = None
        for pool in self.pools:
            async with pool.acquire() as conn:
                out = await fn(conn)
        return out


def _price(sim: Sim, market: int, outcome: int) -> float:
    p = round(sim.rng.uniform(0.1, 0.9), 2)
    return p if outcome == 0 else round(1 - p, 2)


async def make_world(seed: int, pools: list[asyncpg.Pool]) -> Sim:
    w = World(seed=seed, markets=0, neg_risk_events=0, favourites=0, makers=3)
    sim = Sim(w, pools)
    sim.wallets = [w.new_wallet() for _ in range(36)]
    for k in range(8):
        sim.markets.append(w.chain.market(100.0 + k))
    for leg in range(3):
        sim.legs.append(len(sim.markets))
        sim.markets.append(w.chain.market(200.0 + leg, event=EVENT, leg=leg))
    sim.made = {i: block_of(100.0 + i if i < 8 else 200.0 + i - 8) for i in range(len(sim.markets))}
    await sim.ingest()
    return sim


def trade(
    sim: Sim, t: float, who: str, market: int, outcome: int, shares: float, **kw: Any
) -> None:
    price = kw.pop("price", None) or _price(sim, market, outcome)
    maker = kw.pop("maker", None) or sim.w.maker()
    side = kw.pop("side", "BUY")
    sim.w.chain.trade(
        sim.markets[market], t, who, side, outcome, shares, price, maker, mint=side == "BUY"
    )
    sign = 1.0 if side == "BUY" else -1.0
    made = [Fill(block_of(t), who, market, outcome, sign * round(shares, 6))]
    if side == "SELL":  # the maker bought what the taker sold
        made.append(Fill(block_of(t), maker, market, outcome, round(shares, 6)))
    for f in made:
        sim.fills.append(f)
        sim.did(f)
