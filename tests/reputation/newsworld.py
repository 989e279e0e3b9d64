"""A second independent population for reputation checks: news-driven markets, heavy-tailed
activity, V1 and V2 exchanges, multi-leg neg-risk events, several makers per match.

Independent of ``orderflow.sim`` and of :mod:`tests.reputation.population` (a diffusion world):
here an event's price is the Bayesian posterior over its candidates after the news so far (each
news item a noisy signal about one candidate), so prices jump and are calibrated by construction.
A skilled wallet either knows the next news item or holds a private signal about the winner, and
trades only when its view beats the spread; an unskilled one takes a random side (leaning to the
cheaper). Activity is heavy-tailed (P(trades >= k) ~ k^-alpha: most wallets trade 1-5 times, a
few thousands), skill may rise or fall with activity and stake size, and markets differ in
liquidity (weight, spread, makers per match).

Styles beside the takers: market makers (the makers of most fills, and taker bets of their
own, no view), penny pickers (favourites at 0.93-0.98), lucky wallets (1-4 large bets that won),
wash pairs off the market (a showcase buys the near-certain winner at 0.35-0.60 from its
partners while the market is above 0.85) and at the market's price (round trips for volume).

:func:`World.logs` returns the raw logs as ``orderflow listen --from-file`` reads them (one JSON
object a line); :attr:`World.truth` holds each wallet's style, hidden skill and fill count.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

from orderflow.chain import contracts as c
from orderflow.chain.tokens import condition_id, ctf_tokens

T0 = 1_752_000_000  # 2025-07-08
DAY = 86_400.0
UMA = "0x6a9d222616c90fca5754cd1333cfd9b7fb6a4f74"
UNIT = 1_000_000
STYLES_NEVER_TOP = ("maker", "penny", "lucky", "wash")


@dataclass(frozen=True)
class Params:
    wallets: int = 500
    binary: int = 80
    negrisk: int = 12  # events of 3-8 legs
    horizon_days: float = 120.0
    v1_until: float = 0.4  # markets opened before this share of the horizon trade on V1
    alpha: float = 1.1  # activity tail
    cap: int = 1500
    heavy: int = 2  # wallets with 800..cap trades
    skilled_share: float = 0.2
    negative_share: float = 0.08  # wallets that trade against their information
    act_corr: float = 0.0  # > 0: the skilled trade more; < 0: less
    size_corr: float = 0.0  # > 0: the skilled stake more
    makers: int = 5
    penny: int = 8
    lucky: int = 10
    wash_off: int = 2
    wash_at: int = 2
    nobody_skilled: bool = False


@dataclass
class Event:
    idx: int
    k: int  # candidates (a binary market: 2, one market)
    neg_risk: bool
    version: c.ExchangeVersion
    opens: float
    resolves: float
    prior: list[float]
    winner: int
    news: list[tuple[float, int, int, float]]  # (time, candidate, signal, accuracy)
    weight: float  # liquidity
    half: float  # half spread
    markets: list[tuple[str, str, str, tuple[int, int]]] = field(default_factory=list)

    @property
    def legs(self) -> int:
        return self.k if self.neg_risk else 1

    def yes(self, t: float, leg: int, extra: tuple[tuple[int, int, float], ...] = ()) -> float:
        """P(leg's candidate wins | news up to t and ``extra`` signals)."""
        p = list(self.prior)
        for j, s, a in [(j, s, a) for tn, j, s, a in self.news if tn <= t] + list(extra):
            p = [
                x * ((a if s else 1 - a) if i == j else (1 - a if s else a))
                for i, x in enumerate(p)
            ]
            z = sum(p)
            p = [x / z for x in p]
        return p[leg]

    def price(self, t: float, leg: int, outcome: int) -> float:
        """The traded price: a 0.01 tick, 0.001 near the ends."""
        y = self.yes(t, leg)
        y = min(0.999, max(0.001, round(y, 2) if 0.04 <= y <= 0.96 else round(y, 3)))
        return y if outcome == 0 else round(1 - y, 3)

    def wins(self, leg: int, outcome: int) -> bool:
        return (self.winner == leg) == (outcome == 0)

    def next_news(self, t: float) -> tuple[float, int, int, float] | None:
        return next((n for n in self.news if n[0] > t), None)


class World:
    def __init__(self, seed: int, p: Params = Params()) -> None:
        self.rng, self.p, self.seed = random.Random(seed), p, seed
        self.h = p.horizon_days * DAY
        self.actions: list[tuple[float, int, str, dict[str, Any]]] = []
        self.truth: dict[str, dict[str, Any]] = {}
        self.events: list[Event] = [self._event(i) for i in range(p.binary + p.negrisk)]
        self.total_weight = sum(e.weight for e in self.events)
        self.makers = [self.wallet("maker", 0.0) for _ in range(p.makers)]
        self.cover = {
            m: {e.idx for e in self.events if self.rng.random() < min(1.0, 0.25 + e.weight / 3)}
            for m in self.makers
        }
        self.hold: dict[tuple[str, int], float] = {}  # makers' inventory (units), as emitted
        self.orders = 0
        self._populate()

    # -- markets ----------------------------------------------------------------------------
    def wallet(self, style: str, skill: float) -> str:
        a = f"0x{0xC0FFEE00 + self.seed % 256:08x}{len(self.truth) + 1:08x}" + "5e" * 12
        self.truth[a] = {"style": style, "skill": skill, "fills": 0}
        return a

    def _event(self, i: int) -> Event:
        r = self.rng
        neg = i >= self.p.binary
        k = r.randint(3, 8) if neg else 2
        opens = r.uniform(0, 0.75) * self.h
        resolves = min(self.h - DAY, opens + r.uniform(0.1, 0.6) * self.h)
        if neg:
            w = [r.expovariate(1.0) ** 1.5 for _ in range(k)]
        else:
            y = min(0.97, max(0.03, r.betavariate(0.7, 0.7)))
            w = [y, 1 - y]
        prior = [x / sum(w) for x in w]
        winner = r.choices(range(k), weights=prior)[0]
        news = []
        for _ in range(r.randint(2, 14)):
            j, a = (r.randrange(k) if neg else 0), r.uniform(0.6, 0.85)
            news.append(
                (r.uniform(opens, resolves), j, int(r.random() < (a if winner == j else 1 - a)), a)
            )
        weight = math.exp(r.gauss(0, 1.3))
        version: c.ExchangeVersion = "V1" if opens < self.p.v1_until * self.h else "V2"
        e = Event(
            i,
            k,
            neg,
            version,
            opens,
            resolves,
            prior,
            winner,
            sorted(news),
            weight,
            min(0.04, max(0.005, 0.012 / math.sqrt(weight))),
        )
        prefix = f"{r.getrandbits(248):062x}"
        for leg in range(e.legs):
            qid, oracle = (
                (f"0x{prefix}{leg:02x}", c.NEG_RISK_ADAPTER)
                if neg
                else (f"0x{r.getrandbits(256):064x}", UMA)
            )
            cond = condition_id(oracle, qid, 2)
            toks = ctf_tokens(cond, 2, neg_risk=neg, source="newsworld")
            e.markets.append((cond, qid, oracle, (toks[0].token_id, toks[1].token_id)))
            self._act(opens - 3600, "prepare", {"e": e, "leg": leg})
        self._act(resolves + 600, "resolve", {"e": e})
        return e

    def exchange(self, e: Event) -> str:
        if e.version == "V1":
            return c.V1_NEG_RISK_CTF_EXCHANGE if e.neg_risk else c.V1_CTF_EXCHANGE
        return c.V2_NEG_RISK_CTF_EXCHANGE if e.neg_risk else c.V2_CTF_EXCHANGE

    def _act(self, t: float, kind: str, data: dict[str, Any]) -> None:
        self.actions.append((t, len(self.actions), kind, data))

    def _pick(self) -> tuple[Event, int, float]:
        e = self.rng.choices(self.events, weights=[x.weight for x in self.events])[0]
        return e, self.rng.randrange(e.legs), self.rng.uniform(e.opens, e.resolves - 60)

    def _trade(
        self,
        e: Event,
        leg: int,
        out: int,
        t: float,
        who: str,
        side: str,
        shares: float,
        q: float,
        maker: str | None = None,
    ) -> float:
        q, shares = round(q, 3), round(shares, 2)
        if not 0.005 <= q <= 0.995 or shares <= 0.5:
            return 0.0
        self._act(
            t,
            "trade",
            {
                "e": e,
                "leg": leg,
                "out": out,
                "side": side,
                "who": who,
                "shares": shares,
                "q": q,
                "maker": maker,
            },
        )
        return shares

    # -- behaviours -------------------------------------------------------------------------
    def _decide(self, e: Event, leg: int, t: float, skill: float) -> int | None:
        p = e.yes(t, leg)
        if not 0.02 <= p <= 0.98:
            return None
        if skill == 0:  # leans to the cheaper side: no edge in a calibrated market
            cheap = 0 if p < 0.5 else 1
            return cheap if self.rng.random() < 0.6 else 1 - cheap
        s = abs(skill)
        nxt = e.next_news(t)
        if nxt is not None and self.rng.random() < 0.5 * s:  # knows the next news item
            view = e.yes(t, leg, ((nxt[1], nxt[2], nxt[3]),))
        else:  # a private signal about the winner
            a, j = 0.5 + 0.3 * s, (leg if e.neg_risk else 0)
            sig = int(self.rng.random() < (a if e.winner == j else 1 - a))
            view = e.yes(t, leg, ((j, sig, a),))
        if abs(view - p) < 1.5 * e.half + 0.01:
            return None  # not worth the spread
        out = 0 if view > p else 1
        return out if skill > 0 else 1 - out

    def _taker(self, who: str, n: int, skill: float, stake: float) -> None:
        r = self.rng
        for _ in range(n):
            for _ in range(30):
                e, leg, t = self._pick()
                out = self._decide(e, leg, t, skill)
                if out is not None:
                    break
            if out is None:
                continue
            q = min(0.995, e.price(t, leg, out) + e.half)
            shares = self._trade(
                e, leg, out, t, who, "BUY", stake * math.exp(r.gauss(0, 0.6)) / q, q
            )
            if shares and r.random() < (0.3 if skill else 0.15):  # an exit before resolution
                nxt = e.next_news(t)
                t2 = nxt[0] + r.uniform(60, 3600) if nxt and skill else r.uniform(t, e.resolves)
                if t2 < e.resolves - 60:
                    self._trade(
                        e,
                        leg,
                        out,
                        t2,
                        who,
                        "SELL",
                        shares,
                        max(0.005, e.price(t2, leg, out) - e.half),
                    )

    def _populate(self) -> None:
        r, p = self.rng, self.p
        acts = [
            r.randint(800, p.cap) if i < p.heavy else min(p.cap, int(r.random() ** (-1 / p.alpha)))
            for i in range(p.wallets)
        ]
        order = sorted(range(p.wallets), key=lambda i: (acts[i], r.random()))
        quantile = {i: rank / (p.wallets - 1) for rank, i in enumerate(order)}
        for i in range(p.wallets):
            skill, x = 0.0, r.random()
            share = p.skilled_share * (1 + p.act_corr * (2 * quantile[i] - 1))
            if not p.nobody_skilled and x < share:
                skill = r.uniform(0.1, 1.0)
            elif not p.nobody_skilled and x < share + p.negative_share:
                skill = -r.uniform(0.1, 0.6)
            stake = math.exp(r.gauss(math.log(40), 1.0) + p.size_corr * skill * 1.5)
            self._taker(self.wallet("taker", skill), acts[i], skill, stake)
        for m in self.makers:  # makers bet too, without a view
            self._taker(m, r.randint(20, 150), 0.0, r.uniform(200, 2000))
        for _ in range(p.penny):
            who, n, done = self.wallet("penny", 0.0), r.randint(10, 250), 0
            for _ in range(50 * n):
                if done >= n:
                    break
                e, leg, t = self._pick()
                for out in (0, 1):
                    q = e.price(t, leg, out)
                    if 0.93 <= q <= 0.98:
                        usd = r.uniform(100, 3000)
                        done += bool(
                            self._trade(e, leg, out, t, who, "BUY", usd / (q + 0.01), q + 0.01)
                        )
        for _ in range(p.lucky):
            who, bets, stake = self.wallet("lucky", 0.0), r.randint(1, 4), r.uniform(1_000, 30_000)
            for _ in range(1000):
                if bets == 0:
                    break
                e, leg, t = self._pick()
                for out in (0, 1):
                    if e.wins(leg, out) and 0.25 <= e.price(t, leg, out) <= 0.65:
                        q = e.price(t, leg, out) + e.half
                        bets -= bool(self._trade(e, leg, out, t, who, "BUY", stake / q, q))
                        break
        for k in range(p.wash_off):
            show = self.wallet("wash", 0.0)
            partners = [self.wallet("wash partner", 0.0) for _ in range(1 if k % 2 == 0 else 3)]
            n, done = r.randint(6, 40), 0
            for _ in range(200 * n):
                if done >= n:
                    break
                e, leg, _ = self._pick()
                t = r.uniform(e.opens + 0.6 * (e.resolves - e.opens), e.resolves - 600)
                out = 0 if e.wins(leg, 0) else 1
                if e.price(t, leg, out) >= 0.85:
                    q = r.uniform(0.35, 0.6)
                    self._trade(
                        e,
                        leg,
                        out,
                        t,
                        show,
                        "BUY",
                        r.uniform(300, 3000) / q,
                        q,
                        partners[done % len(partners)],
                    )
                    done += 1
        for _ in range(p.wash_at):
            a, b = self.wallet("wash", 0.0), self.wallet("wash partner", 0.0)
            for _ in range(r.randint(10, 80)):
                e, leg, _ = self._pick()
                t, out = r.uniform(e.opens, e.resolves - 3600), r.randrange(2)
                q = e.price(t, leg, out)
                shares = self._trade(e, leg, out, t, a, "BUY", r.uniform(500, 5000) / q, q, b)
                if shares:
                    self._trade(e, leg, out, t + r.uniform(60, 1800), a, "SELL", shares, q, b)

    def logs(self) -> list[dict[str, Any]]:
        """Every action as raw logs in chain order (:mod:`tests.reputation.newsworld_logs`)."""
        from tests.reputation.newsworld_logs import emit

        return emit(self)
