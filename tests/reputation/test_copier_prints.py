"""A print at 1.00 is no buy COPIER copies.

COPIER pairs a follower's taker buy with another wallet's earlier buy of the token in the window
before it "at a price no higher" (orderflow.reputation.copy_sql). A taker buy printed at 1.00 is
no CLOB buy (ticks stop at 0.99 or 0.999): it is a wash or settlement-like print, and every other
reader takes only levels strictly inside (0, 1) (``line_sql.level_sql``). Taken as a buy, it is
priced no lower than any buy before it, so a wallet whose prints at 1.00 come seconds after a
skilled taker's buys "trailed" it in every token and was flagged COPIER of it, whatever it
decided: a flag a user reads on the wallet, for prints nobody could have copied.
"""

from __future__ import annotations

import asyncpg

from orderflow.reputation import run_reputation
from tests.reputation.population import World, noise_taker
from tests.reputation.test_cases import stats
from tests.reputation.test_copiers import _skilled_buy
from tests.reputation.test_void_decisions import _full_equals_incremental


def _printer_world(seed: int) -> tuple[World, str, str, list[int]]:
    """A skilled taker on 40 tokens; another wallet printing at 1.00 on each 4-60 s after it
    (and on 20 more later: the indices of the specs left for an incremental run). The world, the
    skilled taker, the printer, the later specs' indices."""
    w = World(seed=seed, markets=140, neg_risk_events=0)
    for _ in range(20):
        noise_taker(w, w.new_wallet(), 30)
    leader, printer = w.new_wallet(), w.new_wallet()
    binary = [i for i, s in enumerate(w.specs) if not s.market.neg_risk and 0.25 < s.opening < 0.75]
    w.rng.shuffle(binary)
    for i in binary[:40]:
        _lead_and_print(w, i, leader, printer)
    return w, leader, printer, binary[40:60]


def _lead_and_print(w: World, i: int, leader: str, printer: str) -> None:
    s = w.specs[i]
    t, outcome, q = _skilled_buy(w, s)
    w.take(s, t, leader, outcome, 150.0, price=q)
    w.take(s, t + w.rng.uniform(4, 60), printer, outcome, 100.0, price=1.0)


async def test_prints_at_one_trailing_a_leader_are_no_copies(pool: asyncpg.Pool) -> None:
    w, leader, printer, later = _printer_world(seed=81)
    await w.finish(pool)
    assert not (await run_reputation(pool)).incremental
    row = await stats(pool, printer)
    assert "COPIER" not in row["flags"], (row["trader_tier"], row["flags"])
    # nor PENNY_PICKER: its stake above 0.90 is prints at 1.00 (test_penny_prints.py)
    assert row["flags"] == [], (row["trader_tier"], row["flags"])
    assert (await stats(pool, leader))["flags"] == []

    # more such prints later: the incremental run says what a full one says
    for i in later:
        _lead_and_print(w, i, leader, printer)
    await w.chain.ingest(pool)
    assert (await run_reputation(pool)).incremental
    assert "COPIER" not in (await stats(pool, printer))["flags"]
    await _full_equals_incremental(pool)
