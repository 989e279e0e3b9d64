"""A randomized property: the incremental run equals a full recompute on the same data.

A small world (three dozen wallets, eight binary markets, one neg-risk event of three legs)
goes through a random sequence of what the chain and the listener do to the stored data: fills
(BUYs, SELLs of what a wallet holds, a complete set bought at once, two wallets trading with
each other), resolutions (the event's legs together: exactly one YES wins), a reorg's rollback
(``rollback_from``; sometimes the orphaned logs stored again), a block retracted
(``retract_block``), a leg added to the event, an import storing a fill wrong and the node's
logs replacing it (``store_batch(..., authoritative=True)``), the older partition detached and
attached again. Every operation is applied to two databases; the first is scored incrementally
after some steps and never fully, the second only by full runs at the checkpoints, where every
persisted figure, score, tier, flag, factor and problem must agree. Fixed seeds: deterministic.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest

from orderflow.chain import partitions
from orderflow.chain.decode import decode_batch
from orderflow.chain.ingest import ingest_logs
from orderflow.chain.rollback import retract_block, rollback_from
from orderflow.chain.store import store_batch
from orderflow.reputation import compute_scores, run_reputation
from tests.reputation.chainbook import Market
from tests.reputation.population import World
from tests.reputation.test_incremental_run import _ISSUES, close, persisted
from tests.reputation.test_incremental_sums import assert_sums_match, same_scores

SEEDS = [1, 2, 3, 4, 5]
STEPS = 30
CHECKPOINTS = {10, 20}
HOUR = 3600.0
DAY = 86_400.0
EVENT = 77
_OLDER = "orderflow_trades_p0000"
# Chain time of partition 1's first block (1,296,000 blocks of 2 s from block 1,000,000).
_PARTITION_1 = 2.0 * (1_296_000 - 1_000_000)
_WASH = "SELECT * FROM orderflow_reputation_wash ORDER BY 1, 2"


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


# -- operations --------------------------------------------------------------------------------


def _trade(
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


async def op_trades(sim: Sim) -> str | None:
    t = sim.tick()
    markets = sim.open_markets()
    if not markets:
        return None
    n = sim.rng.randint(1, 6)
    for k in range(n):
        market, who = sim.rng.choice(markets), sim.rng.choice(sim.wallets)
        outcome = sim.rng.randrange(2)
        held = sim.held(who, market, outcome)
        at = t + 7 * k
        if held > 1 and sim.rng.random() < 0.35:
            _trade(
                sim,
                at,
                who,
                market,
                outcome,
                round(held * sim.rng.uniform(0.2, 1.0), 2),
                side="SELL",
            )
        elif sim.rng.random() < 0.15:  # with another wallet of the population as the maker
            other = sim.rng.choice([x for x in sim.wallets if x != who])
            _trade(sim, at, who, market, outcome, sim.rng.uniform(20, 400), maker=other)
        else:
            _trade(sim, at, who, market, outcome, sim.rng.uniform(5, 300))
    await sim.ingest()
    return f"trades x{n}"


async def op_set(sim: Sim) -> str | None:
    """YES on every open leg of the event within a minute (a complete set if none is missing)."""
    t = sim.tick()
    legs = [i for i in sim.legs if i in sim.made and i not in sim.resolved]
    if not legs:
        return None
    who = sim.rng.choice(sim.wallets)
    for k, leg in enumerate(legs):
        _trade(sim, t + 4 * k, who, leg, 0, 100.0, price=round(0.9 / len(legs), 2))
    await sim.ingest()
    return f"set of {len(legs)} by {who[-4:]}"


async def op_resolve(sim: Sim) -> str | None:
    t = sim.tick()
    binary = [i for i in sim.open_markets() if i not in sim.legs]
    legs = [i for i in sim.legs if i in sim.made and i not in sim.resolved]
    if legs and (not binary or sim.rng.random() < 0.3):
        win = sim.rng.choice(legs)
        for k, leg in enumerate(legs):
            sim.w.chain.resolve(sim.markets[leg], t + 2 * k, 0 if leg == win else 1)
            sim.resolved[leg] = block_of(t + 2 * k)
            sim.did(("resolved", leg, sim.resolved[leg]))
        await sim.ingest()
        return f"resolve event ({len(legs)} legs)"
    if not binary:
        return None
    market = sim.rng.choice(binary)
    sim.w.chain.resolve(sim.markets[market], t, sim.rng.randrange(2))
    sim.resolved[market] = block_of(t)
    sim.did(("resolved", market, sim.resolved[market]))
    await sim.ingest()
    return f"resolve {market}"


def _forget(sim: Sim, gone: Any) -> list[dict[str, Any]]:
    """Drop from the model what the blocks ``gone(block)`` held; the logs they held."""
    sim.fills = [f for f in sim.fills if not gone(f.block)]
    sim.resolved = {m: b for m, b in sim.resolved.items() if not gone(b)}
    sim.made = {m: b for m, b in sim.made.items() if not gone(b)}
    taken = [log for b, log in sim.ingested if gone(b)]
    sim.ingested = [(b, log) for b, log in sim.ingested if not gone(b)]
    return taken


def _attached_from(sim: Sim) -> int:
    """The first block a delete may reach: while the older partition is detached, its blocks
    are out of the chain's reach (a reorg or a retraction is of recent blocks)."""
    return block_of(_PARTITION_1) if sim.detached else 0


