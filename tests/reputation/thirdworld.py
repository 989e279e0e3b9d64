"""A third independent population for reputation checks, built on what real Polymarket has and
the two other worlds (``orderflow.sim``, :mod:`tests.reputation.newsworld`) lack.

Prices are the posterior of a continuous hourly signal (:mod:`tests.reputation.thirdworld_markets`),
so they drift to 0.97-0.999 before most resolutions; 3 % of events resolve against what the price
said (a dispute). V1 markets before 30 % of the horizon, V2 after, half of the V2 markets with a
taker fee (shares x 0.02 x p x (1 - p)). Who trades:

* **takers** with heavy-tailed activity; a skilled one sees the price ``skill`` x 72 hours ahead
  and trades only when that beats the spread; an unskilled one takes a side at random; a few
  trade against what they see. **faded** takers are skilled in the first half of the horizon and
  random after it (their hidden skill, what a follower would get now, is 0).
* **market makers** quoting every market they cover for its whole life: the maker side of most
  fills, earning the spread, their inventory carried to the resolution; no taker trade at all
  (their liquidity rewards are paid off-chain and are not in the logs).
* **resolution snipers**: buy the side the price is sure of at 0.97-0.999, 5 minutes to 6 hours
  before the resolution; a dispute is a total loss.
* **copy-bots**: copy a skilled wallet's buys (80 % of them, 0.2-2 times the size) 5-90 seconds
  later (fast) or 3-20 minutes later (slow), paying 0.5-2 cents more.
* **sybil clusters**: one operator (skilled, or not) spread over 5-30 wallets.
* **insiders**: 1-5 large early bets on the winner of markets that then move to it.
* **stale-quote pickers**: buy, seconds after the price steps up by 4 cents or more, at the old
  price plus half a cent (a maker's quote not yet pulled): real edge at the fill that a follower
  seconds later cannot have.
* **wash**: a ring of 10 wallets doing round trips among themselves at the market price across
  many markets, and self-trading pairs (two proxies of one operator), together about a quarter of
  the world's volume.

:attr:`World.truth` holds each wallet's style, hidden skill and fill count (counted as the logs
are written); :func:`World.logs` returns the raw logs ``orderflow listen --from-file`` reads.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

import numpy as np

from tests.reputation.thirdworld_markets import HOUR, Market, make_market

T0 = 1_754_000_000  # 2025-07-31
DAY = 86_400.0
# Styles whose record a follower cannot copy or should not: none belongs in WHALE or SMART.
STYLES_NEVER_TOP = (
    "maker",
    "sniper",
    "copybot fast",
    "copybot slow",
    "picker",
    "wash ring",
    "wash pair",
)


@dataclass(frozen=True)
class Params:
    wallets: int = 360
    binary: int = 60
    negrisk: int = 10
    horizon_days: float = 120.0
    v1_until: float = 0.3
    dispute: float = 0.03
    fee_share: float = 0.5
    alpha: float = 1.1
    cap: int = 900
    heavy: int = 3
    skilled_share: float = 0.15
    negative_share: float = 0.05
    faded_share: float = 0.05
    act_corr: float = 0.0  # > 0: the skilled trade more
    makers: int = 6
    snipers: int = 6
    copybots: int = 8  # half fast, half slow
    sybil_clusters: int = 2  # the first skilled, the second not
    insiders: int = 5
    pickers: int = 3
    ring: int = 10
    wash_pairs: int = 2
    wash_share: float = 0.25
    nobody_skilled: bool = False


class World:
    def __init__(self, seed: int, p: Params = Params()) -> None:
        self.rng, self.np, self.p, self.seed = (
            random.Random(seed),
            np.random.default_rng(seed),
            p,
            seed,
        )
        self.h = p.horizon_days * DAY
        self.actions: list[tuple[float, int, str, dict[str, Any]]] = []
        self.truth: dict[str, dict[str, Any]] = {}
        self.events: list[Market] = []
        for i in range(p.binary + p.negrisk):
            m = make_market(
                i, i >= p.binary, self.h, p.v1_until, p.dispute, p.fee_share, self.rng, self.np
            )
            self.events.append(m)
            for leg in range(m.legs):
                self._act(m.opens - HOUR, "prepare", {"m": m, "leg": leg})
            self._act(m.resolves + 600, "resolve", {"m": m})
        self.makers = [self.wallet("maker", 0.0) for _ in range(p.makers)]
        self.cover = {
            mk: {m.idx for m in self.events if self.rng.random() < min(1.0, 0.3 + m.weight / 3)}
            for mk in self.makers
        }
        self.buys: dict[str, list[tuple[Market, int, int, float, float, float]]] = {}
        self.volume = 0.0  # USDC of every trade so far (wash trading is sized against it)
        self._populate()

    def wallet(self, style: str, skill: float, **extra: Any) -> str:
        a = f"0x{0x7A1D0000 + self.seed % 256:08x}{len(self.truth) + 1:08x}" + "3d" * 12
        self.truth[a] = {"style": style, "skill": skill, "fills": 0, **extra}
        return a

    def _act(self, t: float, kind: str, data: dict[str, Any]) -> None:
        self.actions.append((t, len(self.actions), kind, data))

    def _pick(self) -> tuple[Market, int, float]:
        m = self.rng.choices(self.events, weights=[x.weight for x in self.events])[0]
        return m, self.rng.randrange(m.legs), self.rng.uniform(m.opens, m.resolves - 600)

    def trade(
        self,
        m: Market,
        leg: int,
        out: int,
        t: float,
        who: str,
        side: str,
        shares: float,
        q: float,
        maker: str | None = None,
    ) -> float:
        """Records a match (``maker`` None: the market's makers fill it); the shares traded,
        0 when the price or size is out of bounds."""
        q, shares = round(q, 3), round(shares, 2)
        if not 0.005 <= q <= 0.999 or shares < 1 or t >= m.resolves:
            return 0.0
        d = {"m": m, "leg": leg, "out": out, "side": side, "who": who, "shares": shares, "q": q}
        self._act(t, "trade", {**d, "maker": maker})
        self.volume += shares * q
        if side == "BUY":
            self.buys.setdefault(who, []).append((m, leg, out, t, shares, q))
        return shares

    # -- takers ----------------------------------------------------------------------------
    def _decide(self, m: Market, leg: int, t: float, skill: float) -> int | None:
        p = m.yes(t, leg)
        if not 0.03 <= p <= 0.97:
            return None
        if skill == 0:
            return self.rng.randrange(2)
        view = m.yes(min(t + abs(skill) * 72 * HOUR, m.resolves - HOUR), leg)
        if abs(view - p) < m.half + 0.01:
            return None
        out = 0 if view > p else 1
        return out if skill > 0 else 1 - out

    def taker(self, who: str, n: int, skill: float, stake: float, faded: bool = False) -> None:
        r = self.rng
        for _ in range(n):
            out = None
            for _ in range(30):
                m, leg, t = self._pick()
                out = self._decide(m, leg, t, 0.0 if faded and t > self.h / 2 else skill)
                if out is not None:
                    break
            if out is None:
                continue
            q = m.price(t, leg, out) + m.half
            shares = self.trade(
                m, leg, out, t, who, "BUY", stake * math.exp(r.gauss(0, 0.5)) / q, q
            )
            if shares and r.random() < 0.25:  # an exit before the resolution
                t2 = r.uniform(t + 600, m.resolves)
                if t2 < m.resolves - 600:
                    q2 = max(0.005, m.price(t2, leg, out) - m.half)
                    self.trade(m, leg, out, t2, who, "SELL", shares, q2)

    def _populate(self) -> None:
        r, p = self.rng, self.p
        acts = [
            r.randint(300, p.cap) if i < p.heavy else min(p.cap, int(r.random() ** (-1 / p.alpha)))
            for i in range(p.wallets)
        ]
        order = sorted(range(p.wallets), key=lambda i: (acts[i], r.random()))
        quantile = {i: rank / (p.wallets - 1) for rank, i in enumerate(order)}
        skilled: list[tuple[str, int]] = []
        for i in range(p.wallets):
            x, skill, style = r.random(), 0.0, "taker"
            share = p.skilled_share * (1 + p.act_corr * (2 * quantile[i] - 1))
            if not p.nobody_skilled and x < share:
                skill = r.uniform(0.1, 1.0)
            elif not p.nobody_skilled and x < share + p.negative_share:
                skill = -r.uniform(0.1, 0.6)
            elif not p.nobody_skilled and x < share + p.negative_share + p.faded_share:
                style = "faded"
            stake = math.exp(r.gauss(math.log(150), 1.0))
            if style == "faded":
                before = r.uniform(0.3, 1.0)
                who = self.wallet("faded", 0.0, skill_before=before)
                self.taker(who, max(acts[i], 20), before, stake, faded=True)
            else:
                who = self.wallet(style, skill)
                self.taker(who, acts[i], skill, stake)
            if skill > 0.3 or (p.nobody_skilled and acts[i] >= 20):
                skilled.append((who, acts[i]))
        self._sybils()
        self._insiders()
        self._snipers()
        self._pickers()
        leaders = [w for w, _ in sorted(skilled, key=lambda x: -x[1])[: max(1, p.copybots // 2)]]
        self._copybots(leaders)
        self._wash()

    def _sybils(self) -> None:
        r, p = self.rng, self.p
        for k in range(p.sybil_clusters):
            skill = r.uniform(0.5, 1.0) if k % 2 == 0 and not p.nobody_skilled else 0.0
            cluster = [self.wallet("sybil", skill, cluster=k) for _ in range(r.randint(5, 30))]
            stake = r.uniform(100, 600)
            for _ in range(r.randint(150, 600)):
                self.taker(r.choice(cluster), 1, skill, stake)

    def _insiders(self) -> None:
        r = self.rng
        for _ in range(0 if self.p.nobody_skilled else self.p.insiders):
            who, bets = self.wallet("insider", 1.0), r.randint(1, 5)
            for _ in range(2000):
                if bets == 0:
                    break
                m, leg, _ = self._pick()
                t = r.uniform(m.opens, m.opens + 0.5 * (m.resolves - m.opens))
                out = 0 if m.known(leg, 0) else 1
                q = m.price(t, leg, out)
                if 0.15 <= q <= 0.6 and m.price(m.resolves - HOUR, leg, out) >= 0.9:
                    usd = r.uniform(5_000, 50_000)
                    bets -= bool(
                        self.trade(m, leg, out, t, who, "BUY", usd / (q + m.half), q + m.half)
                    )

    def _snipers(self) -> None:
        r = self.rng
        for _ in range(self.p.snipers):
            who, n, done = self.wallet("sniper", 0.0), r.randint(20, 120), 0
            for _ in range(50 * n):
                if done >= n:
                    break
                m, leg, _ = self._pick()
                t = m.resolves - r.uniform(300, 6 * HOUR)
                for out in (0, 1):
                    q = m.price(t, leg, out)
                    if 0.97 <= q < 0.999:
                        usd, q = (
                            r.uniform(100, 3_000),
                            min(0.999, q + r.choice((0.001, 0.002, 0.005))),
                        )
                        done += bool(self.trade(m, leg, out, t, who, "BUY", usd / q, q))

    def _pickers(self) -> None:
        r = self.rng
        for _ in range(self.p.pickers):
            who, n, done = self.wallet("picker", 0.0), r.randint(50, 300), 0
            for _ in range(50 * n):
                if done >= n:
                    break
                m, leg, t = self._pick()
                row = int((t - m.opens) // HOUR)
                if row < 1:
                    continue
                at = m.opens + row * HOUR
                for out in (0, 1):
                    before, now = m.price(at - 1, leg, out), m.price(at, leg, out)
                    if now - before >= 0.04 and 0.05 <= before <= 0.95:
                        usd = r.uniform(200, 2_000)
                        q = before + 0.005
                        done += bool(
                            self.trade(m, leg, out, at + r.uniform(1, 20), who, "BUY", usd / q, q)
                        )

    def _copybots(self, leaders: list[str]) -> None:
        r = self.rng
        for k in range(self.p.copybots):
            fast = k % 2 == 0
            leader = leaders[k // 2 % len(leaders)]
            delay = (5, 90) if fast else (180, 1_200)
            who = self.wallet(
                "copybot fast" if fast else "copybot slow",
                0.0,
                leader=leader,
                leader_skill=self.truth[leader]["skill"],
            )
            ratio = r.uniform(0.2, 2.0)
            for m, leg, out, t, shares, q in list(self.buys.get(leader, [])):
                if r.random() < 0.8:
                    q2 = q + r.choice((0.005, 0.01, 0.02))
                    self.trade(m, leg, out, t + r.uniform(*delay), who, "BUY", shares * ratio, q2)

    def _wash(self) -> None:
        """Round trips at the market's price: ring members with each other, each pair's two
        proxies with each other, until wash is ``wash_share`` of all volume."""
        r, p = self.rng, self.p
        ring = [self.wallet("wash ring", 0.0) for _ in range(p.ring)]
        pairs = [
            (self.wallet("wash pair", 0.0), self.wallet("wash pair", 0.0))
            for _ in range(p.wash_pairs)
        ]
        budget = self.volume * p.wash_share / (1 - p.wash_share)
        done = 0.0
        while done < budget:
            if pairs and r.random() < 0.4:
                a, b = r.choice(pairs)
                c = b
            else:
                a, b, c = r.sample(ring, 3)
            m, leg, t = self._pick()
            out = r.randrange(2)
            q = m.price(t, leg, out)
            if not 0.05 <= q <= 0.95:
                continue
            shares = self.trade(m, leg, out, t, a, "BUY", r.uniform(500, 5_000) / q, q, b)
            t2 = min(m.resolves - 60, t + r.uniform(60, 4 * HOUR))
            if shares and self.trade(m, leg, out, t2, a, "SELL", shares, m.price(t2, leg, out), c):
                done += shares * (q + m.price(t2, leg, out))

    def logs(self) -> list[dict[str, Any]]:
        """Every action as raw logs in chain order (:mod:`tests.reputation.thirdworld_logs`)."""
        from tests.reputation.thirdworld_logs import emit

        return emit(self)
