"""A small market world for reputation tests, independent of ``orderflow.sim``.

Each market's price is a calibrated martingale: a latent Brownian path W on [0, 1] decides the
outcome (YES wins when W(1) + c > 0) and the price at time f is P(YES | W(f)) =
Phi((W(f) + c) / sqrt(1 - f)). Nobody who only sees prices has an edge, per share or per dollar;
a skilled wallet sees part of the path ahead, so the price later moves its way (closing-line
value) and it wins more often than its entry price implied. Every trade is a real match against a
maker (:mod:`tests.reputation.chainbook`), imported through the listener's pipeline.

Behaviours (each one a function of the world, a wallet and how much it trades):

* :func:`noise_taker` -- random side at the market price plus half the spread (no skill);
* :func:`skilled_taker` -- sees the price ``skill`` x half the remaining time ahead and buys the
  side it will rise on (hidden skill = ``skill``; 0 = a random side);
* :func:`edge_taker` -- buys at ``edge`` below the market's price (a planted edge per share);
* :func:`penny_picker` -- buys favourites priced above 0.9 at the market price (no edge);
* :func:`lucky` -- three buys near 0.50 of outcomes that win;
* :func:`wash_pair` -- a showcase wallet buys the eventual winner at 0.50 from its partner while
  the market trades far higher.

Every taker trades against the world's market makers, who earn the half spread.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import asyncpg

from tests.reputation.chainbook import Chain, Market, wallet

DAY = 86_400.0
HALF_SPREAD = 0.01


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


_STEPS = 400


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _phi_inv(p: float) -> float:
    lo, hi = -10.0, 10.0
    for _ in range(80):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _phi(mid) < p else (lo, mid)
    return (lo + hi) / 2


@dataclass
class Spec:
    market: Market
    opens: float
    resolves: float
    offset: float  # c: the opening price is Phi(c)
    path: list[float]  # W on a grid of _STEPS + 1 points over [0, 1]

    @property
    def winner(self) -> int:
        return 0 if self.path[-1] + self.offset > 0 else 1

    @property
    def opening(self) -> float:
        return _phi(self.offset)

    def frac(self, t: float) -> float:
        return min(1.0, max(0.0, (t - self.opens) / (self.resolves - self.opens)))

    def yes(self, f: float) -> float:
        k = min(_STEPS - 1, int(f * _STEPS))
        return _phi((self.path[k] + self.offset) / math.sqrt(1.0 - k / _STEPS))

    def price(self, t: float, outcome: int) -> float:
        yes = min(0.99, max(0.01, round(self.yes(self.frac(t)), 2)))
        return yes if outcome == 0 else round(1 - yes, 2)

    def time(self, rng: random.Random, early: bool = False) -> float:
        span = self.resolves - self.opens
        return self.opens + span * (rng.uniform(0.0, 0.5) if early else rng.uniform(0.0, 0.95))


@dataclass
class World:
    seed: int
    markets: int = 60
    neg_risk_events: int = 6
    favourites: int = 0  # extra markets with a favourite above 0.9
    makers: int = 3
    chain: Chain = field(default_factory=Chain)
    specs: list[Spec] = field(default_factory=list)
    rng: random.Random = field(init=False)
    _next_wallet: int = 1

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.horizon = 60 * DAY
        for _ in range(self.markets):
            self._add(self.rng.uniform(0.1, 0.9))
        for _ in range(self.favourites):
            p = self.rng.uniform(0.95, 0.99)
            self._add(p if self.rng.random() < 0.5 else 1 - p)
        for e in range(self.neg_risk_events):  # legs of one event, each its own binary question
            opens = self.rng.uniform(0, 0.2) * self.horizon
            resolves = opens + self.rng.uniform(0.5, 0.8) * self.horizon
            for leg in range(self.rng.randint(3, 4)):
                m = self.chain.market(opens - 1, event=1000 * self.seed + e, leg=leg)
                self._add(self.rng.uniform(0.1, 0.5), m, opens, resolves)
        self.maker_wallets = [self.new_wallet() for _ in range(self.makers)]

    def _add(
        self,
        opening: float,
        m: Market | None = None,
        opens: float | None = None,
        resolves: float | None = None,
    ) -> None:
        if opens is None or resolves is None:
            opens = self.rng.uniform(0, 0.2) * self.horizon
            resolves = opens + self.rng.uniform(0.5, 0.8) * self.horizon
        market = m or self.chain.market(opens - 1)
        w, path, step = 0.0, [0.0], math.sqrt(1.0 / _STEPS)
        for _ in range(_STEPS):
            w += self.rng.gauss(0.0, step)
            path.append(w)
        self.specs.append(Spec(market, opens, resolves, _phi_inv(opening), path))

    def new_wallet(self) -> str:
        w = wallet(1000 * (self.seed % 1000) + self._next_wallet)
        self._next_wallet += 1
        return w

    def maker(self) -> str:
        return self.rng.choice(self.maker_wallets)

    def take(
        self,
        s: Spec,
        t: float,
        taker: str,
        outcome: int,
        usd: float,
        *,
        price: float | None = None,
        maker: str | None = None,
    ) -> None:
        """``taker`` buys ``outcome`` for about ``usd`` at ``price`` (default: market + spread)."""
        q = price if price is not None else min(0.99, s.price(t, outcome) + HALF_SPREAD)
        shares = round(usd / q, 2)
        self.chain.trade(
            s.market, t, taker, "BUY", outcome, shares, q, maker or self.maker(), mint=True
        )

    def pick(self, n: int, *, binary_only: bool = False) -> list[Spec]:
        pool = [s for s in self.specs if not (binary_only and s.market.neg_risk)]
        pool = [s for s in pool if 0.05 < s.opening < 0.95]
        return self.rng.sample(pool, min(n, len(pool)))

    async def finish(self, db: asyncpg.Pool) -> None:
        for s in self.specs:
            self.chain.resolve(s.market, s.resolves, s.winner)
        await self.chain.ingest(db)


# -- behaviours -------------------------------------------------------------------------------


def noise_taker(w: World, who: str, events: int, usd: float = 100.0) -> None:
    for s in w.pick(events):
        w.take(s, s.time(w.rng), who, w.rng.randrange(2), usd * w.rng.uniform(0.5, 1.5))


def skilled_taker(w: World, who: str, events: int, skill: float, usd: float = 100.0) -> None:
    for s in w.pick(events):
        t = s.time(w.rng, early=True)
        f = s.frac(t)
        ahead = s.yes(f + skill * 0.5 * (1 - f)) - s.yes(f)
        outcome = w.rng.randrange(2) if skill <= 0 or ahead == 0 else (0 if ahead > 0 else 1)
        w.take(s, t, who, outcome, usd * w.rng.uniform(0.5, 1.5))


def edge_taker(w: World, who: str, events: int, edge: float, usd: float = 100.0) -> None:
    """Buys ``edge`` below the market, a while before the close (random side)."""
    for s in w.pick(events, binary_only=True):
        outcome = w.rng.randrange(2)
        t = s.opens + (s.resolves - s.opens) * w.rng.uniform(0.5, 0.75)
        q = round(s.price(t, outcome) - edge, 2)
        if not 0.02 <= q <= 0.98:
            continue
        w.take(s, t, who, outcome, usd, price=q)


def penny_picker(w: World, who: str, events: int, usd: float = 200.0) -> None:
    times = {id(s): s.time(w.rng) for s in w.specs}
    favourites = [
        s for s in w.specs if max(s.price(times[id(s)], 0), s.price(times[id(s)], 1)) > 0.9
    ]
    for s in w.rng.sample(favourites, min(events, len(favourites))):
        t = times[id(s)]
        outcome = 0 if s.price(t, 0) > 0.5 else 1
        w.take(s, t, who, outcome, usd, price=min(0.99, s.price(t, outcome)))


def lucky(w: World, who: str, usd: float = 100.0) -> None:
    coin_flips = [s for s in w.specs if 0.4 <= s.opening <= 0.6 and not s.market.neg_risk]
    for s in w.rng.sample(coin_flips, min(3, len(coin_flips))):
        w.take(s, s.opens + 1, who, s.winner, usd)


def wash_pair(w: World, showcase: str, partner: str, events: int, usd: float = 500.0) -> None:
    """The showcase buys the winner at 0.50 from its partner; the market trades it at ~0.95."""
    chosen = w.rng.sample(w.specs, min(events, len(w.specs)))
    for s in chosen:
        t = s.resolves - 0.05 * (s.resolves - s.opens)
        # the market around it: others trade the winner near certainty
        other = w.new_wallet()
        w.take(s, t - 600, other, s.winner, 50.0, price=0.95)
        w.take(s, t, showcase, s.winner, usd, price=0.50, maker=partner)


def wash_ring(
    w: World, showcase: str, partners: list[str], events: int, usd: float = 500.0
) -> None:
    """The showcase buys the winner at 0.50 from one of several partners in turn; the market
    trades it at ~0.95 (others before and after the fill)."""
    chosen = w.rng.sample(w.specs, min(events, len(w.specs)))
    for n, s in enumerate(chosen):
        t = s.resolves - 0.05 * (s.resolves - s.opens)
        for dt in (-600.0, 600.0):
            w.take(s, t + dt, w.new_wallet(), s.winner, 50.0, price=0.95)
        w.take(s, t, showcase, s.winner, usd, price=0.50, maker=partners[n % len(partners)])


def round_trip_ring(w: World, ring: list[str], events: int, usd: float = 300.0) -> None:
    """The ring trades among itself at the market price, for volume: in each market every member
    buys from every other (the maker minting the other side) and sells back, nothing against the
    rest of the market."""
    for s in w.pick(events):
        t = s.time(w.rng)
        for i, taker in enumerate(ring):
            for j, maker in enumerate(ring):
                if i == j:
                    continue
                at = t + 60 * (len(ring) * i + j)
                outcome = w.rng.randrange(2)
                q = min(0.99, s.price(at, outcome) + HALF_SPREAD)
                shares = round(usd / q, 2)
                w.chain.trade(s.market, at, taker, "BUY", outcome, shares, q, maker, mint=True)
                w.chain.trade(s.market, at + 30, taker, "SELL", outcome, shares, q, maker)


def news_taker(w: World, who: str, events: int, usd: float = 200.0) -> None:
    """Buys right after a price jump, at the new price, from the market's makers; the market
    trades at the old price just before and at the new one after (others)."""
    for s in w.pick(events, binary_only=True):
        t = s.opens + (s.resolves - s.opens) * w.rng.uniform(0.3, 0.7)
        before = s.price(t - 1800, s.winner)
        after = min(0.97, max(before + 0.3, 0.85))  # the news: the winner jumps
        for dt in (-1800.0, -300.0):
            w.take(s, t + dt, w.new_wallet(), s.winner, 50.0, price=before)
        w.take(s, t + 5, who, s.winner, usd * w.rng.uniform(0.5, 1.5), price=after)
        for dt in (600.0, 2400.0, 5000.0):
            w.take(s, t + dt, w.new_wallet(), s.winner, 50.0, price=after)
