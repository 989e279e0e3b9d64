"""The stored top members (``orderflow_wash_members``): a wallet's top 20 only where it can have a
larger ring (orderflow.reputation.wash_partials_sql.top_k), its top ``wash_top_k`` otherwise.

A larger ring's partners are pairs among the wallet's top 20 with ``wash_min_fills`` fills or
more, more than ``wash_top_k`` of them (orderflow.reputation.wash_ring_sql). A taker who met 25
wallets once each cannot have one: storing its top 20 made the closure regroup it, and read its
20 partners, whenever one of them traded (the hour's incremental step x2.1-2.2, session 40). Its
pairs reaching the fills make it one, and the update stores its top 20 then.
"""

from __future__ import annotations

import math

import asyncpg
import pytest

from orderflow.reputation import run_reputation, wash_state
from tests.reputation.population import Spec, World
from tests.reputation.test_cases import background
from tests.reputation.test_incremental_run import close, persisted
from tests.reputation.test_incremental_wash import stored_wash_differs

_WASH = "SELECT * FROM orderflow_reputation_wash ORDER BY wallet_address, token_id NULLS FIRST"
_MEMBERS = "SELECT count(*) FROM orderflow_wash_members WHERE w = $1"


def _meet(w: World, specs: list[Spec], a: str, b: str, shares: float) -> None:
    """``a`` buys ``shares`` from ``b`` in one of ``specs`` at the market's price."""
    s = w.rng.choice(specs)
    t = s.time(w.rng)
    outcome = w.rng.randrange(2)
    w.chain.trade(s.market, t, a, "BUY", outcome, shares, s.price(t, outcome), b, mint=True)


async def test_top_twenty_members_only_for_a_possible_larger_ring(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wash_state, "REBUILD_SHARE", math.inf)  # updated, never rebuilt
    w = World(seed=53)
    background(w, wallets=10, events=20)
    first, later = w.specs[::2], w.specs[1::2]
    taker, hub = w.new_wallet(), w.new_wallet()
    once = [w.new_wallet() for _ in range(25)]
    thrice = [w.new_wallet() for _ in range(25)]
    for p in once:  # one fill each: fewer than wash_min_fills (3) with every partner
        _meet(w, first, taker, p, 100.0 + once.index(p))
    for p in thrice:  # three fills each: a larger ring's partners but for their volume
        for _ in range(3):
            _meet(w, first, hub, p, 100.0)
    await w.finish(pool)
    assert not (await run_reputation(pool)).incremental
    _meet(w, later, w.new_wallet(), w.new_wallet(), 10.0)
    await w.chain.ingest(pool)
    assert (await run_reputation(pool)).incremental  # builds the stored cells
    assert await pool.fetchval("SELECT valid FROM orderflow_wash_state")
    assert await pool.fetchval(_MEMBERS, hub) == 20, "the hub can have a larger ring"
    assert await pool.fetchval(_MEMBERS, taker) == 3, "the taker cannot: its top three"

    # four of the taker's partners reach three fills with it: it can have a larger ring now
    for p in once[:4]:
        for _ in range(2):
            _meet(w, later, taker, p, 100.0)
    await w.chain.ingest(pool)
    assert (await run_reputation(pool)).incremental
    assert await pool.fetchval("SELECT valid FROM orderflow_wash_state")
    assert await pool.fetchval(_MEMBERS, taker) == 20, "the update stored its top 20"
    incremental_wash = await pool.fetch(_WASH)
    incremental = await persisted(pool)
    assert not (await run_reputation(pool, full=True)).incremental
    assert await stored_wash_differs(pool, incremental_wash) == 0
    close(await persisted(pool), incremental)
