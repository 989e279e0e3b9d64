"""The closing line's standard error carries the variance a wallet with no edge would have.

Where a market closes at 0.97-0.999 the closing line is nearly the outcome. The ratio
estimator's sample variance does not see a long-shot record's noise: a few long shots bought
at 0.05 that all lost as their markets closed at 0.99 have identical closing-line values, a
sample variance of 0 and a closing-line edge of -0.8 a dollar that looked precise (on main:
z -2.3 over 20 such bets, DEGEN, and the executor fades DEGEN wallets). Under no edge the line
is a martingale from the price paid, so its null variance per decision is x^2 (q (1 - q) -
c (1 - c)) (``close_move_var``); the closing line's variance pools it with the sample's as a
prior worth ``clv_null_events`` events (docs/reputation.md "The edge and its posterior"). A
record whose line moved against it at even money stays evidence, and the run, the per-wallet
replay and an incremental run agree on the new sum.
"""

from __future__ import annotations

import math

import asyncpg
import numpy as np

from orderflow.reputation import run_reputation
from orderflow.reputation.factors import measurement, score
from orderflow.reputation.per_wallet import wallet_report
from orderflow.reputation.prior import Prior, fade_probability
from orderflow.reputation.settings import ReputationSettings
from orderflow.reputation.standing import yardsticks
from tests.reputation.population import DAY, World, noise_taker, skilled_taker
from tests.reputation.test_cases import stats
from tests.reputation.test_factors import inputs
from tests.reputation.test_void_decisions import _full_equals_incremental

S = ReputationSettings()
# an average taker losing the spread and fees, known well (mu's se 0), true edges spread widely
# (tau 0.5): the wallet's own record decides
PRIOR = Prior(mean=-0.02, sd=0.5, mean_se=0.0, miss_sd=0.0)


def _record(events: int, price: float, close: float, shares: float = 1000.0) -> dict[str, float]:
    """The wallet sums of ``events`` buys of ``shares`` at ``price`` that all lost, each market's
    line for the bought token at ``close`` (every decision alike: a sample variance of 0)."""
    stake, clv = shares * price, shares * (close - price)
    q = price
    return {
        "events": events,
        "value": -events * stake,
        "stake": events * stake,
        "null_var": events * shares * shares * q * (1 - q),
        "clv_value": events * clv,
        "clv_sq": events * clv * clv,
        "clv_stake": events * clv * stake,
        "stake_sq": events * stake * stake,
        "close_move_var": events * shares * shares * (q * (1 - q) - close * (1 - close)),
        "expected_wins": events * q,
        "wins_var": events * q * (1 - q),
        "null_loss": events * shares * q * (1 - q),
        "gross_loss": events * stake,
        "volume": events * stake,
        "taker_volume": events * stake,
        "buy_volume": events * stake,
    }


def _fade(**sums: float) -> tuple[float, float]:
    """(closing-line z, fading probability) of one wallet against :data:`PRIOR`."""
    i = inputs(**sums)
    outcome, outcome_se, clv, clv_se, resid_se = yardsticks(i, S)
    m, se = measurement(outcome, outcome_se, clv, clv_se, resid_se, PRIOR.miss_sd)
    p = fade_probability(m, se, PRIOR.mean, PRIOR.mean_se, S.follower_cost)
    return float(clv[0] / clv_se[0]), float(p[0])


def test_losing_long_shots_that_close_at_0_99_are_no_evidence_of_a_degen() -> None:
    record = _record(20, 0.05, 0.01)
    z, p_fade = _fade(**record)
    # the closing line is nearly the outcome here: the null's standard error, sqrt(20 x 1000^2
    # x (0.0475 - 0.0099)) / (20 x 50) = 0.87 a dollar, counts as 10 events beside the
    # sample's 20 (0: every value alike): 0.50; not the floor's 0.34 (0.35 x the outcome's)
    assert z > -1.7, z
    assert p_fade < S.degen_probability, p_fade
    assert score(inputs(**record), S, prior=PRIOR).tier_names() == ["AVERAGE"]
    null = 20 * 1e6 * (0.05 * 0.95 - 0.01 * 0.99)
    clv_se = yardsticks(inputs(**record), S)[3][0]
    assert math.isclose(clv_se, math.sqrt(10 * null / 30) / 1000.0, rel_tol=1e-12)
    # without the null (REPUTATION_CLV_NULL_EVENTS=0: main's rule) it was a DEGEN
    main = S.model_copy(update={"clv_null_events": 0.0})
    assert score(inputs(**record), main, prior=PRIOR).tier_names() == ["DEGEN"]


def test_a_line_that_moved_against_an_even_money_record_is_still_evidence() -> None:
    """40 buys at 0.50 whose line closed at 0.30: the null variance (0.25 - 0.21 a share^2)
    is small, the record's adverse move real: still DEGEN."""
    record = _record(40, 0.50, 0.30)
    z, p_fade = _fade(**record)
    assert z < -5, z
    assert p_fade > S.degen_probability, p_fade
    assert score(inputs(**record), S, prior=PRIOR).tier_names() == ["DEGEN"]


def test_a_record_more_dispersed_than_the_null_keeps_its_own_variance() -> None:
    record = _record(30, 0.50, 0.45)
    record["clv_sq"] *= 40.0  # values far more spread than a line moving 5 cents can make
    i = inputs(**record)
    sample = record["clv_sq"] - 2 * (-0.1) * record["clv_stake"] + 0.01 * record["stake_sq"]
    clv_se = yardsticks(i, S)[3][0]
    assert math.isclose(clv_se, math.sqrt(sample) / (30 * 500.0), rel_tol=1e-9)
    assert sample > record["close_move_var"]


async def test_the_run_the_replay_and_an_incremental_run_agree(pool: asyncpg.Pool) -> None:
    w = World(seed=80, markets=40, neg_risk_events=0)
    wallets = [w.new_wallet() for _ in range(14)]
    for who in wallets[:10]:
        noise_taker(w, who, 20)
    for who in wallets[10:]:
        skilled_taker(w, who, 20, 0.6)
    await w.finish(pool)
    assert not (await run_reputation(pool)).incremental
    rows = await pool.fetch(
        "SELECT wallet_address, close_move_var, clv_null_var, null_var"
        " FROM orderflow_reputation_inputs WHERE wallet_address = ANY($1::text[])",
        wallets,
    )
    closed = [r for r in rows if r["close_move_var"] != 0]
    assert len(closed) >= 10, rows
    # what the line can still move is at most the outcome's whole null variance (the line sits
    # between the entry and the outcome); the sum is not clipped per decision
    for r in closed:
        assert r["close_move_var"] <= r["null_var"] - r["clv_null_var"] + 1e-9, dict(r)
    for r in closed[:4]:
        who = r["wallet_address"]
        async with pool.acquire() as conn:
            report = await wallet_report(conn, who, stats=await stats(pool, who))
        x, y = float(report.inputs.close_move_var[0]), float(r["close_move_var"])
        assert abs(x - y) <= 1e-9 * max(abs(y), 1.0), (who, x, y)
    assert np.isfinite([r["close_move_var"] for r in rows]).all()

    noise_taker(w, w.new_wallet(), 8)
    for s in w.specs[-4:]:
        w.take(s, s.opens + 2 * DAY, wallets[0], s.winner, 40.0)
        w.take(s, s.opens + 2 * DAY, wallets[11], 1 - s.winner, 40.0)
    await w.chain.ingest(pool)
    assert (await run_reputation(pool)).incremental
    await _full_equals_incremental(pool)
