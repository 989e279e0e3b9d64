"""The simulated traders: hidden skill, bankroll, activity and a trading style.

Skill is how well a wallet estimates a market's true probability: in log-odds its private
estimate is ``skill * truth + (1 - skill) * opinion`` plus a little noise, the opinion being
independent of the truth (skill 1 knows the truth, skill 0 knows nothing). Styles:

* ``skilled``      — good estimates, trades only with an edge, sizes with fractional Kelly;
* ``retail``       — unskilled, small, trades its noisy opinion;
* ``lucky``        — unskilled and rarely active: a handful of big-for-them bets, some of which
                     win by chance (the reputation score must not take them for skill);
* ``whale``        — unskilled but very large bankroll: big fills that look important;
* ``panic``        — unskilled, sells everything when the price falls well below its entry;
* ``market_maker`` — passive liquidity on the other side of every taker order (no opinion).

Only the truth file knows these; the chain data shows fills alone.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Literal

Style = Literal["skilled", "retail", "lucky", "whale", "panic", "market_maker"]

# Share of trading wallets per style (market makers are added on top).
STYLE_MIX: tuple[tuple[Style, float], ...] = (
    ("skilled", 0.12),
    ("retail", 0.40),
    ("lucky", 0.20),
    ("whale", 0.06),
    ("panic", 0.22),
)

# Skilled wallets have skill >= this; the score-quality report calls them "truly skilled".
SKILLED_THRESHOLD = 0.6


@dataclass(slots=True)
class Wallet:
    """One trader and its mutable state during the run (cash and holdings in base units)."""

    address: str
    style: Style
    skill: float
    bankroll: int  # USDC base units (6 decimals)
    activity: float  # taker decisions per day
    panic_drop: float = 0.0  # panic sellers: fraction of the entry price that triggers a sale
    cash: int = 0
    holdings: dict[int, int] = field(default_factory=dict)  # token key -> shares (base units)
    entry_cents: dict[int, int] = field(default_factory=dict)  # token key -> last entry price


def _address(rng: random.Random) -> str:
    return f"0x{rng.getrandbits(160):040x}"


def _usdc(rng: random.Random, low: float, high: float) -> int:
    """A bankroll drawn log-uniformly between low and high dollars, in base units."""
    import math

    dollars = math.exp(rng.uniform(math.log(low), math.log(high)))
    return int(dollars) * 1_000_000


# Per trading style: hidden skill range, bankroll range (USDC), activity range.
_PROFILES: dict[Style, tuple[tuple[float, float], tuple[int, int], tuple[float, float]]] = {
    "skilled": ((0.7, 0.97), (3_000, 30_000), (3.0, 8.0)),
    "retail": ((0.0, 0.35), (200, 4_000), (0.5, 3.0)),
    "lucky": ((0.0, 0.15), (300, 3_000), (0.15, 0.5)),
    "whale": ((0.0, 0.3), (60_000, 400_000), (0.5, 2.0)),
    "panic": ((0.05, 0.3), (500, 6_000), (1.0, 3.5)),
}


def _make(rng: random.Random, style: Style) -> Wallet:
    profile = _PROFILES.get(style)
    if profile is None:  # market maker: passive liquidity, no view, deep pockets
        return Wallet(_address(rng), style, 0.0, 10_000_000 * 1_000_000, 0.0)
    (skill_lo, skill_hi), (bank_lo, bank_hi), (act_lo, act_hi) = profile
    # Draw order (address, skill, bankroll, activity, panic drop) is part of the seed contract.
    wallet = Wallet(
        _address(rng),
        style,
        rng.uniform(skill_lo, skill_hi),
        _usdc(rng, bank_lo, bank_hi),
        rng.uniform(act_lo, act_hi),
    )
    if style == "panic":
        wallet.panic_drop = rng.uniform(0.12, 0.3)
    return wallet


def make_wallets(rng: random.Random, count: int) -> list[Wallet]:
    """``count`` trading wallets in STYLE_MIX proportions, then a few market makers.

    Styles are assigned by exact quota (then shuffled) so that even small runs contain every
    style.
    """
    styles: list[Style] = []
    for style, share in STYLE_MIX:
        styles.extend([style] * max(1, round(share * count)))
    styles = styles[:count]
    while len(styles) < count:
        styles.append("retail")
    rng.shuffle(styles)
    wallets = [_make(rng, style) for style in styles]
    wallets.extend(_make(rng, "market_maker") for _ in range(max(3, count // 40)))
    for wallet in wallets:
        wallet.cash = wallet.bankroll
    return wallets