def _no_delete(sim: Sim) -> bool:
    return sim.detached and not sim.deletes_detached  # see op_partition


async def op_rollback(sim: Sim, since: int | None = None) -> str | None:
    """A reorg from ``since`` (default: a random block of the last 12 hours)."""
    if _no_delete(sim):
        return None
    if since is None:
        since = block_of(sim.clock) - int(sim.rng.uniform(0, 12 * HOUR) // 2)
    since = max(since, _attached_from(sim))
    await sim.each(lambda conn: rollback_from(conn, 137, since))
    taken = _forget(sim, lambda b: b >= since)
    again = ""
    if taken and sim.rng.random() < 0.5:  # the new branch holds some of the same transactions
        keep = [log for log in taken if sim.rng.random() < 0.6]
        txs = {log["transactionHash"] for log in keep}
        logs = [log for log in taken if log["transactionHash"] in txs]
        for pool in sim.pools:
            await ingest_logs(pool, logs, chain_id=137)
        sim.ingested += [(int(log["blockNumber"], 16), log) for log in logs]
        _replay(sim, logs)
        again = f", {len(txs)} txs stored again"
    return f"rollback from {since} ({len(taken)} logs{again})"


def _replay(sim: Sim, logs: list[dict[str, Any]]) -> None:
    """Put back in the model what the transactions of logs stored again did."""
    for tx in dict.fromkeys(log["transactionHash"] for log in logs):
        for effect in sim.by_tx.get(tx, []):
            if isinstance(effect, Fill):
                sim.fills.append(effect)
            elif effect[0] == "resolved":
                sim.resolved[effect[1]] = effect[2]
            else:
                sim.made[effect[1]] = effect[2]


async def op_retract(sim: Sim) -> str | None:
    if _no_delete(sim):
        return None
    since = max(block_of(sim.clock - 2 * DAY), _attached_from(sim) - 1)
    recent = sorted({b for b, _ in sim.ingested if b > since})
    if not recent:
        return None
    block = sim.rng.choice(recent)
    stats = await sim.each(lambda conn: retract_block(conn, 137, block, f"0x{block:064x}"))
    _forget(sim, lambda b: b == block)
    return f"retract {block} ({stats.trades} trades)"


async def op_leg(sim: Sim) -> str | None:
    if len(sim.legs) >= 5:
        return None
    t = sim.tick()
    leg = len(sim.legs)
    sim.legs.append(len(sim.markets))
    sim.made[len(sim.markets)] = block_of(t)
    sim.markets.append(sim.w.chain.market(t, event=EVENT, leg=leg))
    sim.did(("made", sim.legs[-1], block_of(t)))
    await sim.ingest()
    return f"leg {leg}"


def _other_amount(raw: dict[str, Any]) -> dict[str, Any]:
    data = raw["data"][2:]
    words = [data[i : i + 64] for i in range(0, len(data), 64)]
    words[2] = f"{int(words[2], 16) * 7 // 10 + 1:064x}"  # the maker amount
    return {**raw, "data": "0x" + "".join(words)}


async def op_import(sim: Sim) -> str | None:
    """An import stores a maker's fill with a wrong amount; the node's logs come later."""
    t = sim.tick()
    markets = sim.open_markets()
    if not markets:
        return None
    _trade(
        sim,
        t,
        sim.rng.choice(sim.wallets),
        sim.rng.choice(markets),
        sim.rng.randrange(2),
        sim.rng.uniform(10, 200),
    )
    logs = [log for _, log in sim.w.chain.logs]
    sim.w.chain.logs.clear()
    wrong = [_other_amount(logs[0]), *logs[1:]]
    for pool in sim.pools:
        await ingest_logs(pool, wrong, chain_id=137)
    sim.ingested += [(int(log["blockNumber"], 16), log) for log in logs]
    sim.owed.append(logs)
    return "import with a wrong amount"


async def op_node(sim: Sim) -> str | None:
    if _no_delete(sim):
        return None
    if not sim.owed or int(sim.owed[0][0]["blockNumber"], 16) < _attached_from(sim):
        return None
    logs = sim.owed.pop(0)
    if int(logs[0]["blockNumber"], 16) not in {b for b, _ in sim.ingested}:
        return "node: its block rolled back"
    stats = await sim.each(
        lambda conn: store_batch(conn, decode_batch(logs, 137), chain_id=137, authoritative=True)
    )
    return f"node replaces {stats.replaced_trades} trades"


async def op_partition(sim: Sim) -> str | None:
    if sim.clock < _PARTITION_1 + HOUR:  # the newest partition is never detached
        return None
    # What a run computed from fills later detached stays what it was (detached_lines,
    # detached_void): a run that never saw them cannot know it. Each database is scored its own
    # way just before (and compared), so both saw the same fills. Once attached again, the sums
    # equal the trades (a delete while detached recomputed its key's first fill from the
    # attached fills only: tests/reputation/test_detach_sums.py). Deletes while detached only
    # with ``deletes_detached``: test_deletes_while_detached.
    await compare(sim)
    if sim.detached:
        await sim.each(lambda conn: partitions.attach(conn, _OLDER))
        for pool in sim.pools:
            await assert_sums_match(pool, counters=False)
    else:
        await sim.each(lambda conn: partitions.detach(conn, _OLDER))
    sim.detached = not sim.detached
    return "detach" if sim.detached else "attach"


OPS = [
    (op_trades, 8),
    (op_set, 2),
    (op_resolve, 2),
    (op_rollback, 2),
    (op_retract, 1),
    (op_leg, 1),
    (op_import, 1),
    (op_node, 1),
]
# With the older partition detached and attached (resolutions, legs and fills while it is
# detached): the seeds of 1-21 where the run after an attach differed from a full one.
OPS_DETACH = [*OPS, (op_partition, 1)]
DETACH_SEEDS = [4, 6, 9, 18]


async def compare(sim: Sim) -> None:
    """Incremental on the first database, full on the second: the same figures."""
    inc, ref = sim.pools
    await run_reputation(inc)
    full = await run_reputation(ref, full=True)
    assert not full.incremental
    where = "; ".join(sim.log)  # the operations so far, in a failure's message
    try:
        close(await persisted(inc), await persisted(ref))
    except AssertionError as e:
        raise AssertionError(f"{e} after {where}") from e
    assert await inc.fetch(_ISSUES) == await ref.fetch(_ISSUES), where
    same_scores(await compute_scores(inc), await compute_scores(ref))
    assert [tuple(r) for r in await inc.fetch(_WASH)] == [tuple(r) for r in await ref.fetch(_WASH)]


async def _random_history(
    pool: asyncpg.Pool,
    reference: asyncpg.Pool,
    seed: int,
    operations: list[Any],
    deletes_detached: bool = False,
) -> None:
    sim = await make_world(seed, [pool, reference])
    sim.deletes_detached = deletes_detached
    ops, weights = zip(*operations, strict=True)
    runs = 0
    for step in range(STEPS):
        op = sim.rng.choices(ops, weights)[0]
        # an operation with nothing to act on: fills instead
        did = await op(sim) or await op_trades(sim) or "nothing open"
        sim.log.append(f"{step}: {did}")
        if step in CHECKPOINTS:
            await compare(sim)
        elif sim.rng.random() < 0.3:
            await run_reputation(pool)
            runs += 1
    await compare(sim)
    assert runs > 0
    if not sim.detached:
        await assert_sums_match(pool, counters=False)


@pytest.mark.parametrize("seed", SEEDS)
async def test_random_operations_incremental_equals_full(
    pool: asyncpg.Pool, other_pool: asyncpg.Pool, seed: int
) -> None:
    await _random_history(pool, other_pool, seed, OPS)


@pytest.mark.parametrize("seed", DETACH_SEEDS)
async def test_detached_partition_attached_again(
    pool: asyncpg.Pool, other_pool: asyncpg.Pool, seed: int
) -> None:
    """With the partition operation: compared equal just before each attach (seed 18: detached
    since step 15; a leg added, a market and the event resolved meanwhile), the incremental run
    right after the attach and a full run agree (the run after an attach is a full one)."""
    await _random_history(pool, other_pool, seed, OPS_DETACH)


@pytest.mark.parametrize("seed", [9, 18, 21])
async def test_deletes_while_detached(
    pool: asyncpg.Pool, other_pool: asyncpg.Pool, seed: int
) -> None:
    """Rollbacks, retractions and replacements of attached fills while the older partition is
    detached (seeds 9, 18 and 21 of 1-21 differed). Seed 9: step 8's rollback took every fill of
    partition 1, so a token whose fills left are all detached has no mark from the trades; the
    incremental database had stored the mark of a fill the rollback then deleted (0.89), the
    reference the partition's own (0.70): ``unrealized_pnl`` -177.61 against -196.61. A stored
    mark is now kept only while its fill's block is in no attached partition (detached_lines
    .MARKS), the newest such one kept beside the attached fills' mark. Seed 21 (a strict xfail
    until 7 Dec 2026): a closing line. A resolved token with detached fills and two attached
    ones (blocks 1326833 and 1337460, both at 0.30) had ``prev_price`` None stored by an
    incremental run while the partition was detached (its window read attached fills only) and
    kept at every later run, since its fills in the sums outnumber its attached ones; the
    reference read 0.3 (wallet ...a0005214's ``factor_figures`` index 47, ``resid_se``: 0.0
    against 1.5275). A stored line is now kept only while a block it read (its newest fill's or
    its oldest's: ``close_block``, ``line_from``) is detached (detached_lines.KEEP)."""
    await _random_history(pool, other_pool, seed, OPS_DETACH, deletes_detached=True)
