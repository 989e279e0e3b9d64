"""Simulated markets: hidden true probabilities, outcomes drawn from them, prices moved by flow.

A *condition* is one binary question (two outcome tokens, YES = outcome 0, NO = outcome 1). A
standard market is one condition; a neg-risk event is a set of binary conditions, one per
candidate, prepared by the NegRiskAdapter, of which exactly one resolves YES.

Price model (log-odds of YES): ``permanent + transient``. A taker order of ``usdc`` moves both
by ``±usdc / liquidity / 2``; the transient half decays with a half-life of a few hours. So
informed flow pushes prices toward the truth for good, while a burst of panic selling overshoots
and then partly comes back — the pattern FADE_DEGEN bets on.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

TRANSIENT_HALF_LIFE_SECS = 4 * 3600.0
MIN_CENTS = 1
MAX_CENTS = 99


def logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


@dataclass(slots=True)
class Condition:
    """One binary condition and its mutable price state."""

    index: int  # position in the run's list; token keys are index*2 + outcome
    question_id: str
    neg_risk: bool
    event: int  # index of its market (a neg-risk event groups several conditions)
    true_p: float  # hidden probability that YES wins
    created_at: float  # unix seconds
    resolves_at: float  # unix seconds (may be after the end of the run: stays open)
    payouts: tuple[int, int]  # payout numerators (YES, NO) it resolves with
    liquidity: float  # USDC of taker flow that moves log-odds by 1
    permanent: float = 0.0
    transient: float = 0.0
    last_update: float = 0.0
    condition_id: str = ""  # filled in by the id step (keccak of oracle, question, slots)
    token_ids: tuple[int, int] = (0, 0)
    resolved: bool = False

    def yes_price(self, now: float) -> float:
        self._decay(now)
        return sigmoid(self.permanent + self.transient)

    def price(self, outcome: int, now: float) -> float:
        p = self.yes_price(now)
        return p if outcome == 0 else 1.0 - p

    def impact(self, outcome: int, buy: bool, usdc: float, now: float) -> None:
        """Move the price after a taker order of ``usdc`` on ``outcome``."""
        self._decay(now)
        direction = 1.0 if (outcome == 0) == buy else -1.0
        delta = direction * usdc / self.liquidity
        self.permanent = max(-5.0, min(5.0, self.permanent + delta / 2))
        self.transient = max(-3.0, min(3.0, self.transient + delta / 2))

    def _decay(self, now: float) -> None:
        if now > self.last_update:
            self.transient *= 0.5 ** ((now - self.last_update) / TRANSIENT_HALF_LIFE_SECS)
            self.last_update = now


def to_cents(price: float) -> int:
    """A price on Polymarket's 0.01 tick, kept inside (0, 1)."""
    return max(MIN_CENTS, min(MAX_CENTS, round(price * 100)))


def _question_id(rng: random.Random) -> str:
    return f"0x{rng.getrandbits(256):064x}"


def make_conditions(
    rng: random.Random, markets: int, neg_risk_share: float, start: float, span: float
) -> list[Condition]:
    """Conditions for ``markets`` markets, a ``neg_risk_share`` of them multi-outcome events.

    Each market opens in the first quarter of the run and resolves 20 % to 85 % of the run's
    length after its opening, so most resolve inside the run and a few stay open. The opening
    price is the truth blurred by about 0.7 log-odds: the market starts wrong and informed flow
    corrects it.
    """
    conditions: list[Condition] = []
    neg_quota = round(markets * neg_risk_share)
    kinds = [True] * neg_quota + [False] * (markets - neg_quota)
    rng.shuffle(kinds)
    for event, neg_risk in enumerate(kinds):
        created = start + rng.uniform(0.0, 0.25) * span
        resolves = created + rng.uniform(0.2, 0.85) * span
        if neg_risk:
            n = rng.randint(3, 5)
            weights = [rng.gammavariate(1.2, 1.0) for _ in range(n)]
            total = sum(weights)
            probs = [max(0.01, min(0.97, w / total)) for w in weights]
            winner = rng.choices(range(n), weights=probs)[0]
            liquidity = rng.uniform(3_000.0, 15_000.0)
            for i, p in enumerate(probs):
                payouts = (1, 0) if i == winner else (0, 1)
                conditions.append(
                    _condition(
                        rng, len(conditions), True, event, p, created, resolves, payouts, liquidity
                    )
                )
        else:
            p = rng.uniform(0.08, 0.92)
            ambiguous = rng.random() < 0.03  # a question that resolves 50/50
            won = rng.random() < p
            payouts = (1, 1) if ambiguous else (1, 0) if won else (0, 1)
            liquidity = rng.uniform(5_000.0, 30_000.0)
            conditions.append(
                _condition(
                    rng, len(conditions), False, event, p, created, resolves, payouts, liquidity
                )
            )
    return conditions


def _condition(
    rng: random.Random,
    index: int,
    neg_risk: bool,
    event: int,
    true_p: float,
    created: float,
    resolves: float,
    payouts: tuple[int, int],
    liquidity: float,
) -> Condition:
    start_logodds = logit(true_p) + rng.gauss(0.0, 0.7)
    return Condition(
        index=index,
        question_id=_question_id(rng),
        neg_risk=neg_risk,
        event=event,
        true_p=true_p,
        created_at=created,
        resolves_at=resolves,
        payouts=payouts,
        liquidity=liquidity,
        permanent=max(-4.0, min(4.0, start_logodds)),
        last_update=created,
    )
