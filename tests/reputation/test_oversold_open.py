"""Control: an open position that sold more shares than it bought (the rest from a split or a
transfer). The documented rule (``orderflow.accounting.position``, docs/reputation.md "Shares sold
that were never bought through tracked fills"): the excess realizes nothing while the market is
open, as in Polymarket's subgraph -- the replay's sequential book, which
``tests/accounting/test_properties.py::test_agrees_with_the_subgraph_without_fees`` holds to the
subgraph for open positions; at the resolution the excess is judged on the totals. The run's SQL
has only the totals (its stored sums carry no fill order), so while the market is open it
takes the excess's share of every sale (``positions_sql``'s docstring): 1.00 against the
replay's 2.00; resolved, both 1.00. This pins that, and incremental = full on such a position."""

from __future__ import annotations

from decimal import Decimal

import asyncpg

from orderflow.reputation import run_reputation
from orderflow.reputation.per_wallet import wallet_report
from tests.reputation.population import World
from tests.reputation.test_cases import stats
from tests.reputation.test_incremental_run import close, persisted


async def _both(pool: asyncpg.Pool, who: str) -> tuple[Decimal, Decimal]:
    row = await stats(pool, who)
    async with pool.acquire() as conn:
        report = await wallet_report(conn, who, stats=row)
    return row["realized_pnl"], report.realized_pnl


async def test_an_oversold_open_position_until_and_after_its_resolution(
    pool: asyncpg.Pool,
) -> None:
    w = World(seed=391, markets=6, neg_risk_events=0)
    s = w.specs[0]
    who, mm = w.new_wallet(), w.maker_wallets[0]
    t = s.opens + 10
    # bought 10 at 0.30, sold 10 at 0.50, then 10 more (from a split) at 0.30
    w.chain.trade(s.market, t, who, "BUY", 0, 10, 0.30, mm)
    w.chain.trade(s.market, t + 60, who, "SELL", 0, 10, 0.50, mm)
    w.chain.trade(s.market, t + 120, who, "SELL", 0, 10, 0.30, mm)
    for x in w.specs[1:]:
        w.chain.resolve(x.market, x.resolves, x.winner)
    await w.chain.ingest(pool)
    assert not (await run_reputation(pool)).incremental
    assert await _both(pool, who) == (Decimal("1.00"), Decimal("2.00"))
    # another fill by the wallet: an incremental run, then a full one, agree
    w.chain.trade(s.market, t + 180, who, "SELL", 0, 5, 0.40, mm)
    await w.chain.ingest(pool)
    assert (await run_reputation(pool)).incremental
    incremental = await persisted(pool)
    assert not (await run_reputation(pool, full=True)).incremental
    close(await persisted(pool), incremental)
    # resolved: the excess judged on the totals, the same in both: (5 + 3 + 2) x 10 / 25 - 3
    w.chain.resolve(s.market, s.resolves, s.winner)
    await w.chain.ingest(pool)
    assert (await run_reputation(pool)).incremental
    sql, replay = await _both(pool, who)
    assert sql == replay == Decimal("1.00")
    incremental = await persisted(pool)
    assert not (await run_reputation(pool, full=True)).incremental
    close(await persisted(pool), incremental)
