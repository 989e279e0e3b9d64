"""The set-based recompute agrees with the per-wallet replay through orderflow.accounting.

Random wallets, markets (binary, 50/50, three-outcome), fees of both kinds, partial sells, open
positions, maker and taker fills; buys precede sells within a position, the case where the
set-based average cost of an *open* position is exact (a resolved one is exact in any order).
"""

from __future__ import annotations

import math
import random
from datetime import timedelta
from decimal import Decimal

import asyncpg

from orderflow.reputation import compute_scores, run_reputation
from orderflow.reputation.per_wallet import wallet_report
from tests.reputation.builders import Ledger, wallet

PAYOUTS = [["1", "0"], ["0", "1"], ["1", "1"], ["0", "0", "1"], ["1", "2", "1"], None]


def build(seed: int) -> Ledger:
    rng = random.Random(seed)
    led = Ledger()
    markets = {m: rng.choice(PAYOUTS) for m in range(1, 41)}
    for m, payouts in markets.items():
        if payouts is not None:
            led.resolve(m, payouts, timedelta(days=30))
    for w in range(1, 26):
        used: set[tuple[int, int]] = set()
        for _ in range(rng.randint(1, 25)):
            m = rng.randint(1, 40)
            outcomes = len(markets[m] or ["", ""])
            o = rng.randrange(outcomes)
            if (m, o) in used:  # one buy-then-sell episode per position
                continue
            used.add((m, o))
            start = timedelta(hours=rng.randint(0, 100))
            bought = Decimal(0)
            for k in range(rng.randint(1, 3)):
                shares = Decimal(rng.randint(1, 500))
                fee, asset, version = "0", "COLLATERAL", "V2"
                if rng.random() < 0.3:
                    fee, asset, version = str(shares * Decimal("0.01")), "SHARES", "V1"
                elif rng.random() < 0.3:
                    fee = "0.25"
                net = shares - (Decimal(fee) if asset == "SHARES" else 0)
                bought += net
                price = Decimal(rng.randint(1, 99)) / 100
                led.trade(
                    w,
                    "BUY",
                    shares,
                    price,
                    market_no=m,
                    outcome=o,
                    fee=fee,
                    fee_asset=asset,
                    version=version,
                    at=start + timedelta(minutes=k),
                    taker_aggregate=rng.random() < 0.7,
                )
            if rng.random() < 0.5:
                sold = (bought * Decimal(rng.randint(1, 100)) / 100).quantize(Decimal("0.01"))
                if sold > 0:
                    price = Decimal(rng.randint(1, 99)) / 100
                    fee = "0.1" if sold * price > Decimal("0.1") else "0"
                    led.trade(
                        w,
                        "SELL",
                        sold,
                        price,
                        market_no=m,
                        outcome=o,
                        fee=fee,
                        at=start + timedelta(hours=1),
                        taker_aggregate=rng.random() < 0.5,
                    )
    return led


def close(a: float | None, b: float | None, tol: float = 1e-9) -> bool:
    if a is None or b is None or (isinstance(a, float) and math.isnan(a)):
        return (a is None or math.isnan(a)) and (b is None or math.isnan(b))
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


async def test_set_based_equals_per_wallet_replay(pool: asyncpg.Pool) -> None:
    await build(7).flush(pool)
    await run_reputation(pool)
    scores = await compute_scores(pool)
    stats = {
        r["wallet_address"]: r
        for r in await pool.fetch(
            # the rows as read: the posterior against the current population (migration 022)
            "SELECT s.*, orderflow_factors(s) AS factors FROM orderflow_wallet_stats w"
            " CROSS JOIN LATERAL orderflow_wallet_read(w) AS s"
        )
    }
    assert len(stats) == 25
    async with pool.acquire() as conn:
        for address, s in stats.items():
            rep = await wallet_report(conn, address, stats=s)
            inp, sc = rep.inputs, rep.scores
            assert s["total_trades"] == rep.trades
            # The set-based run rounds each position to micro-USDC; the replay does not round.
            tol = Decimal("0.000001") * (len(rep.positions) + 1)
            assert abs(s["realized_pnl"] - rep.realized_pnl) <= tol
            assert abs(s["unrealized_pnl"] - rep.unrealized_pnl) <= tol
            assert close(float(s["total_volume_usdc"]), inp.volume[0])
            # the evidence: the same decisions, valued the same way
            assert s["events_resolved"] == inp.events[0]
            post = s["factors"]["posterior"]
            assert close(post["outcome_edge"], _nan(sc.outcome_edge[0]), 1e-6)
            assert close(post["outcome_se"], _nan(sc.outcome_se[0]), 1e-6)
            assert close(s["clv_edge"], _nan(sc.clv_edge[0]), 1e-6)
            assert close(s["clv_se"], _nan(sc.clv_se[0]), 1e-6)
            assert close(s["edge"], float(sc.edge[0]), 1e-6)
            assert close(s["p_edge_above_cost"], float(sc.p_above_cost[0]), 1e-6)
            assert close(s["maker_volume_share"], float(sc.maker_share[0]), 1e-9)
            assert s["factors"]["win_rate"]["wins"] == inp.wins[0]
            assert s["trader_tier"] == sc.tier_names()[0]
            assert abs(float(s["reputation_score"]) - sc.score[0]) <= 0.011
            assert scores[address].score == s["reputation_score"]
    assert sum(1 for s in stats.values() if s["events_resolved"] > 0) > 10


def _nan(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


async def test_per_wallet_report_for_unknown_wallet(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        rep = await wallet_report(conn, wallet(12345))
    assert rep.trades == 0 and rep.positions == []
    assert rep.scores.tier_names() == ["NOVICE"]
    assert rep.inputs.events[0] == 0
