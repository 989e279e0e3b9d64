"""A small market world for reputation tests, independent of ``orderflow.sim``.

Markets have a true probability; the traded price starts mispriced (in log-odds) and converges
to the truth by the close, so a wallet that buys what is underpriced sees the price move its way
(closing-line value) and, on average, wins more often than its entry price implied. Every trade
is a real match against a maker (:mod:`tests.reputation.chainbook`), imported through the
listener's pipeline.

Behaviours (each one a function of the world, a wallet and how much it trades):

* :func:`noise_taker` -- random side at the market price plus half the spread (no skill);
* :func:`skilled_taker` -- with probability ``skill`` buys the side the market underprices, else
  a random side (hidden skill = ``skill``);
* :func:`edge_taker` -- buys at ``edge`` below the true probability (a planted edge per share);
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


@dataclass
class Spec:
    market: Market
    p_true: float  # of outcome 0 (YES)
    winner: int
    opens: float
    resolves: float
    mispricing: float  # log-odds at opening

    def fair(self, outcome: int) -> float:
        return self.p_true if outcome == 0 else 1 - self.p_true

    def price(self, t: float, outcome: int) -> float:
        frac = min(1.0, max(0.0, (t - self.opens) / (self.resolves - self.opens)))
        yes = _sigmoid(_logit(self.p_true) + self.mispricing * (1 - frac) ** 2)
        yes = min(0.99, max(0.01, round(yes, 2)))
        return yes if outcome == 0 else round(1 - yes, 2)

    def time(self, rng: random.Random, early: bool = False) -> float:
        span = self.resolves - self.opens
        return self.opens + span * (rng.uniform(0.0, 0.4) if early else rng.uniform(0.0, 0.95))


@dataclass
class World:
    seed: int
    markets: int = 60
    neg_risk_events: int = 6
    favourites: int = 0  # extra markets with a favourite above 0.9
    makers: int = 3
    mispricing_sd: float = 0.6
    chain: Chain = field(default_factory=Chain)
    specs: list[Spec] = field(default_factory=list)
    rng: random.Random = field(init=False)
    _next_wallet: int = 1

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        horizon = 60 * DAY
        for _ in range(self.markets):
            p = self.rng.uniform(0.1, 0.9)
            self._add(p, horizon)
        for _ in range(self.favourites):
            p = self.rng.uniform(0.92, 0.985)
            self._add(p if self.rng.random() < 0.5 else 1 - p, horizon, mispricing=0.0)
        for e in range(self.neg_risk_events):
            legs = self.rng.randint(3, 4)
            weights = [self.rng.gammavariate(1.5, 1.0) for _ in range(legs)]
            total = sum(weights)
            probs = [min(0.9, max(0.05, w / total)) for w in weights]
            win = self.rng.choices(range(legs), weights=probs)[0]
            opens = self.rng.uniform(0, 0.2) * horizon
            resolves = opens + self.rng.uniform(0.5, 0.8) * horizon
            for leg, p in enumerate(probs):
                m = self.chain.market(opens - 1, event=1000 * self.seed + e, leg=leg)
                mis = self.rng.gauss(0.0, self.mispricing_sd)
                self.specs.append(Spec(m, p, 0 if leg == win else 1, opens, resolves, mis))
        self.maker_wallets = [self.new_wallet() for _ in range(self.makers)]

    def _add(self, p: float, horizon: float, mispricing: float | None = None) -> None:
        opens = self.rng.uniform(0, 0.2) * horizon
        resolves = opens + self.rng.uniform(0.5, 0.8) * horizon
        m = self.chain.market(opens - 1)
        winner = 0 if self.rng.random() < p else 1
        mis = self.rng.gauss(0.0, self.mispricing_sd) if mispricing is None else mispricing
        self.specs.append(Spec(m, p, winner, opens, resolves, mis))

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
        pool = [s for s in pool if 0.05 < s.p_true < 0.95]
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
        if w.rng.random() < skill:
            outcome = 0 if s.price(t, 0) < s.p_true else 1
        else:
            outcome = w.rng.randrange(2)
        w.take(s, t, who, outcome, usd * w.rng.uniform(0.5, 1.5))


def edge_taker(w: World, who: str, events: int, edge: float, usd: float = 100.0) -> None:
    for s in w.pick(events, binary_only=True):
        outcome = w.rng.randrange(2)
        q = round(s.fair(outcome) - edge, 2)
        if not 0.02 <= q <= 0.98:
            continue
        w.take(s, s.time(w.rng), who, outcome, usd, price=q)


def penny_picker(w: World, who: str, events: int, usd: float = 200.0) -> None:
    favourites = [s for s in w.specs if max(s.p_true, 1 - s.p_true) > 0.9]
    for s in w.rng.sample(favourites, min(events, len(favourites))):
        outcome = 0 if s.p_true > 0.5 else 1
        t = s.time(w.rng)
        w.take(s, t, who, outcome, usd, price=min(0.99, s.price(t, outcome)))


def lucky(w: World, who: str, usd: float = 100.0) -> None:
    coin_flips = [s for s in w.specs if 0.4 <= s.p_true <= 0.6 and not s.market.neg_risk]
    for s in w.rng.sample(coin_flips, min(3, len(coin_flips))):
        t = s.time(w.rng)
        w.take(s, t, who, s.winner, usd)


def wash_pair(w: World, showcase: str, partner: str, events: int, usd: float = 500.0) -> None:
    """The showcase buys the winner at 0.50 from its partner; the market trades it at ~0.95."""
    chosen = w.rng.sample(w.specs, min(events, len(w.specs)))
    for s in chosen:
        t = s.resolves - 0.05 * (s.resolves - s.opens)
        # the market around it: others trade the winner near certainty
        other = w.new_wallet()
        w.take(s, t - 600, other, s.winner, 50.0, price=0.95)
        w.take(s, t, showcase, s.winner, usd, price=0.50, maker=partner)
