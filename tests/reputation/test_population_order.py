"""The population step reads every wallet's inputs in whatever order the database returns them,
and nothing it computes depends on that order (correctly rounded sums, equal probabilities taken
together): the prior, and every score, are the same bits whatever order ``rep_wallets`` holds its
rows in and whatever ``idx`` they carry (a full run builds it from the wallets statement, an
incremental one scores its stored inputs)."""

from __future__ import annotations

import asyncpg
import numpy as np

from orderflow.reputation import run
from orderflow.reputation.population_step import _host_places, population_step
from orderflow.reputation.scores_sql import DROP_FINAL, SCORE_COLUMNS
from orderflow.reputation.settings import ReputationSettings
from tests.reputation.population import World, edge_taker, noise_taker, skilled_taker

_SCORES = f"""SELECT w.wallet_address, {", ".join(f"s.{c}" for c in SCORE_COLUMNS)}, s.tier, s.flags
                FROM rep_scores s JOIN rep_wallets w ON w.idx = s.idx ORDER BY w.wallet_address"""


async def test_the_population_step_does_not_depend_on_the_rows_order(pool: asyncpg.Pool) -> None:
    w = World(seed=61, markets=30, neg_risk_events=0, makers=3)
    for i in range(40):
        who = w.new_wallet()
        if i % 3 == 0:
            edge_taker(w, who, 6 + i % 5, 0.02 * (i % 7), usd=50.0 + 37.0 * i)
        elif i % 3 == 1:
            skilled_taker(w, who, 5 + i % 4, 0.1 * (i % 5), usd=80.0 + 11.0 * i)
        else:
            noise_taker(w, who, 4 + i % 6, usd=30.0 + 53.0 * i)
    for s in w.specs:
        w.chain.resolve(s.market, s.resolves, s.winner)
    await w.chain.ingest(pool)

    settings = ReputationSettings()
    # (the rows' physical order, the idx each wallet gets)
    orders = (
        ("md5(wallet_address)", "idx"),
        ("wallet_address DESC", "idx"),
        ("idx", "idx"),
        ("md5(wallet_address || 'x')", "(1000 - idx) * 7"),  # other numbers, with gaps
    )
    results = []
    async with pool.acquire() as conn, conn.transaction():
        cutoff = await conn.fetchval("SELECT now()")
        first, _ = await run._build(conn, cutoff, settings)
        results.append((first.prior, [tuple(r) for r in await conn.fetch(_SCORES)]))
        for order, number in orders:
            await conn.execute(DROP_FINAL)
            await conn.execute("DROP TABLE rep_scores")
            # the same rows stored in another physical order, with other idx
            await conn.execute(
                f"CREATE TEMP TABLE rep_shuffled AS SELECT * FROM rep_wallets ORDER BY {order}"
            )
            await conn.execute(f"UPDATE rep_shuffled SET idx = {number}")
            await conn.execute("DELETE FROM rep_wallets")
            await conn.execute("INSERT INTO rep_wallets SELECT * FROM rep_shuffled")
            await conn.execute("DROP TABLE rep_shuffled")
            again = await population_step(conn, settings, run._Stopwatch())
            results.append((again.prior, [tuple(r) for r in await conn.fetch(_SCORES)]))
        await conn.execute(DROP_FINAL)
    assert first.wallets >= 40
    for prior, scores in results[1:]:
        assert prior == results[0][0]  # dataclass equality: the same floats, exactly
        assert scores == results[0][1]


def test_a_hosts_idx_becomes_its_place_in_the_arrays() -> None:
    """``wash_host`` is read as the host's ``idx`` (stored inputs keep their idx, with gaps, in
    any order) and must become the host's place in the arrays numpy scores."""
    idx = np.array([40, 7, 19, 3, 25], dtype=np.int32)
    host = np.array([np.nan, 25.0, 3.0, np.nan, 99.0])  # 99: a host not among these wallets
    places = _host_places(idx, host)
    assert places[1] == 4 and places[2] == 3
    assert np.isnan(places[[0, 3, 4]]).all()
    assert np.isnan(_host_places(idx, np.full(5, np.nan))).all()
