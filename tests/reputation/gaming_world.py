"""The world the gaming tests score their wallet in (tests/reputation/test_void_exits.py,
test_gaming_*.py): twenty noise takers and four with a small edge, the markets the test wallet
takes a side of near even money, what its decisions made when held to the resolution (what
a follower holding them gets), and the wallet's row after a run, which the replay reads the
same."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest

from orderflow.reputation import run_reputation
from orderflow.reputation.per_wallet import wallet_report
from tests.reputation.population import HALF_SPREAD, Spec, World, edge_taker, noise_taker
from tests.reputation.test_cases import stats

# the stored inputs the replay (``orderflow wallet``) must read as the run did
_REPLAYED = ("value", "clv_value", "null_var", "clv_null_var", "close_move_var")


def takers_world(markets: int = 150) -> World:
    """Twenty noise takers and four with an edge of 0.03-0.05 in ``markets`` markets (seed 16)."""
    w = World(seed=16, markets=markets)
    for _ in range(20):
        noise_taker(w, w.new_wallet(), 40)
    for edge in (0.03, 0.04, 0.05, 0.05):
        edge_taker(w, w.new_wallet(), 120, edge)
    return w


def even_money(s: Spec, outcome: int) -> float | None:
    """A time the outcome trades near even money, before the resolution."""
    times = [s.opens + f * (s.resolves - s.opens) for f in (0.2, 0.3, 0.4, 0.5, 0.6)]
    return next((x for x in times if 0.4 <= s.price(x, outcome) <= 0.6), None)


def even_money_sides(
    w: World, most: int, side_of: Callable[[Spec], int]
) -> Iterator[tuple[Spec, int, float]]:
    """Up to ``most`` standard markets, each with the side ``side_of`` picks (asked of every
    market in turn) and a time that side trades near even money."""
    n = 0
    for s in w.specs:
        side = side_of(s)
        t = None if s.market.neg_risk or n == most else even_money(s, side)
        if t is not None:
            n += 1
            yield s, side, t


def coin_flip(w: World) -> Callable[[Spec], int]:
    """A side at random: no skill."""
    return lambda s: w.rng.randrange(2)


def buy_at_market(w: World, who: str, s: Spec, side: int, t: float) -> tuple[float, float]:
    """``who`` buys 100 USDC of ``side`` at the market's ask (a maker's, the pair minted):
    its shares and price."""
    q = min(0.99, s.price(t, side) + HALF_SPREAD)
    shares = round(100.0 / q, 2)
    w.chain.trade(s.market, t, who, "BUY", side, shares, q, w.maker(), mint=True)
    return shares, q


@dataclass
class Held:
    """Decisions held to the resolution: what they made a dollar."""

    value: float = 0.0
    stake: float = 0.0

    def add(self, s: Spec, side: int, shares: float, price: float) -> None:
        self.value += shares * ((1.0 if side == s.winner else 0.0) - price)
        self.stake += shares * price

    @property
    def per_dollar(self) -> float:
        return self.value / self.stake


async def scored(pool: asyncpg.Pool, w: World, who: str) -> dict[str, Any]:
    """The wallet's stored row after a run; its value, closing-line value and their null
    variances as the replay reads them equal to the run's."""
    await w.finish(pool)
    await run_reputation(pool)
    row: dict[str, Any] = dict(await stats(pool, who))
    stored = await pool.fetchrow(
        f"SELECT {', '.join(_REPLAYED)} FROM orderflow_reputation_inputs WHERE wallet_address = $1",
        who,
    )
    async with pool.acquire() as conn:
        report = await wallet_report(conn, who, stats=row)
    for name in _REPLAYED:
        replayed = getattr(report.inputs, name)[0]
        assert replayed == pytest.approx(stored[name], rel=1e-9, abs=1e-6), name
    return row


def tier_detail(row: Mapping[str, Any], held: Held | None = None) -> tuple[Any, ...]:
    """What an assertion on the row's tier shows: tier, score, P(edge > cost), the edges
    measured and, given, what the decisions made held to the resolution."""
    post = row["factors"]["posterior"]
    edges = {k: post[k] for k in ("outcome_edge", "outcome_se", "clv_edge", "clv_se") if k in post}
    held_return = None if held is None else round(held.per_dollar, 3)
    return (row["trader_tier"], float(row["reputation_score"]), edges, held_return)


def coin_flips_then(
    w: World, who: str, most: int, then: Callable[[Spec, int, float, float], None]
) -> tuple[int, Held]:
    """``who`` buys a coin flip at the market in up to ``most`` markets, two other wallets
    trading that side at its price around it (a prevailing price), then does ``then(market,
    side, time, shares)``: how many markets, and the buys held to the resolution."""
    n, held = 0, Held()
    for s, side, t in even_money_sides(w, most, coin_flip(w)):
        n += 1
        for dt in (-900.0, 900.0):
            w.take(s, t + dt, w.new_wallet(), side, 50.0)
        shares, q = buy_at_market(w, who, s, side, t)
        then(s, side, t, shares)
        held.add(s, side, shares, q)
    return n, held
