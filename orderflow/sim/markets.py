"""Simulated markets: a hidden probability that is a martingale toward the outcome.

A *condition* is one binary question (two outcome tokens, YES = outcome 0, NO = outcome 1). A
standard market is one condition; a neg-risk event is a set of binary conditions, one per
candidate, prepared by the NegRiskAdapter, of which exactly one resolves YES.

The outcome is drawn first from the prior (``true_p``). Information then arrives as a noisy
signal whose drift depends on the outcome (``dZ = mu * [won] dt + dW``), and the hidden
probability is the Bayesian posterior given the signal so far, hour by hour: a martingale that
starts at the prior and ends near 0 or 1. For a neg-risk event every leg gets its own signal
and the posteriors are normalised together, so the legs always sum to 1.

The *public* probability, the one market makers without skill quote around, is the same
posterior ``lag`` hours ago: the posterior given less information, hence calibrated too (a
public price of 0.2 wins 20 % of the time). Skilled wallets see part of the gap between the
public and the current probability (see :mod:`orderflow.sim.agents`).

A *theme* (``Population.theme_share``, none by default) is a common factor: a share of the
standard markets whose outcomes share one latent draw F ~ N(0, 1), drawn once per world (a
party's many races in one election, a crypto rally resolving every "above X" market). Market i
resolves YES when ``s_i (sqrt(rho) F + sqrt(1 - rho) e_i) > Phi^-1(1 - p_i)`` (a one-factor
Gaussian copula; ``s_i`` = +1 or -1, the side of the market the factor's "up" favours): its own
P(YES) is still its prior p_i, so its price, the posterior given its own signal, is calibrated
for a trader who does not know F, while given F nearly every theme market goes the same way.
The theme's markets resolve at uniform times in a window after one moment
(``Population.theme_window_hours``: six hours by default, the factor revealed at once; two
weeks for an election whose races are called one by one).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from statistics import NormalDist

HOUR = 3600.0
MIN_CENTS = 1
MAX_CENTS = 99
_LOGIT_CAP = 7.0  # posteriors kept inside [0.0009, 0.9991]


def logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


@dataclass(slots=True)
class Condition:
    """One binary condition: its hidden path and its run-time state."""

    index: int  # position in the run's list; token keys are index*2 + outcome
    question_id: str
    neg_risk: bool
    event: int  # index of its market (a neg-risk event groups several conditions)
    true_p: float  # prior P(YES) the outcome was drawn from
    created_at: float  # unix seconds
    resolves_at: float  # unix seconds (may be after the end of the run: stays open)
    payouts: tuple[int, int]  # payout numerators (YES, NO) it resolves with
    path: list[float]  # hidden P(YES) at created_at + k hours
    lag_hours: int  # the public probability is the path this many hours ago
    depth: int  # market makers' size per price level, shares (base units)
    market_id: str = ""  # neg-risk: the NegRiskAdapter's market id (question id, low byte 0)
    condition_id: str = ""  # filled in by the id step (keccak of oracle, question, slots)
    token_ids: tuple[int, int] = (0, 0)
    resolved: bool = False
    close_cents: int = 0  # YES price of the last trade on the book (0: none yet)
    theme_side: int = -1  # a theme market: the outcome the factor's "up" favours; else -1

    def _at(self, now: float, lag: int) -> float:
        k = int((now - self.created_at) // HOUR) - lag
        return self.path[max(0, min(k, len(self.path) - 1))]

    def truth(self, now: float) -> float:
        """Hidden P(YES) given everything known at ``now``."""
        return self._at(now, 0)

    def public(self, now: float) -> float:
        """P(YES) given the public information at ``now`` (the truth ``lag_hours`` ago)."""
        return self._at(now, self.lag_hours)

    def close_price(self, now: float) -> float:
        """Last traded YES price, or the public probability when nothing traded."""
        return self.close_cents / 100 if self.close_cents else round(self.public(now), 2)


def to_cents(price: float) -> int:
    """A price on Polymarket's 0.01 tick, kept inside (0, 1)."""
    return max(MIN_CENTS, min(MAX_CENTS, round(price * 100)))


def _hex32(rng: random.Random) -> str:
    return f"0x{rng.getrandbits(256):064x}"


