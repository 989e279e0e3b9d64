"""The incremental run finds a larger ring that a partner's later trades close.

A wallet's larger ring (orderflow.reputation.wash_ring_sql) is its heavy partners among its top
20, closed when they trade among themselves. The wallet itself need not trade again for its ring
to close, nor stay among its partners' top 20 (they can meet one another more than it): the
incremental closure must still regroup it. Here a wallet trades with 25 partners, 3 fills each,
and the partners with nobody else: its larger ring is open (no group, its top three hold 3/25).
Then each pair of partners meets once, more than either meets the wallet: the wallet is the 25th
of each partner's counterparties, out of every stored top 20, and its ring is closed. The
partners meet in other markets than the hub's: none of its own sums moves.
"""

from __future__ import annotations

import itertools
import math

import asyncpg
import pytest

from orderflow.reputation import run_reputation, wash_state
from tests.reputation.population import Spec, World
from tests.reputation.test_cases import background
from tests.reputation.test_incremental_run import close, persisted
from tests.reputation.test_incremental_wash import stored_wash_differs

_WASH = "SELECT * FROM orderflow_reputation_wash ORDER BY wallet_address, token_id NULLS FIRST"


def _meet(w: World, specs: list[Spec], a: str, b: str, shares: float) -> None:
    """``a`` buys ``shares`` from ``b`` in one of ``specs`` at the market's price (the exchange
    mints the pair)."""
    s = w.rng.choice(specs)
    t = s.time(w.rng)
    outcome = w.rng.randrange(2)
    w.chain.trade(s.market, t, a, "BUY", outcome, shares, s.price(t, outcome), b, mint=True)


async def _group(pool: asyncpg.Pool, who: str) -> tuple[str, float] | None:
    """The wallet's group as stored: its top counterparty and the group's share, or None."""
    row = await pool.fetchrow(
        "SELECT counterparty, counterparty_share FROM orderflow_reputation_wash"
        " WHERE wallet_address = $1 AND token_id IS NULL AND counterparty IS NOT NULL",
        who,
    )
    return None if row is None else (row["counterparty"], row["counterparty_share"])


async def test_a_ring_closed_by_its_partners_later_trades_is_found_incrementally(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the update, not a rebuild, however large the partners' new trading
    monkeypatch.setattr(wash_state, "REBUILD_SHARE", math.inf)
    w = World(seed=47)
    background(w, wallets=10, events=20)
    # the partners meet in other markets than the hub's (their new fills move no cell of its)
    first, later = w.specs[::2], w.specs[1::2]
    hub = w.new_wallet()
    partners = [w.new_wallet() for _ in range(25)]
    for p in partners:
        for _ in range(3):
            _meet(w, first, hub, p, 100.0)
    await w.finish(pool)
    assert not (await run_reputation(pool)).incremental
    assert await _group(pool, hub) is None, "the hub's ring is open at first"
    # an incremental run (it builds the stored cells the next one updates)
    _meet(w, later, w.new_wallet(), w.new_wallet(), 10.0)
    await w.chain.ingest(pool)
    assert (await run_reputation(pool)).incremental
    assert await pool.fetchval("SELECT valid FROM orderflow_wash_state")

    for a, b in itertools.combinations(partners, 2):
        _meet(w, later, a, b, 400.0)
    await w.chain.ingest(pool)
    assert (await run_reputation(pool)).incremental
    incremental_wash = await pool.fetch(_WASH)
    incremental = await persisted(pool)
    found = await _group(pool, hub)

    assert not (await run_reputation(pool, full=True)).incremental
    full = await _group(pool, hub)
    assert full is not None, "the hub's ring closed"
    assert found == full, "the incremental run regrouped the hub"
    assert await stored_wash_differs(pool, incremental_wash) == 0
    close(await persisted(pool), incremental)
