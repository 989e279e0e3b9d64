"""An open position valued one way in the run's SQL and in ``orderflow wallet``'s replay.

The rule (``orderflow.accounting.aggregate.open_pnl``, docs/reputation.md "An open position's
P&L"): an unresolved position is valued on the totals of its fills, as a resolved one is -- the
shares held are those bought less those sold (none below zero), each at the average cost of all
the buys; what it sold realizes its proceeds less that cost on the shares it matched, shares sold
beyond all those bought (from a split or a transfer) taking their share of every sale's proceeds.
The run's SQL has only the totals (its stored sums carry no fill order); the replay, which has
the order, used to book the sequential average cost instead (the untracked excess realizing
nothing), so one position read two figures until its market resolved: bought 10 at 0.30, sold 10
at 0.50 and 10 more at 0.30 realized 1.00 in the score and 2.00 in the report. Now both 1.00;
resolved, both 1.00 as before. Incremental = full on such a position."""

from __future__ import annotations

from decimal import Decimal

import asyncpg

from orderflow.reputation import run_reputation
from orderflow.reputation.per_wallet import wallet_report
from tests.reputation.population import World
from tests.reputation.test_cases import stats
from tests.reputation.test_incremental_run import close, persisted

_FIGURES = ("realized_pnl", "unrealized_pnl")


async def _both(pool: asyncpg.Pool, who: str) -> tuple[tuple[Decimal, ...], tuple[Decimal, ...]]:
    """(the run's realized and unrealized P&L, the report's)."""
    row = await stats(pool, who)
    async with pool.acquire() as conn:
        report = await wallet_report(conn, who, stats=row)
    sql = tuple(row[f] for f in _FIGURES)
    replay = tuple(round(getattr(report, f), 6) for f in _FIGURES)
    return sql, replay


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
    # 8 x 10 / 20 - 3: the excess takes its share of every sale, in both
    sql, replay = await _both(pool, who)
    assert sql == replay == (Decimal("1.00"), Decimal("0")), (sql, replay)
    # another fill by the wallet: an incremental run, then a full one, agree
    w.chain.trade(s.market, t + 180, who, "SELL", 0, 5, 0.40, mm)
    await w.chain.ingest(pool)
    assert (await run_reputation(pool)).incremental
    incremental = await persisted(pool)
    assert not (await run_reputation(pool, full=True)).incremental
    close(await persisted(pool), incremental)
    sql, replay = await _both(pool, who)
    assert sql == replay == (Decimal("1.00"), Decimal("0")), (sql, replay)  # 10 x 10 / 25 - 3
    # resolved: the excess judged on the totals, the same in both: (5 + 3 + 2) x 10 / 25 - 3
    w.chain.resolve(s.market, s.resolves, s.winner)
    await w.chain.ingest(pool)
    assert (await run_reputation(pool)).incremental
    sql, replay = await _both(pool, who)
    assert sql == replay == (Decimal("1.00"), Decimal("0")), (sql, replay)
    incremental = await persisted(pool)
    assert not (await run_reputation(pool, full=True)).incremental
    close(await persisted(pool), incremental)


async def test_an_open_position_bought_again_after_a_sale(pool: asyncpg.Pool) -> None:
    """Not oversold: bought 10 at 0.30, sold 10 at 0.50, bought 10 at 0.60, sold 5 at 0.70, the
    market open. On the totals: 8.50 received less 9.00 x 15 / 20 = 1.75 realized, 5 held at
    0.45 each (sequentially: 2.50 realized, 5 held at 0.60). The sum at any mark is the same."""
    w = World(seed=392, markets=6, neg_risk_events=0)
    s = w.specs[0]
    who, mm = w.new_wallet(), w.maker_wallets[0]
    t = s.opens + 10
    w.chain.trade(s.market, t, who, "BUY", 0, 10, 0.30, mm)
    w.chain.trade(s.market, t + 60, who, "SELL", 0, 10, 0.50, mm)
    w.chain.trade(s.market, t + 120, who, "BUY", 0, 10, 0.60, mm)
    w.chain.trade(s.market, t + 180, who, "SELL", 0, 5, 0.70, mm)
    for x in w.specs[1:]:
        w.chain.resolve(x.market, x.resolves, x.winner)
    await w.chain.ingest(pool)
    await run_reputation(pool)
    sql, replay = await _both(pool, who)
    assert sql == replay, (sql, replay)
    assert sql[0] == Decimal("1.75")