def _posterior_paths(
    rng: random.Random, priors: list[float], winner: int, hours: int, information: float
) -> list[list[float]]:
    """Hourly posteriors of "leg i wins" for legs with ``priors``, given per-leg signals.

    Leg i's signal drifts by ``mu`` per hour when it is the winner; the posterior of leg i is
    proportional to ``prior_i * exp(mu * Z_i)`` (one leg: the usual two-hypothesis likelihood
    ratio ``exp(mu Z - mu^2 t / 2)``). ``information`` = mu^2 * hours: how sure the market is
    by the end (about 2: still unsure; 12: nearly certain).
    """
    mu = math.sqrt(information / max(1, hours))
    legs = len(priors)
    z = [0.0] * legs
    paths: list[list[float]] = [[p] for p in priors]
    logs = [math.log(p) for p in priors]
    for k in range(1, hours + 1):
        for i in range(legs):
            z[i] += rng.gauss(mu if i == winner else 0.0, 1.0)
        if legs == 1:
            lp = logs[0] - math.log1p(-priors[0]) + mu * z[0] - mu * mu * k / 2
            paths[0].append(sigmoid(max(-_LOGIT_CAP, min(_LOGIT_CAP, lp))))
            continue
        weights = [logs[i] + mu * z[i] for i in range(legs)]
        top = max(weights)
        expw = [math.exp(x - top) for x in weights]
        total = sum(expw)
        for i in range(legs):
            paths[i].append(min(0.9991, max(0.0009, expw[i] / total)))
    return paths


@dataclass(frozen=True, slots=True)
class Theme:
    """A common factor: its draw, when it is revealed, and how strongly it binds."""

    share: float  # of the standard markets
    correlation: float  # rho of the copula
    factor: float  # F ~ N(0, 1): > 0 the "up" side wins most theme markets
    resolves_at: float  # unix seconds: the theme's markets resolve in the window after it
    window_hours: float  # the window (Population.theme_window_hours)


def draw_theme(
    rng: random.Random,
    share: float,
    correlation: float,
    window_hours: float,
    start: float,
    span: float,
) -> Theme | None:
    """The world's theme (None without one: no random number is drawn)."""
    if share <= 0:
        return None
    factor = rng.gauss(0.0, 1.0)
    return Theme(share, correlation, factor, start + rng.uniform(0.55, 0.8) * span, window_hours)


def make_conditions(
    rng: random.Random,
    markets: int,
    neg_risk_share: float,
    start: float,
    span: float,
    theme: Theme | None = None,
) -> list[Condition]:
    """Conditions for ``markets`` markets, a ``neg_risk_share`` of them multi-outcome events.

    Each market opens in the first quarter of the run and resolves 20 % to 85 % of the run's
    length after its opening, so most resolve inside the run and a few stay open. With a
    ``theme``, each standard market belongs to it with probability ``theme.share`` (module
    docstring); without one, the same random numbers are drawn as before themes existed.
    """
    conditions: list[Condition] = []
    neg_quota = round(markets * neg_risk_share)
    kinds = [True] * neg_quota + [False] * (markets - neg_quota)
    rng.shuffle(kinds)
    cut = NormalDist().inv_cdf
    for event, neg_risk in enumerate(kinds):
        created = start + rng.uniform(0.0, 0.25) * span
        resolves = created + rng.uniform(0.2, 0.85) * span
        hours = max(1, int((resolves - created) // HOUR))
        information = rng.uniform(2.0, 9.0)
        lag = rng.randint(12, 48)
        if neg_risk:
            n = rng.randint(3, 6)
            weights = [rng.gammavariate(1.2, 1.0) + 0.05 for _ in range(n)]
            total = sum(weights)
            priors = [w / total for w in weights]
            winner = rng.choices(range(n), weights=priors)[0]
            paths = _posterior_paths(rng, priors, winner, hours, information)
            depth = rng.randint(100, 600)
            # NegRiskIdLib: a market id has a zero low byte; question i's id is market id + i.
            market_id = rng.getrandbits(256) & ~0xFF
            for i, p in enumerate(priors):
                payouts = (1, 0) if i == winner else (0, 1)
                conditions.append(
                    Condition(
                        len(conditions),
                        f"0x{market_id + i:064x}",
                        True,
                        event,
                        p,
                        created,
                        resolves,
                        payouts,
                        paths[i],
                        lag,
                        depth * 1_000_000,
                        market_id=f"0x{market_id:064x}",
                    )
                )
        else:
            p = rng.uniform(0.05, 0.95)
            theme_side = -1
            if theme is not None and rng.random() < theme.share:
                theme_side = 0 if rng.random() < 0.5 else 1  # the side "up" favours
                z = math.sqrt(theme.correlation) * theme.factor + math.sqrt(
                    1.0 - theme.correlation
                ) * rng.gauss(0.0, 1.0)
                won = (z if theme_side == 0 else -z) > cut(1.0 - p)
                resolves = theme.resolves_at + rng.uniform(0.0, theme.window_hours) * HOUR
                hours = max(1, int((resolves - created) // HOUR))
            else:
                won = rng.random() < p
            ambiguous = rng.random() < 0.02  # a question that resolves 50/50
            paths = _posterior_paths(rng, [p], 0 if won else -1, hours, information)
            payouts = (1, 1) if ambiguous else (1, 0) if won else (0, 1)
            conditions.append(
                Condition(
                    len(conditions),
                    _hex32(rng),
                    False,
                    event,
                    p,
                    created,
                    resolves,
                    payouts,
                    paths[0],
                    lag,
                    rng.randint(200, 1500) * 1_000_000,
                    theme_side=theme_side,
                )
            )
    return conditions
