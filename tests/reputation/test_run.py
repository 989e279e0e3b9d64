"""The set-based run against a real PostgreSQL: statistics, as_of, history, bad input."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from decimal import Decimal as D

import asyncpg
import pytest

from orderflow.reputation import compute_scores, run_reputation
from orderflow.reputation.run import RUN_LOCK_KEY, population_as_of
from tests.reputation.builders import T0, Ledger, market, wallet


def H(hours: int) -> timedelta:
    return timedelta(hours=hours)


async def stats(pool: asyncpg.Pool, who: int) -> asyncpg.Record:
    row = await pool.fetchrow(
        # the row as read (migration 098: the unrealized P&L computed when read)
        "SELECT s.*, orderflow_factors(s) AS factors FROM orderflow_wallet_stats w"
        " CROSS JOIN LATERAL orderflow_wallet_read(w) AS s WHERE w.wallet_address = $1",
        wallet(who),
    )
    assert row is not None
    return row


async def test_empty_database(pool: asyncpg.Pool) -> None:
    summary = await run_reputation(pool)
    assert (summary.wallets, summary.positions, summary.history_rows) == (0, 0, 0)
    assert await compute_scores(pool) == {}
    assert await pool.fetchval("SELECT count(*) FROM orderflow_wallet_stats") == 0


async def test_hand_computed_wallet(pool: asyncpg.Pool) -> None:
    led = Ledger()
    # Market 1: buy 100 YES @ 0.40 (fee 0.50), sell 40 @ 0.55; resolves YES: P&L = 22 + 60 - 40.5
    led.trade(1, "BUY", "100", "0.40", market_no=1, fee="0.5", at=H(1), taker_aggregate=True)
    led.trade(1, "SELL", "40", "0.55", market_no=1, at=H(2), taker_aggregate=True)
    led.resolve(1, ["1", "0"], timedelta(days=1))
    # Market 2: V1 buy of NO with a 2-share fee, 50/50 resolution: 98 * 0.5 - 30 = 19.
    led.trade(
        1,
        "BUY",
        "100",
        "0.30",
        market_no=2,
        outcome=1,
        fee="2",
        fee_asset="SHARES",
        version="V1",
        at=timedelta(hours=3),
        taker_aggregate=True,
    )
    led.resolve(2, ["1", "1"], timedelta(days=1))
    # Market 3: buy at 0.70, resolves NO: -70.
    led.trade(1, "BUY", "100", "0.70", market_no=3, at=H(4), taker_aggregate=True)
    led.resolve(3, ["0", "1"], timedelta(days=1))
    # Market 4 unresolved: holds 10 bought at 0.50, last traded (by someone else) at 0.80.
    led.trade(1, "BUY", "10", "0.50", market_no=4, at=timedelta(hours=5))
    led.trade(2, "BUY", "10", "0.80", market_no=4, at=timedelta(hours=6))
    await led.flush(pool)

    summary = await run_reputation(pool)
    assert summary.wallets == 2
    s = await stats(pool, 1)
    assert (s["resolved_positions"], s["wins"], s["losses"], s["markets_traded"]) == (3, 2, 1, 4)
    assert s["gross_profit"] == D("41.500000") + D("19")
    assert s["gross_loss"] == D(70)
    assert s["realized_pnl"] == D("-9.500000")
    assert s["unrealized_pnl"] == D(3)
    assert s["total_trades"] == 5
    assert s["total_volume_usdc"] == D(40 + 22 + 30 + 70 + 5)
    assert s["fees_paid"] == D("0.5") + D("0.6")  # 2 shares at 0.30
    assert s["open_positions"] == 1
    assert s["events_resolved"] == s["resolved_buys"] == 3
    # Taker decisions against the outcome (fee-net): market 1 bought 100 at 0.40 (fee 0.50) and
    # sold 40 of them at 0.55 before YES won: 100 x (0.4 x 0.55 + 0.6 x 1) - 40.50 = 41.50;
    # market 2: 100 x 0.5 - 30 - 0.60 (2 fee shares at 0.30) = 19.40; market 3: -70.
    post = s["factors"]["posterior"]
    assert post["outcome_edge"] == pytest.approx((41.5 + 19.4 - 70) / 140)
    q1 = (40 + 22) / 140
    null_var = 100**2 * q1 * (1 - q1) + 100**2 * 0.21 + 100**2 * 0.21
    assert post["outcome_se"] == pytest.approx(null_var**0.5 / 140)
    assert s["factors"]["win_rate"]["wins"] == 2
    assert s["factors"]["win_rate"]["expected_wins"] == pytest.approx(40 / 100 + 0.3 + 0.7)
    assert s["trader_tier"] == "NOVICE"  # 3 resolved events: not enough evidence
    assert s["flags"] == [] and s["maker_volume_share"] == pytest.approx(5 / 167)  # market 4
    assert set(s["factors"]) >= {"win_rate", "profit_factor", "consistency", "volume", "timing"}
    points = sum(
        s["factors"][f]["points"]
        for f in ("win_rate", "profit_factor", "consistency", "volume", "timing")
    )
    assert abs(points - s["factors"]["raw_score"]) < 1e-3


async def test_wallet_with_no_resolved_market(pool: asyncpg.Pool) -> None:
    led = Ledger()
    led.trade(5, "BUY", "100", "0.20", market_no=9)
    led.trade(6, "SELL", "50", "0.30", market_no=9, at=timedelta(minutes=5))
    await led.flush(pool)
    await run_reputation(pool)
    s = await stats(pool, 5)
    assert (s["resolved_positions"], s["wins"], s["losses"]) == (0, 0, 0)
    assert s["win_rate"] is None and s["profit_factor"] is None and s["roi"] is None
    assert s["unrealized_pnl"] == D(10)  # 100 * 0.30 - 20
    assert s["trader_tier"] == "NOVICE"
    assert s["events_resolved"] == 0 and s["clv_edge"] is None


async def test_taker_address_is_never_credited(pool: asyncpg.Pool) -> None:
    led = Ledger()
    led.trade(7, "BUY", "10", "0.5", market_no=1)  # taker_address = wallet(999999)
    led.trade(8, "SELL", "10", "0.5", market_no=1, taker_aggregate=True)
    await led.flush(pool)
    scores = await compute_scores(pool)
    assert set(scores) == {wallet(7), wallet(8)}


async def test_luck_cases_end_to_end(pool: asyncpg.Pool) -> None:
    led = Ledger()
    for m in range(1, 4):  # wallet 1: three wins out of three, big size
        led.trade(1, "BUY", "10000", "0.50", market_no=m, at=H(m), taker_aggregate=True)
        led.resolve(m, ["1", "0"], timedelta(days=2))
    for i in range(200):  # wallet 2: 140 wins of 200 buying at 0.50, resolved over 40 days
        m = 100 + i  # (resolving together, they would be one unit of evidence: test_factor_units)
        led.trade(
            2, "BUY", "20", "0.50", market_no=m, at=timedelta(minutes=i), taker_aggregate=True
        )
        led.resolve(m, ["1", "0"] if i < 140 else ["0", "1"], timedelta(days=2 + i % 40))
    rng = random.Random(5)
    for w in range(10, 30):  # the population: coin flips at 0.50
        for m in rng.sample(range(100, 300), 40):
            led.trade(w, "BUY", "20", "0.50", market_no=m, outcome=rng.randrange(2),
                      at=timedelta(minutes=m), taker_aggregate=True)  # fmt: skip
    await led.flush(pool)
    scores = await compute_scores(pool)
    assert scores[wallet(1)].tier == "NOVICE"
    assert scores[wallet(1)].score < D("5.5")
    assert scores[wallet(2)].tier == "WHALE", str(scores[wallet(2)].factors["posterior"])
    assert scores[wallet(2)].score >= D(7)
    assert scores[wallet(2)].resolved_buys == 200
    p_above = scores[wallet(2)].p_edge_above_cost
    assert p_above is not None
    assert p_above >= 0.95
    assert sum(s.tier in ("WHALE", "SMART") for s in scores.values()) == 1


async def test_as_of_ignores_later_trades_and_resolutions(pool: asyncpg.Pool) -> None:
    led = Ledger()
    led.trade(1, "BUY", "100", "0.40", market_no=1, at=timedelta(hours=1))
    led.resolve(1, ["1", "0"], timedelta(hours=10))
    led.trade(1, "BUY", "100", "0.60", market_no=2, at=timedelta(hours=20))
    await led.flush(pool)

    before = await compute_scores(pool, as_of=T0 + timedelta(hours=5))
    assert before[wallet(1)].resolved_positions == 0
    assert before[wallet(1)].factors["volume"]["volume_usdc"] == 40

    summary = await run_reputation(pool, as_of=T0 + timedelta(hours=15))
    assert summary.as_of == T0 + timedelta(hours=15) and summary.history_rows == 1
    then = await compute_scores(pool, as_of=T0 + timedelta(hours=15))
    assert (then[wallet(1)].resolved_positions, then[wallet(1)].wins) == (1, 1)
    h = await pool.fetchrow(
        "SELECT resolved_positions, computed_at FROM orderflow_reputation_history"
        " WHERE wallet_address = $1",
        wallet(1),
    )
    assert h is not None and (h["resolved_positions"], h["computed_at"]) == (
        1,
        T0 + timedelta(hours=15),
    )

    after = await compute_scores(pool)
    assert after[wallet(1)].factors["volume"]["volume_usdc"] == 100


async def test_history_only_when_score_or_tier_changes(pool: asyncpg.Pool) -> None:
    led = Ledger()
    led.trade(1, "BUY", "100", "0.40", market_no=1, taker_aggregate=True)
    led.trade(2, "BUY", "100", "0.40", market_no=2, taker_aggregate=True)
    await led.flush(pool)
    assert (await run_reputation(pool)).history_rows == 2
    assert (await run_reputation(pool)).history_rows == 0
    led.resolve(1, ["1", "0"], timedelta(days=1))
    await led.flush(pool)
    assert (await run_reputation(pool)).history_rows == 1
    rows = await pool.fetch(
        "SELECT reputation_score FROM orderflow_reputation_history WHERE wallet_address = $1 "
        "ORDER BY computed_at",
        wallet(1),
    )
    assert len(rows) == 2 and rows[0][0] != rows[1][0]


async def test_bad_input_is_recorded_not_fatal(pool: asyncpg.Pool) -> None:
    led = Ledger()
    led.trade(1, "BUY", "10", "0.5", market_no=None, token_id=424242)  # unknown token
    led.trade(1, "BUY", "10", "0.5", market_no=7)
    led.resolve(7, ["0", "0"], timedelta(days=1))  # zero payouts
    led.trade(1, "BUY", "10", "0.5", market_no=8, outcome=2)
    led.resolve(8, ["1", "0"], timedelta(days=1))  # no payout for outcome 2
    # A token known only through orderflow_tokens resolves normally.
    led.trade(1, "BUY", "10", "0.5", market_no=None, token_id=5555)
    led.register_token(5555, 9, 0)
    led.resolve(9, ["1", "0"], timedelta(days=1))
    await led.flush(pool)

    summary = await run_reputation(pool)
    assert summary.issues == {"UNKNOWN_TOKEN": 1, "ZERO_PAYOUT": 1, "BAD_PAYOUT": 1}
    issues = {r["kind"]: r for r in await pool.fetch("SELECT * FROM orderflow_reputation_issues")}
    assert issues["UNKNOWN_TOKEN"]["token_id"] == 424242
    assert issues["ZERO_PAYOUT"]["market_id"] == market(7)
    assert "{0,0}" in issues["ZERO_PAYOUT"]["detail"]
    assert issues["BAD_PAYOUT"]["trades"] == 1
    s = await stats(pool, 1)
    assert (s["resolved_positions"], s["wins"], s["total_trades"]) == (1, 1, 4)


async def test_concurrent_run_is_skipped(pool: asyncpg.Pool, dsn: str) -> None:
    other = await asyncpg.connect(dsn)
    try:
        async with other.transaction():
            await other.execute("SELECT pg_advisory_xact_lock($1)", RUN_LOCK_KEY)
            summary = await asyncio.wait_for(run_reputation(pool), 30)
        assert summary.skipped
    finally:
        await other.close()
    assert not (await run_reputation(pool)).skipped


async def test_read_only_recomputes_leave_nothing_in_the_callers_transaction(
    pool: asyncpg.Pool,
) -> None:
    """``compute_scores`` and ``population_as_of`` write nothing: called on a connection already
    inside a transaction (a backtest reading one snapshot), again and again, each leaves none of
    its temporary tables behind (the second call found the first one's ``rep_positions``)."""
    led = Ledger()
    for who in (1, 2, 3):
        led.trade(who, "BUY", "100", "0.40", market_no=who, at=H(who), taker_aggregate=True)
        led.resolve(who, ["1", "0"] if who % 2 else ["0", "1"], timedelta(days=1))
    await led.flush(pool)
    later = T0 + timedelta(days=2)
    async with pool.acquire() as conn, conn.transaction():
        first = await compute_scores(conn, as_of=later)
        again = await compute_scores(conn, as_of=later)
        prior, factors = await population_as_of(conn, wallet(1), as_of=later)
        await population_as_of(conn, wallet(1), as_of=later)
        assert await conn.fetchval("SELECT to_regclass('pg_temp.rep_positions')") is None
    assert set(first) == set(again) == {wallet(1), wallet(2), wallet(3)}
    assert [s.score for s in first.values()] == [again[w].score for w in first]
    assert factors is not None and prior.sd > 0


async def test_unchanged_wallets_are_not_rewritten(pool: asyncpg.Pool) -> None:
    led = Ledger()
    led.trade(1, "BUY", "100", "0.40", market_no=1)
    led.trade(2, "BUY", "100", "0.40", market_no=2)
    await led.flush(pool)
    await run_reputation(pool)
    before = {r[0]: r[1] for r in await pool.fetch(
        "SELECT wallet_address, computed_at FROM orderflow_wallet_stats")}  # fmt: skip
    led.trade(2, "SELL", "50", "0.60", market_no=2, at=timedelta(hours=1))
    await led.flush(pool)
    await run_reputation(pool)
    after = {r[0]: r[1] for r in await pool.fetch(
        "SELECT wallet_address, computed_at FROM orderflow_wallet_stats")}  # fmt: skip
    assert after[wallet(1)] == before[wallet(1)]
    assert after[wallet(2)] > before[wallet(2)]


async def test_database_errors_are_reported_as_database_error(pool: asyncpg.Pool) -> None:
    from orderflow.errors import DatabaseError

    led = Ledger()
    led.trade(1, "BUY", "10000000000000", "0.5", market_no=1)  # 1e13 shares: beyond int8 micro
    await led.flush(pool)
    with pytest.raises(DatabaseError, match="reputation run failed"):
        await run_reputation(pool)
