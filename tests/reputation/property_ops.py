"""The operations of ``test_incremental_property``'s random histories: what the chain and the
listener do to the stored data (fills, complete sets, resolutions, a reorg's rollback, a block
retracted, a leg added, an import's wrong amount and the node's logs replacing it, the older
partition detached and attached again), each applied to every database of a
:class:`~tests.reputation.property_world.Sim` (None: nothing to act on); and :func:`compare`,
the incremental database against the fully scored one. Test helpers only."""

from __future__ import annotations

from typing import Any

from orderflow.chain import partitions
from orderflow.chain.decode import decode_batch
from orderflow.chain.ingest import ingest_logs
from orderflow.chain.rollback import retract_block, rollback_from
from orderflow.chain.store import store_batch
from orderflow.reputation import compute_scores, run_reputation
from tests.reputation.property_world import (
    DAY,
    EVENT,
    HOUR,
    OLDER,
    PARTITION_1,
    Fill,
    Sim,
    block_of,
    trade,
)
from tests.reputation.test_incremental_run import _ISSUES, close, persisted
from tests.reputation.test_incremental_sums import assert_sums_match, same_scores

_WASH = "SELECT * FROM orderflow_reputation_wash ORDER BY 1, 2"


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
            trade(
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
            trade(sim, at, who, market, outcome, sim.rng.uniform(20, 400), maker=other)
        else:
            trade(sim, at, who, market, outcome, sim.rng.uniform(5, 300))
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
        trade(sim, t + 4 * k, who, leg, 0, 100.0, price=round(0.9 / len(legs), 2))
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
    return block_of(PARTITION_1) if sim.detached else 0


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
    trade(
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
    if sim.clock < PARTITION_1 + HOUR:  # the newest partition is never detached
        return None
    # What a run computed from fills later detached stays what it was (detached_lines,
    # detached_void): a run that never saw them cannot know it. Each database is scored its own
    # way just before (and compared), so both saw the same fills. Once attached again, the sums
    # equal the trades (a delete while detached recomputed its key's first fill from the
    # attached fills only: tests/reputation/test_detach_sums.py). Deletes while detached only
    # with ``deletes_detached``: test_deletes_while_detached.
    await compare(sim)
    if sim.detached:
        await sim.each(lambda conn: partitions.attach(conn, OLDER))
        for pool in sim.pools:
            await assert_sums_match(pool, counters=False)
    else:
        await sim.each(lambda conn: partitions.detach(conn, OLDER))
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
# detached).
OPS_DETACH = [*OPS, (op_partition, 1)]
