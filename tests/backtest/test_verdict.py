"""The verdict reads the interval, not the sign: bootstrap over markets, paired comparisons."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import asyncpg
import pytest

from orderflow.backtest.book import SignalRecord
from orderflow.backtest.history import event_ids, resolution_times
from orderflow.backtest.interval import clusters, null_variance, standard_error
from orderflow.backtest.student import t_quantile
from orderflow.backtest.verdict import (
    MIN_MARKETS,
    MarketResult,
    by_market,
    difference_interval,
    judge,
    resolution_days,
    return_interval,
    sentence,
)
from tests.backtest.factory import ORACLE, History, h32

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def _markets(returns: list[float], stake: float = 100.0) -> dict[str, MarketResult]:
    return {f"m{i}": MarketResult(r * stake, stake) for i, r in enumerate(returns)}


def test_consistent_gains_pay_and_consistent_losses_lose() -> None:
    rng = random.Random(1)
    up = return_interval(_markets([0.2 + rng.uniform(-0.1, 0.1) for _ in range(40)]))
    assert up.verdict == "PAID" and up.low is not None and up.low > 0
    assert up.estimate is not None and up.low < up.estimate < (up.high or 0)
    down = return_interval(_markets([-0.2 + rng.uniform(-0.1, 0.1) for _ in range(40)]))
    assert down.verdict == "LOST" and down.high is not None and down.high < 0


def test_a_positive_total_driven_by_one_market_is_inconclusive() -> None:
    """One big winner among many small losers: P&L > 0, but the interval spans zero."""
    returns = [-0.3] * 29 + [12.0]
    interval = return_interval(_markets(returns))
    assert interval.estimate is not None and interval.estimate > 0  # the sign says "paid"
    assert interval.verdict == "INCONCLUSIVE"  # the interval does not
    assert interval.low is not None and interval.low < 0 < (interval.high or 0)


def test_too_few_markets_give_no_interval() -> None:
    interval = return_interval(_markets([0.5] * (MIN_MARKETS - 1)))
    assert interval.estimate == 0.5 and interval.low is None
    assert interval.verdict == "INCONCLUSIVE"
    assert "no interval" in interval.describe()
    nothing = return_interval({})
    assert nothing.estimate is None and nothing.verdict == "INCONCLUSIVE"


def test_ratio_weighs_stakes_and_the_interval_is_seeded() -> None:
    markets = {"a": MarketResult(90.0, 100.0), "b": MarketResult(-10.0, 900.0)}
    assert return_interval(markets).estimate == 80.0 / 1000.0
    many = _markets([random.Random(i).uniform(-0.5, 0.6) for i in range(30)])
    assert return_interval(many, seed=3) == return_interval(many, seed=3)
    assert return_interval(many, seed=3).low != return_interval(many, seed=4).low


def test_paired_difference_draws_the_same_markets() -> None:
    # b earns exactly 0.1 less per dollar in every market: the difference has no spread at all.
    base = [0.05 + 0.8 * (-1) ** i for i in range(30)]  # +0.85, -0.75, ...: mean 0.05
    a, b = _markets(base), _markets([r - 0.1 for r in base])
    d = difference_interval(a, b)
    assert d.verdict == "PAID"
    assert d.low is not None and d.high is not None
    assert abs(d.low - 0.1) < 1e-9 and abs(d.high - 0.1) < 1e-9
    # A side with fewer than MIN_MARKETS markets gets no interval, however many the other has.
    thin = difference_interval(_markets(base[: MIN_MARKETS - 1]), b)
    assert thin.low is None and thin.verdict == "INCONCLUSIVE"
    # ... and says which side was thin, not the pairs' count (it read "no interval (30 markets;
    # at least 10 needed)")
    assert f"one side staked in {MIN_MARKETS - 1} of {len(b)} markets" in thin.describe()
    # Unpaired, each interval alone would span zero.
    assert return_interval(a).verdict == return_interval(b).verdict == "INCONCLUSIVE"


def test_judge_and_sentence() -> None:
    rng = random.Random(2)
    strategy = _markets([0.3 + rng.uniform(-0.1, 0.1) for _ in range(20)])
    baseline = _markets([rng.uniform(-0.4, 0.4) for _ in range(20)])
    verdicts = judge([("strategy", strategy), ("follow-all", baseline)])
    assert verdicts[0].verdict == "PAID"
    assert [c.baseline for c in verdicts[0].comparisons] == ["follow-all"]
    assert verdicts[1].comparisons == ()
    text = sentence(verdicts)
    assert text.startswith("Verdict: PAID") and "95% CI [" in text and "follow-all" in text
    empty = judge([("strategy", {}), ("follow-all", baseline)])
    assert sentence(empty).startswith("Verdict: INCONCLUSIVE")


def _entry(market: str, pnl: str, staked: str) -> SignalRecord:
    return SignalRecord(
        time=T0,
        signal_type="FOLLOW_WHALE",
        status="EXECUTED",
        reason="accepted",
        wallet="0x" + "11" * 20,
        wallet_score=9.0,
        token_id=1,
        market_id=market,
        outcome_index=0,
        trigger_price=Decimal("0.5"),
        tx_hash="0x",
        log_index=0,
        size_usdc=Decimal(staked),
        pnl=Decimal(pnl),
    )


def test_the_legs_of_a_neg_risk_event_are_resampled_together() -> None:
    signals = [_entry("a", "10", "100"), _entry("b", "-5", "50"), _entry("c", "1", "10")]
    assert by_market(signals) == {
        "a": MarketResult(10.0, 100.0),
        "b": MarketResult(-5.0, 50.0),
        "c": MarketResult(1.0, 10.0),
    }
    events = {"a": "event-1", "b": "event-1"}  # two candidates of one neg-risk event
    assert by_market(signals, "s1:", events) == {
        "s1:event-1": MarketResult(5.0, 150.0),
        "s1:c": MarketResult(1.0, 10.0),
    }


def test_by_market_carries_the_no_edge_variance_of_the_shares_held_to_resolution() -> None:
    """A market's null variance is its binary payoff's at the entry price (x² p (1 - p)); its
    YES and NO net out; a neg-risk event's legs, of which one wins, covary; a position sold or
    open at the end (nothing settled) adds none."""

    def held(market: str, outcome: int, shares: str, price: str) -> SignalRecord:
        s = replace(_entry(market, "0", "1"), outcome_index=outcome)
        s.settled_shares, s.settled_price = Decimal(shares), Decimal(price)
        return s

    signals = [
        held("a", 0, "100", "0.9"),
        held("b", 0, "100", "0.6"),
        held("b", 1, "50", "0.4"),  # NO of b: 50 shares of YES sold back, in effect
        held("c", 0, "100", "0.2"),
        held("d", 0, "100", "0.3"),
        _entry("e", "5", "50"),  # sold or open: no shares settled
    ]
    null = {k: r.null_var for k, r in by_market(signals, events={"c": "cd", "d": "cd"}).items()}
    assert null["a"] == pytest.approx(100**2 * 0.9 * 0.1)
    assert null["b"] == pytest.approx(50**2 * 0.6 * 0.4)
    # one of c, d wins: 100² (0.2 + 0.3) - (100 x 0.2 + 100 x 0.3)²
    assert null["cd"] == pytest.approx(100**2 * 0.5 - 50.0**2)
    assert null["e"] == 0.0
    # 90 USDC bought at 0.9: staked² (1 - p) / p
    assert null_variance([(100.0, 0.9)]) == pytest.approx(90.0**2 * 0.1 / 0.9)


async def test_event_ids_group_neg_risk_legs_by_question_prefix(pool: asyncpg.Pool) -> None:
    prefix = "0x" + "ab" * 31
    rows = [
        (h32("leg0"), prefix + "00", True),
        (h32("leg1"), prefix + "01", True),
        (h32("plain"), h32("q"), False),
    ]
    for n, (condition, question, neg_risk) in enumerate(rows):
        await pool.execute(
            "INSERT INTO orderflow_conditions (condition_id, oracle, question_id, "
            "outcome_slot_count, neg_risk, chain_id, block_number, tx_hash, log_index) "
            "VALUES ($1, $2, $3, 2, $4, 137, 1, $5, $6)",
            condition,
            ORACLE,
            question,
            neg_risk,
            h32("tx"),
            n,
        )
    async with pool.acquire() as conn:
        events = await event_ids(conn, [r[0] for r in rows] + [h32("unknown")])
    assert events == {
        rows[0][0]: prefix + "00",
        rows[1][0]: prefix + "00",
        rows[2][0]: rows[2][0],
    }


def test_resolution_days_are_utc_and_a_neg_risk_event_s_the_last_leg_s() -> None:
    day = datetime(2026, 5, 3, tzinfo=UTC)
    east = timezone(timedelta(hours=-5))
    events = {"leg0": "event-1", "leg1": "event-1", "leg2": "event-2", "leg3": "event-2"}
    resolved = {
        "a": day + timedelta(hours=1),
        "b": day + timedelta(hours=23),
        "c": datetime(2026, 5, 3, 20, tzinfo=east),  # 01:00 UTC on the 4th
        "leg0": day + timedelta(hours=2),  # the event's legs: its day is the last one's
        "leg1": day + timedelta(days=2),
    }
    assert resolution_days(events, resolved) == {
        "a": "2026-05-03",
        "b": "2026-05-03",
        "c": "2026-05-04",
        "leg0": "2026-05-05",
        "leg1": "2026-05-05",
    }  # leg2, leg3: their event has not resolved (positions still open: no day)
    signals = [_entry("a", "10", "100"), _entry("b", "-5", "50"), _entry("open", "1", "10")]
    days = resolution_days(events, resolved)
    assert by_market(signals, "s1:", events, days) == {
        "s1:a": MarketResult(10.0, 100.0, "s1:2026-05-03"),
        "s1:b": MarketResult(-5.0, 50.0, "s1:2026-05-03"),
        "s1:open": MarketResult(1.0, 10.0, None),
    }


def test_markets_of_one_resolution_day_widen_the_interval_as_one_draw() -> None:
    """Twenty markets, the six winners resolving on one day (one factor's draw): drawn one by one
    they look like six independent wins; the standard error clustered by day is larger, and the
    interval (single and paired) widens to it. Spread over six days, they change nothing."""
    returns = [1.5] * 6 + [-1.0] * 14
    alone = {f"m{i}": MarketResult(100 * r, 100.0) for i, r in enumerate(returns)}
    one_day = {k: MarketResult(m.pnl, m.staked, "d0" if m.pnl > 0 else k) for k, m in alone.items()}
    spread = {
        k: MarketResult(m.pnl, m.staked, f"d{i}" if m.pnl > 0 else k)
        for i, (k, m) in enumerate(alone.items())
    }
    plain, clustered = return_interval(alone), return_interval(one_day)
    assert plain.estimate == clustered.estimate
    assert plain.low is not None and clustered.low is not None
    assert plain.high is not None and clustered.high is not None
    assert clustered.low < plain.low and clustered.high > plain.high
    assert return_interval(spread) == plain
    baseline = {k: MarketResult(0.0, 100.0, m.day) for k, m in one_day.items()}
    flat = {k: MarketResult(0.0, 100.0) for k in alone}
    d_plain, d_clustered = difference_interval(alone, flat), difference_interval(one_day, baseline)
    assert d_plain.low is not None and d_clustered.low is not None
    assert d_clustered.low < d_plain.low


async def test_resolution_times_are_those_known_by_the_end(pool: asyncpg.Pool) -> None:
    history = History()
    early, late, never = history.market("early"), history.market("late"), history.market("never")
    history.resolve(early, 0, T0 + timedelta(days=1))
    history.resolve(late, 1, T0 + timedelta(days=3))
    await history.store(pool)
    async with pool.acquire() as conn:
        known = await resolution_times(conn, [early, late, never], T0 + timedelta(days=2))
    assert known == {early: T0 + timedelta(days=1)}


def test_student_t_quantiles_match_the_tables() -> None:
    for df, q in ((1, 12.7062047), (2, 4.3026527), (7, 2.3646243), (29, 2.0452296)):
        assert abs(t_quantile(0.975, df) - q) < 1e-6
    assert abs(t_quantile(0.025, 9) + 2.2621572) < 1e-6


def test_markets_on_few_days_are_never_narrower_than_student_t() -> None:
    """Twelve markets resolving on three days: the standard error is summed over three clusters,
    an estimate with two degrees of freedom, so each side of the interval is at least t(2) =
    4.30 standard errors from the estimate (the bootstrap over twelve markets gave ~2: the
    interval was less than half as wide as three clusters support)."""
    returns = [0.6, -0.4, 0.5, -0.3, 0.7, -0.5, 0.4, -0.2, 0.6, -0.6, 0.3, -0.1]
    markets = {f"m{i}": MarketResult(100 * r, 100.0, f"d{i % 3}") for i, r in enumerate(returns)}
    results = [markets[k] for k in sorted(markets)]
    groups = clusters([r.day for r in results])
    se = max(standard_error([results]), standard_error([results], groups))
    interval = return_interval(markets)
    assert interval.estimate is not None and interval.low is not None
    assert interval.high is not None and interval.clusters == 3
    assert interval.estimate - interval.low >= t_quantile(0.975, 2) * se - 1e-12
    assert interval.high - interval.estimate >= t_quantile(0.975, 2) * se - 1e-12


def test_markets_all_resolving_on_one_day_are_one_draw_and_give_no_interval() -> None:
    markets = {f"m{i}": MarketResult(50.0 if i % 2 else -40.0, 100.0, "d0") for i in range(20)}
    interval = return_interval(markets)
    assert interval.low is None and interval.verdict == "INCONCLUSIVE"
    assert "all resolving on one day" in interval.describe()
