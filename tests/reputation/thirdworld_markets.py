"""The markets of :mod:`tests.reputation.thirdworld`: events whose prices are the posterior of a
continuous signal, and a dispute that can overturn what the price said.

Each event has k candidates (a binary market: k = 2, one market; a neg-risk event: one market a
candidate). Every hour each candidate's signal S_j takes a N(delta, 1) step if j is the
informational winner and a N(0, 1) step otherwise, so P(j | the signals so far) is proportional
to prior_j * exp(delta * S_j): a calibrated price that drifts toward the winner and is near 0.97
to 0.999 in a market's last hours, as real markets are before they resolve. A few events
(``dispute``) resolve to another candidate than the informational one: the price was confident
and wrong, as when a UMA dispute flips a result.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import numpy as np

from orderflow.chain import contracts as c
from orderflow.chain.tokens import condition_id, ctf_tokens

HOUR = 3_600.0
UMA = "0x6a9d222616c90fca5754cd1333cfd9b7fb6a4f74"


@dataclass
class Market:
    """One event (a binary market or a neg-risk event of ``k`` legs)."""

    idx: int
    k: int
    neg_risk: bool
    version: str
    opens: float
    resolves: float
    winner: int  # the candidate the signals point to
    paid: int  # the candidate the resolution pays (another one after a dispute)
    post: np.ndarray  # hours x k: P(candidate j | signals up to that hour)
    weight: float  # liquidity: how often takers pick it
    half: float  # half spread
    fee_rate: float  # V2 taker fee: shares * fee_rate * p * (1 - p)
    markets: list[tuple[str, str, str, tuple[int, int]]] = field(default_factory=list)

    @property
    def legs(self) -> int:
        return self.k if self.neg_risk else 1

    def _row(self, t: float) -> int:
        return min(len(self.post) - 1, max(0, int((t - self.opens) // HOUR)))

    def yes(self, t: float, leg: int) -> float:
        """P(YES of ``leg``) as the market knows it at ``t``."""
        return float(self.post[self._row(t), leg])

    def price(self, t: float, leg: int, outcome: int) -> float:
        """The market's price of the outcome at ``t``: a 0.01 tick, 0.001 near the ends."""
        y = self.yes(t, leg)
        y = min(0.999, max(0.001, round(y, 2) if 0.04 <= y <= 0.96 else round(y, 3)))
        return y if outcome == 0 else round(1 - y, 3)

    def pays(self, leg: int, outcome: int) -> bool:
        """Whether the resolution pays this outcome of this leg."""
        return (self.paid == leg) == (outcome == 0)

    def known(self, leg: int, outcome: int) -> bool:
        """Whether the signals point to this outcome of this leg."""
        return (self.winner == leg) == (outcome == 0)

    def exchange(self) -> str:
        if self.version == "V1":
            return c.V1_NEG_RISK_CTF_EXCHANGE if self.neg_risk else c.V1_CTF_EXCHANGE
        return c.V2_NEG_RISK_CTF_EXCHANGE if self.neg_risk else c.V2_CTF_EXCHANGE


def make_market(
    idx: int,
    neg: bool,
    horizon: float,
    v1_until: float,
    dispute: float,
    fee_share: float,
    r: random.Random,
    nr: np.random.Generator,
) -> Market:
    k = r.randint(3, 6) if neg else 2
    opens = r.uniform(0, 0.8) * horizon
    resolves = min(horizon - HOUR * 24, opens + r.uniform(3, 60) * 86_400)
    if neg:
        w = [r.expovariate(1.0) ** 1.5 + 0.02 for _ in range(k)]
    else:
        y = min(0.95, max(0.05, r.betavariate(1.2, 1.2)))
        w = [y, 1 - y]
    prior = np.array(w) / sum(w)
    winner = int(nr.choice(k, p=prior))
    hours = max(2, int((resolves - opens) // HOUR) + 1)
    delta = math.sqrt(r.uniform(4.0, 12.0) / hours)  # delta^2 * T: the information by the end
    steps = nr.normal(0.0, 1.0, size=(hours, k))
    steps[:, winner] += delta
    logp = np.log(prior) + delta * np.cumsum(steps, axis=0)
    logp -= logp.max(axis=1, keepdims=True)
    post = np.exp(logp)
    post /= post.sum(axis=1, keepdims=True)
    paid = winner
    if r.random() < dispute:
        paid = r.choice([j for j in range(k) if j != winner])
    weight = math.exp(r.gauss(0, 1.0))
    version = "V1" if opens < v1_until * horizon else "V2"
    m = Market(
        idx,
        k,
        neg,
        version,
        opens,
        resolves,
        winner,
        paid,
        post,
        weight,
        min(0.03, max(0.005, 0.01 / math.sqrt(weight))),
        0.02 if version == "V2" and r.random() < fee_share else 0.0,
    )
    prefix = f"{r.getrandbits(248):062x}"
    for leg in range(m.legs):
        qid, oracle = (
            (f"0x{prefix}{leg:02x}", c.NEG_RISK_ADAPTER)
            if neg
            else (f"0x{r.getrandbits(256):064x}", UMA)
        )
        cond = condition_id(oracle, qid, 2)
        toks = ctf_tokens(cond, 2, neg_risk=neg, source="thirdworld")
        m.markets.append((cond, qid, oracle, (toks[0].token_id, toks[1].token_id)))
    return m
